// Portal log lines through common/log, with the portal token and
// stamp secret kept out of every line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "controlplane/process/portal_logging.hpp"

namespace relay::process {
namespace {

struct PortalLoggingTest : ::testing::Test {
  std::string out;
  void SetUp() override {
    log::set_output(&out);
    log::set_format(log::Format::Text);
    log::set_level(log::Level::Debug);
  }
  void TearDown() override {
    log::set_output(stderr);
    log::set_level(log::Level::Info);
  }
  bool logged(std::string_view text) const { return out.find(text) != std::string::npos; }
};

TEST_F(PortalLoggingTest, SecretNamedFieldsArePrintedAsRedacted) {
  std::vector<portal::LogField> fields{{"token", "tok-SECRET-1"}, {"stamp_secret", "st-SECRET-2"},
                                       {"portal_token", "pt-SECRET-3"}, {"reason", "timeout"}};
  log_portal(portal::LogLevel::Warn, "join failed", fields);
  EXPECT_FALSE(logged("SECRET")) << out;
  EXPECT_TRUE(logged("<redacted>")) << out;
  EXPECT_TRUE(logged("timeout")) << out;
  EXPECT_TRUE(logged("portal")) << out;
}

TEST_F(PortalLoggingTest, AUrlLosesItsTokenQueryParameter) {
  std::vector<portal::LogField> fields{{"url", "wss://portal.example/relay/websocket?token=tok-SECRET&x=1"}};
  log_portal(portal::LogLevel::Info, "connecting", fields);
  EXPECT_FALSE(logged("tok-SECRET")) << out;
  EXPECT_TRUE(logged("portal.example")) << out;
}

TEST_F(PortalLoggingTest, LevelsBelowTheConfiguredOneAreNotWritten) {
  log::set_level(log::Level::Warn);
  log_portal(portal::LogLevel::Info, "heartbeat", {});
  EXPECT_TRUE(out.empty()) << out;
  log_portal(portal::LogLevel::Error, "gave up", {});
  EXPECT_TRUE(logged("gave up")) << out;
}

TEST(PortalLogging, PortalLevelsMapOneToOne) {
  EXPECT_EQ(to_log_level(portal::LogLevel::Debug), log::Level::Debug);
  EXPECT_EQ(to_log_level(portal::LogLevel::Info), log::Level::Info);
  EXPECT_EQ(to_log_level(portal::LogLevel::Warn), log::Level::Warn);
  EXPECT_EQ(to_log_level(portal::LogLevel::Error), log::Level::Error);
  EXPECT_TRUE(is_secret_field("token"));
  EXPECT_TRUE(is_secret_field("auth_secret"));
  EXPECT_FALSE(is_secret_field("tokens_sent"));
}

}  // namespace
}  // namespace relay::process
