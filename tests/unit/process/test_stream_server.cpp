// The stream server (process/stream_server) on 127.0.0.1 with a real
// core::Server, a real Dispatcher and fake rings: TURN over TCP and TLS as a
// client sees it, the back-pressure, the limits and every close reason.
// Clients are Asio sockets on their own io_context; the test's turn() plays
// the control loop (commands to the dispatcher, then the io_context).
#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "common/channel_data.hpp"
#include "controlplane/core/stream_framing.hpp"
#include "controlplane/process/dispatcher.hpp"
#include "controlplane/process/ring_codec.hpp"
#include "controlplane/process/stream_server.hpp"
#include "tests/unit/process/fake_rings.hpp"
#include "tests/unit/process/server_config.hpp"
#include "tests/unit/server/server_harness.hpp"

namespace relay::process::testing {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using Bytes = std::vector<uint8_t>;
using core::testing::Credentials;
using core::testing::Response;

constexpr int64_t kUnixNow = 1'700'000'000;

Instant clock_now() {
  return Instant::from_ns(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count()));
}

tcp::endpoint endpoint_of(const SocketAddress& s) {
  return {asio::ip::make_address(s.ip.to_string()), s.port};
}
SocketAddress address_of(const tcp::endpoint& e) {
  return SocketAddress{*IpAddress::parse(e.address().to_string()), e.port()};
}

// A client of the relay: plain TCP or TLS, reading everything into `received`.
struct Client {
  explicit Client(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;
  Bytes received;
  bool closed = false;
  bool handshake_done = false;
  boost::system::error_code handshake_error;
  std::vector<std::shared_ptr<Bytes>> writes;

  void connect(const SocketAddress& to, const char* from = "127.0.0.1", int receive_buffer = 0) {
    socket.open(tcp::v4());
    if (receive_buffer != 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
    socket.bind(tcp::endpoint(asio::ip::make_address(from), 0));
    socket.connect(endpoint_of(to));
  }
  void start_tls(ssl::context& ctx) {
    tls.emplace(socket, ctx);
    tls->async_handshake(ssl::stream_base::client, [this](const boost::system::error_code& ec) {
      handshake_done = true;
      handshake_error = ec;
      if (!ec) read();
    });
  }
  template <class F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else {
      f(socket);
    }
  }
  void read() {
    auto buffer = std::make_shared<std::array<uint8_t, 65536>>();
    with_stream([&](auto& s) {
      s.async_read_some(asio::buffer(*buffer), [this, buffer](const boost::system::error_code& ec, size_t n) {
        if (ec) {
          closed = true;
          return;
        }
        received.insert(received.end(), buffer->begin(), buffer->begin() + static_cast<ptrdiff_t>(n));
        read();
      });
    });
  }
  void send(Bytes bytes) {
    auto kept = std::make_shared<Bytes>(std::move(bytes));
    with_stream([&](auto& s) { asio::async_write(s, asio::buffer(*kept), [kept](auto, size_t) {}); });
  }
  SocketAddress local() const { return address_of(socket.local_endpoint()); }
  // The complete STUN messages received so far.
  std::vector<std::unique_ptr<Response>> responses() const {
    std::vector<std::unique_ptr<Response>> out;
    std::span<const uint8_t> rest(received);
    for (auto scan = core::scan_frame(rest); scan.status == core::FrameScan::Status::Complete;
         scan = core::scan_frame(rest)) {
      if (scan.kind == core::FrameKind::Stun)
        out.push_back(std::make_unique<Response>(Bytes(rest.begin(), rest.begin() + scan.message_size)));
      rest = rest.subspan(scan.frame_size);
    }
    return out;
  }
};

Bytes channel_data(uint16_t channel, const Bytes& data) {
  Bytes m(4 + data.size());
  write_channel_data_header(m.data(), ChannelNumber{channel}, static_cast<uint16_t>(data.size()));
  for (size_t i = 0; i < data.size(); ++i) m[4 + i] = data[i];  // (insert() trips gcc 12's -Warray-bounds)
  return m;
}

class StreamServerTest : public ::testing::Test {
 protected:
  asio::io_context io;
  asio::io_context client_io;
  core::Server server{two_family_server_config(), 7};
  FakeDatagramRing from_cp;
  FakeCommandRing worker;
  Dispatcher dispatcher{from_cp, {worker}};
  StreamLimits limits = [] {
    StreamLimits l;
    l.sweep_interval = std::chrono::milliseconds(20);
    return l;
  }();
  std::unique_ptr<StreamServer> streams;
  std::vector<std::unique_ptr<Client>> clients;
  Credentials creds = core::testing::portal_credentials(kUnixNow + 3600, "stream_salt", kTestSecret);
  uint8_t next_txid = 1;

