#include <gtest/gtest.h>

#include "controlplane/portal/portal_url.hpp"

using namespace relay;
using namespace relay::portal;

namespace {
PortalUrl parse_ok(std::string_view text, bool allow_insecure = false) {
  auto url = PortalUrl::parse(text, allow_insecure);
  EXPECT_TRUE(url.ok()) << text;
  return url.ok() ? url.value() : PortalUrl{};
}
UrlError parse_error(std::string_view text, bool allow_insecure = false) {
  auto url = PortalUrl::parse(text, allow_insecure);
  EXPECT_FALSE(url.ok()) << text;
  return url.ok() ? UrlError::Empty : url.error();
}
}  // namespace

TEST(PortalUrl, WssDefaultsToPort443AndDropsTrailingSlashes) {
  auto url = parse_ok("wss://portal.example.com/");
  EXPECT_TRUE(url.secure);
  EXPECT_EQ(url.host, "portal.example.com");
  EXPECT_EQ(url.port, 443);
  EXPECT_EQ(url.base_path, "");
  EXPECT_EQ(url.host_header(), "portal.example.com");
  EXPECT_FALSE(url.host_is_ip_literal());
}

TEST(PortalUrl, ExplicitPortAndPathPrefixAreKept) {
  auto url = parse_ok("WSS://portal.example.com:8443/api//");
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.base_path, "/api");
  EXPECT_EQ(url.host_header(), "portal.example.com:8443");
}

TEST(PortalUrl, Ipv6LiteralHostLosesItsBracketsButKeepsThemInTheHostHeader) {
  auto url = parse_ok("wss://[2001:db8::7]:9443");
  EXPECT_EQ(url.host, "2001:db8::7");
  EXPECT_EQ(url.port, 9443);
  EXPECT_TRUE(url.host_is_ip_literal());
  EXPECT_EQ(url.host_header(), "[2001:db8::7]:9443");
  EXPECT_EQ(parse_ok("wss://[2001:db8::7]").host_header(), "[2001:db8::7]");
}

TEST(PortalUrl, WsIsRefusedWithoutAllowInsecureAndTheErrorNamesTheFlag) {
  EXPECT_EQ(parse_error("ws://127.0.0.1:4000"), UrlError::InsecureWsRefused);
  EXPECT_NE(describe(UrlError::InsecureWsRefused).find("--allow-insecure-ws"), std::string_view::npos);
  auto url = parse_ok("ws://127.0.0.1:4000", /*allow_insecure=*/true);
  EXPECT_FALSE(url.secure);
  EXPECT_EQ(url.port, 4000);
  EXPECT_EQ(parse_ok("ws://192.0.2.1", true).port, 80);
}

TEST(PortalUrl, MalformedUrlsAreTypedErrors) {
  EXPECT_EQ(parse_error(""), UrlError::Empty);
  EXPECT_EQ(parse_error("https://portal.example.com"), UrlError::UnknownScheme);
  EXPECT_EQ(parse_error("portal.example.com"), UrlError::UnknownScheme);
  EXPECT_EQ(parse_error("wss://"), UrlError::MissingHost);
  EXPECT_EQ(parse_error("wss://:443"), UrlError::MissingHost);
  EXPECT_EQ(parse_error("wss://host:0"), UrlError::BadPort);
  EXPECT_EQ(parse_error("wss://host:65536"), UrlError::BadPort);
  EXPECT_EQ(parse_error("wss://host:"), UrlError::BadPort);
  EXPECT_EQ(parse_error("wss://host:44x"), UrlError::BadPort);
  EXPECT_EQ(parse_error("wss://[2001:db8::1"), UrlError::BadHost);
  EXPECT_EQ(parse_error("wss://[192.0.2.1]"), UrlError::BadHost);
  EXPECT_EQ(parse_error("wss://[2001:db8::1]x"), UrlError::BadHost);
  EXPECT_EQ(parse_error("wss://bad host"), UrlError::BadHost);
  EXPECT_EQ(parse_error("wss://user:pw@host"), UrlError::UnsupportedPart);
  EXPECT_EQ(parse_error("wss://host/?token=x"), UrlError::UnsupportedPart);
  EXPECT_EQ(parse_error("wss://host/#frag"), UrlError::UnsupportedPart);
  EXPECT_EQ(parse_error("wss://host/a b"), UrlError::BadPath);
}

TEST(ConnectTarget, AppendsRelayWebsocketThePortAndOnlyTheOtherParametersThatAreSet) {
  auto url = parse_ok("wss://portal.example.com/api");
  EXPECT_EQ(connect_target(url, "tok", {}), "/api/relay/websocket?token=tok&port=3478");
  EXPECT_EQ(connect_target(url, "", {}), "/api/relay/websocket?port=3478");
  EXPECT_EQ(connect_target(url, "tok", {IpAddress::parse("203.0.113.5"), IpAddress::parse("2001:db8::5"), 3479, "r 1"}),
            "/api/relay/websocket?token=tok&ipv4=203.0.113.5&ipv6=2001%3Adb8%3A%3A5&port=3479&name=r%201");
  EXPECT_EQ(connect_target(url, "", {std::nullopt, IpAddress::parse("2001:db8::5"), 443, ""}),
            "/api/relay/websocket?ipv6=2001%3Adb8%3A%3A5&port=443");
}

TEST(ConnectTarget, PercentEncodesEverythingButUnreservedCharacters) {
  EXPECT_EQ(percent_encode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(percent_encode("a b&c=d/e+f%"), "a%20b%26c%3Dd%2Fe%2Bf%25");
  EXPECT_EQ(percent_encode("\xff\x01"), "%FF%01");
}

TEST(RedactedUrl, HidesTokenAndStampSecretButKeepsTheRest) {
  auto url = parse_ok("wss://[2001:db8::7]:9443");
  const auto target = connect_target(url, "s3cr3t-token", {IpAddress::parse("203.0.113.5"), std::nullopt, 3478, ""});
  const auto full = full_url(url, target);
  EXPECT_EQ(full, "wss://[2001:db8::7]:9443/relay/websocket?token=s3cr3t-token&ipv4=203.0.113.5&port=3478");
  EXPECT_EQ(redacted_url(full), "wss://[2001:db8::7]:9443/relay/websocket?token=REDACTED&ipv4=203.0.113.5&port=3478");
  EXPECT_EQ(redacted_url("ws://h/p?a=1&TOKEN=x&stamp_secret=y&secret=z#f"),
            "ws://h/p?a=1&TOKEN=REDACTED&stamp_secret=REDACTED&secret=REDACTED#f");
}

TEST(RedactedUrl, HidesUserInfoAndSurvivesOddInput) {
  EXPECT_EQ(redacted_url("wss://user:password@host/x"), "wss://REDACTED@host/x");
  EXPECT_EQ(redacted_url("wss://host/a@b"), "wss://host/a@b");
  EXPECT_EQ(redacted_url(""), "");
  EXPECT_EQ(redacted_url("?"), "?");
  EXPECT_EQ(redacted_url("?token"), "?token");
  EXPECT_EQ(redacted_url("?token="), "?token=REDACTED");
  EXPECT_EQ(redacted_url("&&token=a&&"), "&&token=a&&");  // no query at all
}

TEST(UserAgent, IsRelaySlashVersion) {
  EXPECT_EQ(user_agent(), std::string("relay/") + RELAY_VERSION);
}
