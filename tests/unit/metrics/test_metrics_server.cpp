// The /metrics endpoint against a real TCP client on 127.0.0.1 (port 0:
// whatever the kernel picks, no fixed ports on the host).
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <thread>

#include "controlplane/metrics/metrics_server.hpp"

namespace relay::metrics {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class MetricsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = MetricsServer::start(io, *SocketAddress::parse("127.0.0.1:0"), [this] {
      ++renders;
      return std::string("relay_up 1\n");
    });
    ASSERT_TRUE(s.ok()) << s.error();
    server = std::move(s.value());
    endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), server->local_address().port);
    runner = std::thread([this] {
      auto guard = asio::make_work_guard(io);
      io.run();
    });
  }
  void TearDown() override {
    io.stop();
    if (runner.joinable()) runner.join();
  }

  // Sends `request` on a new connection and returns everything the server
  // wrote until it closed the connection.
  std::string exchange(const std::string& request) {
    asio::io_context client_io;
    tcp::socket socket(client_io);
    socket.connect(endpoint);
    asio::write(socket, asio::buffer(request));
    std::string reply;
    boost::system::error_code ec;
    asio::read(socket, asio::dynamic_buffer(reply), ec);
    return reply;
  }
  static std::string get(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n";
  }

  asio::io_context io;
  std::unique_ptr<MetricsServer> server;
  tcp::endpoint endpoint;
  std::thread runner;
  int renders = 0;
};

TEST_F(MetricsServerTest, GetMetricsAnswers200WithThePrometheusContentTypeAndTheRenderedText) {
  const std::string reply = exchange(get("/metrics"));
  EXPECT_TRUE(reply.starts_with("HTTP/1.1 200 OK\r\n")) << reply;
  EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << reply;
  EXPECT_TRUE(reply.ends_with("\r\n\r\nrelay_up 1\n")) << reply;
}

TEST_F(MetricsServerTest, AnotherPathOrMethodAnswers404WithoutRendering) {
  EXPECT_TRUE(exchange(get("/")).starts_with("HTTP/1.1 404 Not Found\r\n"));
  EXPECT_TRUE(exchange(get("/metricsx")).starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(exchange("DELETE /metrics HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n").starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(exchange(get("/metrics?x=1")).starts_with("HTTP/1.1 200"));
  io.stop();
  runner.join();
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(server->stats().not_found, 3u);
}

TEST_F(MetricsServerTest, GarbageGets400AndTheNextScrapeIsStillServed) {
  EXPECT_TRUE(exchange("\x16\x03\x01 this is not http\r\n\r\n").starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(exchange(get("/metrics")).starts_with("HTTP/1.1 200"));
}

TEST_F(MetricsServerTest, AnOversizedHeaderIsRefusedAndTheServerKeepsServing) {
  const std::string huge = "GET /metrics HTTP/1.1\r\nHost: relay\r\nX-Pad: " +
                           std::string(MetricsServer::kMaxHeaderBytes, 'a') + "\r\n\r\n";
  EXPECT_TRUE(exchange(huge).starts_with("HTTP/1.1 400"));
  EXPECT_TRUE(exchange(get("/metrics")).starts_with("HTTP/1.1 200"));
}

TEST_F(MetricsServerTest, ABodyOnARequestIsRefused) {
  EXPECT_TRUE(
      exchange("GET /metrics HTTP/1.1\r\nHost: r\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
          .starts_with("HTTP/1.1 400"));
}

TEST_F(MetricsServerTest, AKeepAliveConnectionIsServedTwice) {
  const std::string twice = "GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n" + get("/metrics");
  const std::string reply = exchange(twice);
  EXPECT_EQ(reply.find("HTTP/1.1 200"), 0u);
  EXPECT_NE(reply.find("HTTP/1.1 200", 10), std::string::npos) << reply;
}

TEST_F(MetricsServerTest, BindingAnAddressInUseIsAnErrorNamingTheAddress) {
  asio::io_context other;
  auto second = MetricsServer::start(other, server->local_address(), [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().find(server->local_address().to_string()), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("cannot bind"), std::string::npos) << second.error();
}

TEST(MetricsServerAddress, AnAddressThisHostDoesNotHaveIsAnError) {
  asio::io_context io;
  auto s = MetricsServer::start(io, *SocketAddress::parse("192.0.2.77:9100"), [] { return std::string(); });
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("192.0.2.77:9100"), std::string::npos) << s.error();
}

}  // namespace
}  // namespace relay::metrics