  void start(Transport transport = Transport::Tcp, TlsContext tls = nullptr) {
    server.set_wall_clock(clock_now(), std::chrono::seconds(kUnixNow));
    streams = std::make_unique<StreamServer>(io, server, from_cp, limits, clock_now);
    auto listening = streams->listen({{*SocketAddress::parse("127.0.0.1:0"), transport}}, std::move(tls));
    ASSERT_TRUE(listening.ok()) << listening.error();
    dispatcher.set_streams(streams.get());
  }
  SocketAddress listen_address() const { return streams->local_addresses().at(0); }
  ClientFiveTuple tuple_of(const Client& c, Transport t = Transport::Tcp) const {
    return {ClientSocket{c.local()}, ListenSocket{listen_address()}, t};
  }

  // One turn of the control loop, and the clients' IO.
  void turn() {
    while (auto c = server.next_command()) dispatcher.perform(std::move(*c));
    dispatcher.flush(clock_now());
    if (io.stopped()) io.restart();
    io.poll();
    if (client_io.stopped()) client_io.restart();
    client_io.poll();
  }
  template <class Done>
  bool pump_until(Done done, std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      turn();
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return done();
  }
  void pump_for(std::chrono::milliseconds span) {
    pump_until([] { return false; }, span);
  }
  Client& connect(const char* from = "127.0.0.1", int receive_buffer = 0) {
    clients.push_back(std::make_unique<Client>(client_io));
    Client& c = *clients.back();
    c.connect(listen_address(), from, receive_buffer);
    if (receive_buffer == 0) c.read();
    return c;
  }
  uint64_t closed(StreamClose why) const { return streams->stats().closed[static_cast<size_t>(why)]; }
  uint64_t dropped(StreamDrop why) const { return streams->stats().dropped[static_cast<size_t>(why)]; }
  uint64_t open_connections() const { return streams->stats().tcp_connections + streams->stats().tls_connections; }

  // Allocate as `creds` (401 for the nonce, then success) over `c`; the
  // final response's error code (0: success).
  uint16_t allocate(Client& c) {
    const size_t before = c.responses().size();
    c.send(core::testing::request(stun::Method::Allocate, core::testing::txid(next_txid++), core::testing::udp(),
                                  nullptr));
    if (!pump_until([&] { return c.responses().size() > before; })) return 0xffff;
    auto challenge = std::move(c.responses().back());
    EXPECT_EQ(challenge->error_code(), 401);
    creds.nonce = challenge->nonce();
    c.send(core::testing::request(stun::Method::Allocate, core::testing::txid(next_txid++), core::testing::udp(),
                                  &creds));
    if (!pump_until([&] { return c.responses().size() > before + 1; })) return 0xfffe;
    return c.responses().back()->error_code();
  }
};

TEST_F(StreamServerTest, AllocateOverTcpGets401ThenSuccessAndTheAllocationIsTheTcpClients) {
  start();
  Client& c = connect();
  EXPECT_EQ(allocate(c), 0);
  ASSERT_EQ(c.responses().size(), 2u);
  EXPECT_FALSE(c.responses()[1]->relayed().empty());
  const auto views = server.allocations();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].client, tuple_of(c));
  EXPECT_TRUE(from_cp.sent.empty()) << "a stream client's responses never go to from_cp";
  EXPECT_EQ(streams->stats().tcp_connections, 1u);
}

TEST_F(StreamServerTest, ResponsesGoBackOnTheConnectionOfTheirRequest) {
  start();
  Client& a = connect();
  Client& b = connect();
  a.send(core::testing::request(stun::Method::Binding, core::testing::txid(0xA1), {}, nullptr));
  b.send(core::testing::request(stun::Method::Binding, core::testing::txid(0xB2), {}, nullptr));
  ASSERT_TRUE(pump_until([&] { return a.responses().size() == 1 && b.responses().size() == 1; }));
  EXPECT_EQ(a.responses()[0]->msg().transaction_id(), core::testing::txid(0xA1));
  EXPECT_EQ(b.responses()[0]->msg().transaction_id(), core::testing::txid(0xB2));
}

