// Secrets in logs: redacted values and URLs with their secrets masked.
#include <gtest/gtest.h>

#include "common/log.hpp"

using namespace relay;

TEST(Redaction, TheTokenQueryValueOfAPortalUrlIsMasked) {
  EXPECT_EQ(
      log::redact_url("wss://api.firezone.dev/relay/websocket?token=abc.def&ipv4=203.0.113.1"),
      "wss://api.firezone.dev/relay/websocket?token=<redacted>&ipv4=203.0.113.1");
  EXPECT_EQ(log::redact_url("wss://h/?ipv4=1&TOKEN=x&stamp_secret=y&password=z#frag"),
            "wss://h/?ipv4=1&TOKEN=<redacted>&stamp_secret=<redacted>&password=<redacted>#frag");
  EXPECT_EQ(log::redact_url("/relay/websocket?token="), "/relay/websocket?token=<redacted>");
}

TEST(Redaction, UserInfoIsMaskedAndEverythingElseKept) {
  EXPECT_EQ(log::redact_url("wss://relay:pa55@portal.example:8443/ws?x=1"),
            "wss://<redacted>@portal.example:8443/ws?x=1");
  EXPECT_EQ(log::redact_url("wss://portal.example/ws"), "wss://portal.example/ws");
  EXPECT_EQ(log::redact_url("ws://[2001:db8::1]:8080"), "ws://[2001:db8::1]:8080");
}

TEST(Redaction, AnyInputIsSafe) {
  for (const char* odd : {"", "?", "&&&", "token", "?token", "://", "://@", "a://b@c?d=e&token=f#",
                          "?=&=&token==="}) {
    auto out = log::redact_url(odd);
    EXPECT_EQ(out.find("token=f"), std::string::npos) << odd;
  }
  EXPECT_EQ(log::redact_url("?token==="), "?token=<redacted>");
}
