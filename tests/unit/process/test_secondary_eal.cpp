// The control plane's EAL command line: a quiet secondary of the data
// plane's --file-prefix that never probes a device.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "controlplane/process/secondary_eal.hpp"

namespace relay::process {
namespace {

bool has(const std::vector<std::string>& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}
size_t index_of(const std::vector<std::string>& args, const std::string& arg) {
  return static_cast<size_t>(std::find(args.begin(), args.end(), arg) - args.begin());
}

TEST(SecondaryEal, AttachesAsASecondaryOfTheSameFilePrefixWithoutTouchingPci) {
  RelayConfig config;
  config.eal.file_prefix = "turn-demo";
  config.eal.pci_allowlist = {"0000:3b:00.0"};
  auto args = secondary_eal_arguments(config);
  ASSERT_FALSE(args.empty());
  EXPECT_EQ(args[0], "relay-controlplane");
  EXPECT_TRUE(has(args, "--proc-type=secondary"));
  EXPECT_TRUE(has(args, "--no-pci"));
  EXPECT_FALSE(has(args, "0000:3b:00.0"));
  ASSERT_LT(index_of(args, "--file-prefix") + 1, args.size());
  EXPECT_EQ(args[index_of(args, "--file-prefix") + 1], "turn-demo");
}

TEST(SecondaryEal, EalLogsOnlyErrorsAndLeavesTelemetryToThePrimary) {
  auto args = secondary_eal_arguments(RelayConfig{});
  EXPECT_TRUE(has(args, "--log-level=lib.eal:error"));
  EXPECT_TRUE(has(args, "--no-telemetry"));
}

TEST(SecondaryEal, TheOperatorsExtraArgumentsComeLastAndSoWin) {
  RelayConfig config;
  config.eal.extra_args = {"--log-level=lib.eal:debug"};
  auto args = secondary_eal_arguments(config);
  EXPECT_EQ(args.back(), "--log-level=lib.eal:debug");
  EXPECT_LT(index_of(args, "--log-level=lib.eal:error"), args.size() - 1);
}

}  // namespace
}  // namespace relay::process