TEST_F(StreamServerTest, ATcpAndAUdpClientWithTheSameAddressHoldTwoAllocations) {
  start();
  Client& c = connect();
  ASSERT_EQ(allocate(c), 0);
  // The same address and listen socket over UDP, as the data plane would hand it in.
  const ClientFiveTuple tcp = tuple_of(c);
  Credentials udp_creds = creds;
  for (int attempt = 0; attempt < 2; ++attempt) {
    server.handle_client_input(core::testing::request(stun::Method::Allocate, core::testing::txid(next_txid++),
                                                      core::testing::udp(), attempt == 0 ? nullptr : &udp_creds),
                               tcp.client, tcp.listen, clock_now());
    turn();
    ASSERT_FALSE(from_cp.sent.empty());
    udp_creds.nonce = Response(from_cp.sent.back().bytes).nonce();
  }
  EXPECT_EQ(Response(from_cp.sent.back().bytes).error_code(), 0);
  EXPECT_EQ(server.allocation_count(), 2u);
  EXPECT_EQ(c.responses().size(), 2u) << "the UDP client's responses did not go to the stream";
}

TEST_F(StreamServerTest, ChannelDataAndSendIndicationsGoToFromCpAsStreamInputWithoutPadding) {
  start();
  Client& c = connect();
  const Bytes cd = channel_data(0x4001, {1, 2, 3, 4, 5});
  Bytes padded = cd;
  padded.resize(12, 0);
  const Bytes send = core::testing::indication(stun::Method::Send, [](stun::Builder& b) {
    b.add_xor_peer_address(*SocketAddress::parse("198.51.100.20:5000"));
    b.add_data(std::vector<uint8_t>{9, 9, 9});
  });
  Bytes stream = padded;
  stream.insert(stream.end(), send.begin(), send.end());
  c.send(stream);
  ASSERT_TRUE(pump_until([&] { return from_cp.metas.size() == 2; }));
  EXPECT_EQ(from_cp.sent[0].bytes, cd);
  EXPECT_EQ(from_cp.sent[1].bytes, send);
  for (const ring_abi::PacketMeta& meta : from_cp.metas) {
    EXPECT_EQ(meta.kind, ring_abi::PacketKind::StreamInput);
    EXPECT_EQ(ring_abi::transport_of(meta.remote), Transport::Tcp);
    EXPECT_EQ(ring_abi::from_wire(meta.remote), c.local());
    EXPECT_EQ(ring_abi::from_wire(meta.local), listen_address());
  }
  EXPECT_EQ(server.stats().drops[static_cast<size_t>(core::DropReason::NotStun)], 0u);
}

TEST_F(StreamServerTest, WhatPeersRelayIsWrittenToTheStreamOfItsClient) {
  start();
  Client& c = connect();
  ASSERT_TRUE(pump_until([&] { return open_connections() == 1; }));
  Bytes relayed = channel_data(0x4001, {7, 7, 7});
  relayed.resize(8, 0);  // the data plane pads it (RFC 8656 §12.5)
  // As the control loop hands a to_stream mbuf over, through the ring codec.
  const auto client = stream_client_of(stream_input_meta(tuple_of(c)));
  ASSERT_TRUE(client.has_value());
  streams->send_relayed(*client, relayed);
  ASSERT_TRUE(pump_until([&] { return c.received.size() == relayed.size(); }));
  EXPECT_EQ(c.received, relayed);
  // The data plane names a stream client by address and transport: its
  // tables do not keep which of our ports (5349, 443) the client reached.
  ClientFiveTuple other_port = *client;
  other_port.listen.value.port = static_cast<uint16_t>(other_port.listen.value.port + 1);
  streams->send_relayed(other_port, relayed);
  ASSERT_TRUE(pump_until([&] { return c.received.size() == 2 * relayed.size(); }));
  streams->send_relayed(tuple_of(c, Transport::Tls), relayed);
  EXPECT_EQ(dropped(StreamDrop::NoConnection), 1u);
}

