// PortalClient::create validates the configuration before any network IO;
// the network paths are covered by tests/e2e/portal against a mock portal.
#include <gtest/gtest.h>

#include "controlplane/portal/portal_client.hpp"

using namespace relay;
using namespace relay::portal;

namespace {
PortalConfig config(std::string url) {
  PortalConfig c;
  c.ws_url = std::move(url);
  c.token = "tok-s3cret";
  c.stamp_secret = "stamp-s3cret";
  return c;
}
}  // namespace

TEST(PortalClientSetup, WsUrlIsRefusedWithoutAllowInsecureWsAndTheErrorNamesTheFlag) {
  boost::asio::io_context io;
  auto client = PortalClient::create(io, config("ws://127.0.0.1:4000"), {}, {});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().kind, SetupError::Kind::BadUrl);
  EXPECT_NE(client.error().message.find("--allow-insecure-ws"), std::string::npos) << client.error().message;
}

TEST(PortalClientSetup, WsUrlIsAcceptedWithAllowInsecureWs) {
  boost::asio::io_context io;
  auto c = config("ws://127.0.0.1:4000");
  c.allow_insecure_ws = true;
  EXPECT_TRUE(PortalClient::create(io, c, {}, {}).ok());
}

TEST(PortalClientSetup, UnreadableCaFileIsASetupError) {
  boost::asio::io_context io;
  auto c = config("wss://portal.example.com");
  c.ca_file = "/nonexistent/ca.pem";
  auto client = PortalClient::create(io, c, {}, {});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().kind, SetupError::Kind::BadCaFile);
}

TEST(PortalClientSetup, SetupErrorsNeverQuoteTheTokenOrUserInfo) {
  boost::asio::io_context io;
  auto client = PortalClient::create(io, config("https://user:pw@portal.example.com/?token=abc"), {}, {});
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message.find("pw@"), std::string::npos) << client.error().message;
  EXPECT_EQ(client.error().message.find("abc"), std::string::npos) << client.error().message;
}

TEST(PortalClientSetup, StoppingAClientThatNeverRanLeavesNothingBehind) {
  boost::asio::io_context io;
  int events = 0;
  auto c = config("ws://192.0.2.1:9");  // never contacted: stopped before the io_context runs
  c.allow_insecure_ws = true;
  auto client = PortalClient::create(io, c, {}, {[&](const SessionEvent&) { ++events; }, {}, {}});
  ASSERT_TRUE(client.ok());
  (*client)->start();
  (*client)->stop();
  io.run();
  EXPECT_EQ(events, 0);
}
