// Firezone's relay reads its own environment names; an operator swapping
// this relay in keeps them. Each feeds one of our keys; our own name wins.
#include <gtest/gtest.h>

#include "tests/unit/config/config_test_support.hpp"

using namespace relay;
using namespace relay::test;
using namespace std::chrono_literals;

TEST(FirezoneNames, TokenApiUrlAndNameFeedThePortalSection) {
  auto cfg = load({}, {{"LISTEN_IP4_ADDR", "198.51.100.1/24"},
                       {"FIREZONE_TOKEN", "tok-1"},
                       {"FIREZONE_API_URL", "wss://api.example.com"},
                       {"FIREZONE_NAME", "relay-eu-1"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->relay.ipv4->address.to_string(), "198.51.100.1");
  EXPECT_EQ(cfg->portal.token, "tok-1");
  EXPECT_EQ(cfg->portal.ws_url, "wss://api.example.com");
  EXPECT_EQ(cfg->portal.name, "relay-eu-1");
}

TEST(FirezoneNames, AnHttpApiUrlBecomesItsWebSocketUrl) {
  auto https = load(kMinimal, {{"FIREZONE_TOKEN", "t"}, {"FIREZONE_API_URL", "https://api.example.com/x"}});
  ASSERT_TRUE(https.ok()) << https.error().message;
  EXPECT_EQ(https->portal.ws_url, "wss://api.example.com/x");
  auto http = load(kMinimal, {{"FIREZONE_TOKEN", "t"}, {"FIREZONE_API_URL", "http://127.0.0.1:4000"},
                              {"ALLOW_INSECURE_WS", "true"}});
  ASSERT_TRUE(http.ok()) << http.error().message;
  EXPECT_EQ(http->portal.ws_url, "ws://127.0.0.1:4000");
}

TEST(FirezoneNames, OurOwnVariableAndFlagWinOverTheAlias) {
  auto cfg = load(kMinimal, {{"FIREZONE_NAME", "theirs"}, {"PORTAL_NAME", "ours"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->portal.name, "ours");
  std::vector<std::string> args = kMinimal;
  args.insert(args.end(), {"--portal-name", "flag"});
  EXPECT_EQ(load(args, {{"FIREZONE_NAME", "theirs"}})->portal.name, "flag");
}

TEST(FirezoneNames, RustLogGivesOurLevelFromABareLevelOrTheRelaysOwnTarget) {
  auto level = [](const std::string& rust_log) {
    auto cfg = load(kMinimal, {{"RUST_LOG", rust_log}});
    EXPECT_TRUE(cfg.ok()) << rust_log << ": " << cfg.error().message;
    return cfg.ok() ? cfg->log.level : log::Level::Info;
  };
  EXPECT_EQ(level("debug"), log::Level::Debug);
  EXPECT_EQ(level("firezone_relay=trace,warn"), log::Level::Trace);
  EXPECT_EQ(level("warn,relay=debug"), log::Level::Debug);
  EXPECT_EQ(level("error,hyper=trace"), log::Level::Error);
  EXPECT_EQ(level("off"), log::Level::Error);
  EXPECT_EQ(level("hyper=trace"), log::Level::Info);  // nothing for us: our default
  EXPECT_EQ(error_of(kMinimal, {{"RUST_LOG", "loud"}}),
            "RUST_LOG: \"loud\" is not one of trace, debug, info, warn, error");
}

TEST(FirezoneNames, JsonLogAndLogFormatHumanChooseTheFormat) {
  EXPECT_EQ(load(kMinimal, {{"JSON_LOG", "true"}})->log.format, log::Format::Json);
  EXPECT_EQ(load(kMinimal, {{"JSON_LOG", "false"}})->log.format, log::Format::Text);
  std::vector<std::string> args = kMinimal;
  args.insert(args.end(), {"--log-format", "human"});
  EXPECT_EQ(load(args, {{"JSON_LOG", "true"}})->log.format, log::Format::Text);
}

TEST(FirezoneNames, ListenAndPublicAddressesOfBothFamilies) {
  auto cfg = load({}, {{"LISTEN_IP4_ADDR", "198.51.100.1/24"}, {"LISTEN_IP6_ADDR", "2001:db8::1/64"},
                       {"PUBLIC_IP4_ADDR", "203.0.113.1"}, {"PUBLIC_IP6_ADDR", "2001:db8:1::1"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->relay.ipv4->advertised().to_string(), "203.0.113.1");
  EXPECT_EQ(cfg->relay.ipv6->address.to_string(), "2001:db8::1");
  EXPECT_EQ(cfg->relay.ipv6->advertised().to_string(), "2001:db8:1::1");
}

TEST(FirezoneNames, HelpNamesEveryAlias) {
  auto help = load({"--help"}).error().message;
  for (const char* name : {"FIREZONE_TOKEN", "FIREZONE_API_URL", "FIREZONE_NAME", "HEALTH_CHECK_ADDR",
                           "LISTEN_IP4_ADDR", "LISTEN_IP6_ADDR", "PUBLIC_IP4_ADDR", "PUBLIC_IP6_ADDR", "RUST_LOG",
                           "JSON_LOG"})
    EXPECT_NE(help.find(name), std::string::npos) << name;
  EXPECT_NE(config_reference_markdown().find("`PORTAL_TOKEN`, `FIREZONE_TOKEN`"), std::string::npos);
}

TEST(PortalAndHealthDefaults, AsFirezoneRunsThem) {
  auto cfg = load(kMinimal);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->portal.token_placement, TokenPlacement::Both);
  EXPECT_FALSE(cfg->portal.name);
  EXPECT_EQ(cfg->portal.heartbeat_interval, 10s);
  EXPECT_EQ(cfg->portal.max_unanswered_heartbeats, 3u);
  EXPECT_EQ(cfg->portal.join_timeout, 5s);
  ASSERT_TRUE(cfg->health.address);
  EXPECT_EQ(cfg->health.address->to_string(), "0.0.0.0:8080");
  EXPECT_EQ(cfg->quotas.allocations_per_client_ip, 0u);  // an office behind one NAT is any size
}

TEST(PortalAndHealthDefaults, EveryPortalTimingAndTheHealthAddressAreKeys) {
  auto cfg = load(kMinimal, {{"HEALTH_CHECK_ADDR", "127.0.0.1:18080"}, {"PORTAL_TOKEN_PLACEMENT", "header"},
                             {"PORTAL_HEARTBEAT_INTERVAL", "20"}, {"PORTAL_MAX_UNANSWERED_HEARTBEATS", "5"},
                             {"PORTAL_JOIN_TIMEOUT", "7"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->health.address->to_string(), "127.0.0.1:18080");
  EXPECT_EQ(cfg->portal.token_placement, TokenPlacement::Header);
  EXPECT_EQ(cfg->portal.heartbeat_interval, 20s);
  EXPECT_EQ(cfg->portal.max_unanswered_heartbeats, 5u);
  EXPECT_EQ(cfg->portal.join_timeout, 7s);
  std::vector<std::string> off = kMinimal;
  off.insert(off.end(), {"--health-check-addr", ""});
  EXPECT_FALSE(load(off)->health.address);
  EXPECT_EQ(error_of(kMinimal, {{"PORTAL_HEARTBEAT_INTERVAL", "41"}}),
            "PORTAL_HEARTBEAT_INTERVAL: 41 is out of range 1..40");
  EXPECT_EQ(error_of(kMinimal, {{"PORTAL_TOKEN_PLACEMENT", "cookie"}}),
            "PORTAL_TOKEN_PLACEMENT: \"cookie\" is not one of header, query, both");
}