TEST_F(StreamServerTest, RelayedDatagramsBeyondTheBufferLimitAreDroppedAndCounted) {
  limits.max_buffered_bytes = 4096;
  start();
  Client& c = connect();
  ASSERT_TRUE(pump_until([&] { return open_connections() == 1; }));
  const Bytes payload(1000, 0x40);
  // Without a turn in between nothing completes: 1 in flight, 3 queued, 6 dropped.
  for (int i = 0; i < 10; ++i) streams->send_relayed(tuple_of(c), payload);
  EXPECT_EQ(dropped(StreamDrop::Backpressure), 6u);
  ASSERT_TRUE(pump_until([&] { return c.received.size() == 4000; }));
  streams->send_relayed(tuple_of(c), payload);  // drained: room again
  ASSERT_TRUE(pump_until([&] { return c.received.size() == 5000; }));
  EXPECT_EQ(dropped(StreamDrop::Backpressure), 6u);
}

TEST_F(StreamServerTest, ResponsesAreQueuedEvenBeyondTheBufferLimit) {
  limits.max_buffered_bytes = 4096;
  start();
  Client& c = connect();
  ASSERT_TRUE(pump_until([&] { return open_connections() == 1; }));
  const Bytes big(3000, 0x01);
  EXPECT_EQ(streams->send_response(tuple_of(c), big), Delivery::Accepted);
  EXPECT_EQ(streams->send_response(tuple_of(c), big), Delivery::Accepted);  // 6000 > 4096: still queued
  streams->send_relayed(tuple_of(c), Bytes(100, 0x40));                     // a datagram is not
  EXPECT_EQ(dropped(StreamDrop::Backpressure), 1u);
  ASSERT_TRUE(pump_until([&] { return c.received.size() == 6000; }));
}

TEST_F(StreamServerTest, AClientThatNeverReadsIsClosedAsASlowReader) {
  limits.max_buffered_bytes = 4096;
  limits.slow_reader_grace = std::chrono::milliseconds(200);
  start();
  connect("127.0.0.1", 4096);  // never reads, small window
  ASSERT_TRUE(pump_until([&] { return open_connections() == 1; }));
  const ClientFiveTuple who = tuple_of(*clients.back());
  const Bytes payload(1000, 0x40);
  ASSERT_TRUE(pump_until(
      [&] {
        for (int i = 0; i < 50; ++i) streams->send_relayed(who, payload);
        return closed(StreamClose::SlowReader) == 1;
      },
      std::chrono::milliseconds(10000)));
  EXPECT_GT(dropped(StreamDrop::Backpressure), 0u);
  EXPECT_EQ(open_connections(), 0u);
}

TEST_F(StreamServerTest, ConnectionsBeyondThePerSourceLimitAreRefusedAtAccept) {
  limits.max_connections_per_source = 2;
  start();
  connect();
  connect();
  Client& third = connect();
  ASSERT_TRUE(pump_until([&] { return third.closed; }));
  EXPECT_EQ(closed(StreamClose::TooManyFromSource), 1u);
  EXPECT_EQ(open_connections(), 2u);
  Client& other = connect("127.0.0.2");  // another source still gets in
  other.send(core::testing::request(stun::Method::Binding, core::testing::txid(1), {}, nullptr));
  ASSERT_TRUE(pump_until([&] { return other.responses().size() == 1; }));
  EXPECT_EQ(open_connections(), 3u);
}

TEST_F(StreamServerTest, ConnectionsBeyondTheTotalLimitAreRefusedAtAccept) {
  limits.max_connections = 2;
  start();
  connect("127.0.0.1");
  connect("127.0.0.2");
  Client& third = connect("127.0.0.3");
  ASSERT_TRUE(pump_until([&] { return third.closed; }));
  EXPECT_EQ(closed(StreamClose::TooManyConnections), 1u);
  EXPECT_EQ(open_connections(), 2u);
}

TEST_F(StreamServerTest, ASilentConnectionWithoutAnAllocationIsClosedAfterTheIdleTimeout) {
  limits.idle_timeout = std::chrono::milliseconds(300);
  start();
  Client& silent = connect();
  Client& allocated = connect();
  ASSERT_EQ(allocate(allocated), 0);
  ASSERT_TRUE(pump_until([&] { return silent.closed; }));
  EXPECT_EQ(closed(StreamClose::IdleTimeout), 1u);
  pump_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(allocated.closed) << "a connection with an allocation lives as long as it";
  EXPECT_EQ(open_connections(), 1u);
}

TEST_F(StreamServerTest, GarbageClosesTheConnection) {
  start();
  Client& c = connect();
  c.send(Bytes{0xFF, 0x00, 0x00, 0x00});
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(closed(StreamClose::Garbage), 1u);
}

