// libbpf's own messages (net_af_xdp loads its program through it) reach
// the process's logger as its lines, not as libbpf's text on stderr.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "dataplane/process/bpf_log.hpp"
#include "tests/unit/observability/log_test_support.hpp"

namespace relay::dpprocess {
namespace {

using BpfLog = test::CapturedLog;

TEST_F(BpfLog, LibbpfWarningsBecomeJsonLinesOfTheDataPlane) {
  log::set_format(log::Format::Json);
  route_bpf_logs();
  // Opening a missing object file is a warning in libbpf's words.
  bpf_object* object = bpf_object__open_file("/nonexistent/relay-test.bpf.o", nullptr);
  EXPECT_EQ(libbpf_get_error(object), -ENOENT);
  const auto out = lines();
  ASSERT_FALSE(out.empty());
  for (const auto& line : out) {
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_EQ(line.back(), '}') << line;
    EXPECT_NE(line.find(R"("target":"dataplane")"), std::string::npos) << line;
    EXPECT_NE(line.find(R"("library":"libbpf")"), std::string::npos) << line;
  }
  // Its debug chatter first ("loading object from ..."), then the warning.
  const bool warned = std::ranges::any_of(out, [](const std::string& line) {
    return line.find(R"("level":"warn")") != std::string::npos &&
           line.find("/nonexistent/relay-test.bpf.o") != std::string::npos;
  });
  EXPECT_TRUE(warned) << lines_;
}

}  // namespace
}  // namespace relay::dpprocess