TEST_F(StreamServerTest, AFrameBeyondTheLimitClosesTheConnectionFromItsHeader) {
  start();
  Client& c = connect();
  c.send(Bytes{0x40, 0x00, 0xFF, 0xFF});  // ChannelData of 65535 bytes, none sent
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(closed(StreamClose::Oversized), 1u);
}

TEST_F(StreamServerTest, ClosingTheStreamEndsItsAllocationAtOnce) {
  start();
  Client& c = connect();
  ASSERT_EQ(allocate(c), 0);
  const AllocationPort port = server.allocations().at(0).port;
  c.socket.close();
  ASSERT_TRUE(pump_until([&] { return server.allocation_count() == 0; }));
  EXPECT_EQ(closed(StreamClose::PeerClosed), 1u);
  turn();
  const bool freed = std::any_of(worker.taken.begin(), worker.taken.end(), [&](const ring_abi::CommandMessage& m) {
    return m.kind == ring_abi::CommandKind::FreeAllocation && m.port == port.value;
  });
  EXPECT_TRUE(freed);
}

TEST_F(StreamServerTest, ResponsesForAStreamThatIsGoneAreCountedDrops) {
  start();
  Client& c = connect();
  const ClientFiveTuple who = tuple_of(c);
  c.send(core::testing::request(stun::Method::Binding, core::testing::txid(1), {}, nullptr));
  ASSERT_TRUE(pump_until([&] { return c.responses().size() == 1; }));
  c.socket.close();
  ASSERT_TRUE(pump_until([&] { return open_connections() == 0; }));
  server.handle_client_input(core::testing::request(stun::Method::Binding, core::testing::txid(2), {}, nullptr),
                             who.client, who.listen, clock_now(), Transport::Tcp);
  turn();
  EXPECT_EQ(dropped(StreamDrop::NoConnection), 1u);
  EXPECT_EQ(dispatcher.stats().datagrams.gone, 1u);
}

TEST_F(StreamServerTest, ClosingAllEndsEveryConnectionWithTheReasonGiven) {
  start();
  Client& c = connect();
  ASSERT_TRUE(pump_until([&] { return open_connections() == 1; }));
  streams->close_all(StreamClose::Shutdown);
  EXPECT_EQ(closed(StreamClose::Shutdown), 1u);
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
}

// TLS: a certificate made for the test with the openssl CLI.
class StreamTlsTest : public StreamServerTest {
 protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/stream_tls_XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    const std::string command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                                "-subj /CN=relay.test -keyout " + dir_ + "/key.pem -out " + dir_ +
                                "/cert.pem >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }
  static std::string cert() { return dir_ + "/cert.pem"; }
  static std::string key() { return dir_ + "/key.pem"; }
  void start_tls() {
    auto ctx = load_tls_context(cert(), key());
    ASSERT_TRUE(ctx.ok()) << ctx.error();
    start(Transport::Tls, ctx.value());
  }
  Client& connect_tls() {
    clients.push_back(std::make_unique<Client>(client_io));
    Client& c = *clients.back();
    c.connect(listen_address());
    c.start_tls(client_ctx);
    return c;
  }
  ssl::context client_ctx{ssl::context::tls_client};
  static inline std::string dir_;
};

TEST_F(StreamTlsTest, AllocateOverTlsSucceedsAndTheAllocationIsTheTlsClients) {
  start_tls();
  Client& c = connect_tls();
  ASSERT_TRUE(pump_until([&] { return c.handshake_done; }));
  ASSERT_FALSE(c.handshake_error) << c.handshake_error.message();
  EXPECT_EQ(allocate(c), 0);
  const auto views = server.allocations();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].client.transport, Transport::Tls);
  EXPECT_EQ(streams->stats().tls_connections, 1u);
}

TEST_F(StreamTlsTest, AClientThatNeverSendsClientHelloIsClosedAfterTheHandshakeTimeout) {
  limits.handshake_timeout = std::chrono::milliseconds(200);
  start_tls();
  Client& c = connect();  // TCP only: no ClientHello
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(closed(StreamClose::HandshakeTimeout), 1u);
}

TEST_F(StreamTlsTest, PlainStunToTheTlsPortFailsTheHandshake) {
  start_tls();
  Client& c = connect();
  c.send(core::testing::request(stun::Method::Binding, core::testing::txid(1), {}, nullptr));
  ASSERT_TRUE(pump_until([&] { return c.closed; }));
  EXPECT_EQ(closed(StreamClose::HandshakeFailed), 1u);
}

TEST_F(StreamTlsTest, TlsBelow12IsRefused) {
  start_tls();
  // A client that would speak TLS 1.1 (security level 0, so its own
  // OpenSSL does not refuse first): only the server's minimum stops it.
  SSL_CTX_set_security_level(client_ctx.native_handle(), 0);
  SSL_CTX_set_min_proto_version(client_ctx.native_handle(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(client_ctx.native_handle(), TLS1_1_VERSION);
  Client& c = connect_tls();
  ASSERT_TRUE(pump_until([&] { return c.handshake_done; }));
  EXPECT_TRUE(c.handshake_error);
  ASSERT_TRUE(pump_until([&] { return closed(StreamClose::HandshakeFailed) == 1; }));
}

TEST_F(StreamTlsTest, ANewContextServesNewConnectionsAndTheOldOnesKeepTheirs) {
  start_tls();
  Client& before = connect_tls();
  ASSERT_TRUE(pump_until([&] { return before.handshake_done; }));
  auto again = load_tls_context(cert(), key());
  ASSERT_TRUE(again.ok());
  streams->set_tls_context(again.value());
  Client& after = connect_tls();
  ASSERT_TRUE(pump_until([&] { return after.handshake_done; }));
  EXPECT_FALSE(after.handshake_error);
  before.send(core::testing::request(stun::Method::Binding, core::testing::txid(1), {}, nullptr));
  ASSERT_TRUE(pump_until([&] { return before.responses().size() == 1; }));
}

TEST(StreamTlsContext, ACertificateThatCannotBeReadNamesItsFile) {
  auto missing = load_tls_context("/nonexistent/cert.pem", "/nonexistent/key.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("relay.tls_certificate /nonexistent/cert.pem: "), std::string::npos)
      << missing.error();
}

TEST_F(StreamTlsTest, ACheckedConfigurationWhoseCertificateDoesNotParseIsAProblem) {
  RelayConfig config;
  config.source = "/etc/relay/relay.toml";
  EXPECT_FALSE(tls_configuration_problem(config)) << "no certificate, nothing to check";
  config.relay.tls_certificate = cert();
  config.relay.tls_private_key = key();
  EXPECT_FALSE(tls_configuration_problem(config));
  const std::string garbage = dir_ + "/garbage.pem";
  std::FILE* f = std::fopen(garbage.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f);
  std::fclose(f);
  config.relay.tls_certificate = garbage;
  const auto problem = tls_configuration_problem(config);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->find("/etc/relay/relay.toml: relay.tls_certificate " + garbage + ": "), 0u) << *problem;
  config.relay.tls_certificate = cert();
  config.relay.tls_private_key = cert();  // a certificate where the key should be
  const auto wrong_key = tls_configuration_problem(config);
  ASSERT_TRUE(wrong_key.has_value());
  EXPECT_NE(wrong_key->find("relay.tls_private_key " + cert()), std::string::npos) << *wrong_key;
}

TEST(StreamListeners, EveryRelayInterfaceAddressGetsTheTcpAndTlsPorts) {
  RelayConfig config;
  config.relay.ipv4 = RelayAddress{};
  config.relay.ipv4->address = *IpAddress::parse("203.0.113.1");
  config.relay.ipv4->public_address = IpAddress::parse("198.51.100.1");
  config.relay.ipv6 = RelayAddress{};
  config.relay.ipv6->address = *IpAddress::parse("2001:db8:1::1");
  EXPECT_TRUE(stream_listeners(config).empty()) << "streams are off by default";
  config.stream.enabled = true;
  config.relay.tls_certificate = "cert.pem";
  config.relay.tls_private_key = "key.pem";
  config.relay.alternate_tls_port = 443;
  const auto listeners = stream_listeners(config);
  ASSERT_EQ(listeners.size(), 6u);
  EXPECT_EQ(listeners[0].address, *SocketAddress::parse("203.0.113.1:3478"));  // the interface address, not the public
  EXPECT_EQ(listeners[0].transport, Transport::Tcp);
  EXPECT_EQ(listeners[1].address, *SocketAddress::parse("203.0.113.1:5349"));
  EXPECT_EQ(listeners[1].transport, Transport::Tls);
  EXPECT_EQ(listeners[2].address, *SocketAddress::parse("203.0.113.1:443"));
  EXPECT_EQ(listeners[3].address, *SocketAddress::parse("[2001:db8:1::1]:3478"));
}

}  // namespace
}  // namespace relay::process::testing
