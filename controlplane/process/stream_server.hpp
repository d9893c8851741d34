// TURN over TCP and TLS (RFC 8656 §3.1, ARCHITECTURE.md "Streams"): the
// kernel terminates TCP for the relay addresses (the data plane's TAP
// exception path); this server accepts on them, delimits each stream with
// core::StreamFramer and hands each message where a UDP datagram of the same
// kind would go:
//
//   STUN other than a Send indication  -> core::Server::handle_client_input
//                                         (transport Tcp or Tls in the 5-tuple)
//   Send indication, ChannelData       -> "from_cp" as PacketKind::StreamInput:
//                                         the data plane relays it to the peer
//   the Server's responses (Dispatcher) -> the connection of their 5-tuple
//   what peers relay ("to_stream")     -> the connection of its 5-tuple
//
// It runs on the control loop's io_context, which the loop polls every turn:
// nothing here blocks, and one stream's trouble never holds another back.
// Every connection is bounded: one frame of read buffer (kMaxStreamFrame),
// stream.max_buffered_bytes of write queue (what peers relay beyond it is
// dropped and counted; responses always queue, and a connection over the
// limit is not read, so its own requests cannot grow the queue further),
// and timers for the TLS handshake, idleness without an allocation and a
// reader that stays over the limit. Each close has a counted reason.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/net_types.hpp"
#include "common/result.hpp"
#include "common/time.hpp"
#include "controlplane/core/fast_hash.hpp"
#include "controlplane/core/server.hpp"
#include "controlplane/process/dispatcher.hpp"

namespace relay::process {

// Why a connection ended; one row each, named for logs and metrics.
enum class StreamClose : uint8_t {
  HandshakeTimeout,    // TLS handshake not done within stream.handshake_timeout
  HandshakeFailed,     // TLS handshake error (not TLS, no shared version or cipher...)
  IdleTimeout,         // no complete message for stream.idle_timeout, and no allocation
  TooManyConnections,  // stream.max_connections reached: closed at accept
  TooManyFromSource,   // stream.max_connections_per_source reached: closed at accept
  Garbage,             // neither STUN nor ChannelData (core::FramingError)
  Oversized,           // a frame beyond core::kMaxStreamFrame
  PeerClosed,          // EOF or a socket error
  SlowReader,          // over stream.max_buffered_bytes for kSlowReaderGrace
  Shutdown,            // the control plane stops
};
constexpr size_t kStreamCloseCount = 10;
constexpr std::array<std::string_view, kStreamCloseCount> kStreamCloseNames = {
    "handshake_timeout", "handshake_failed", "idle_timeout", "max_connections", "max_connections_per_source",
    "garbage",           "oversized",        "peer_closed",  "slow_reader",     "shutdown"};
constexpr std::string_view to_string(StreamClose c) { return kStreamCloseNames[static_cast<size_t>(c)]; }

// What was not delivered, by reason.
enum class StreamDrop : uint8_t {
  Backpressure,  // a relayed datagram found the client's queue over stream.max_buffered_bytes
  NoConnection,  // a response or relayed datagram for a stream that is gone
  FromCpFull,    // a client's ChannelData / Send indication found from_cp (or the mbufs) full
  FromCpRefused, // ... or could not fit one mbuf
};
constexpr size_t kStreamDropCount = 4;
constexpr std::array<std::string_view, kStreamDropCount> kStreamDropNames = {"backpressure", "no_connection",
                                                                              "from_cp_full", "from_cp_refused"};

struct StreamStats {
  uint64_t tcp_connections = 0;  // open now
  uint64_t tls_connections = 0;
  std::array<uint64_t, kStreamCloseCount> closed{};
  std::array<uint64_t, kStreamDropCount> dropped{};
  uint64_t messages_in = 0;   // frames read from clients
  uint64_t messages_out = 0;  // responses and relayed messages queued to clients
};

struct StreamLimits {
  std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
  std::chrono::nanoseconds handshake_timeout = std::chrono::seconds(10);
  uint32_t max_connections = 4096;
  uint32_t max_connections_per_source = 32;
  size_t max_buffered_bytes = 262144;
  // How long a connection may stay over max_buffered_bytes: a reader that
  // has not drained 256 KiB in 10 s takes under 200 kbit/s, less than one
  // video call, and is not going to catch up.
  std::chrono::nanoseconds slow_reader_grace = std::chrono::seconds(10);
  // How often the timeouts are looked at: their resolution.
  std::chrono::nanoseconds sweep_interval = std::chrono::milliseconds(250);
  static StreamLimits from(const StreamSection& s);
};

// One listening socket: a relay interface address at a stream port.
struct StreamListener {
  SocketAddress address;
  Transport transport;  // Tcp or Tls
};
// The interface addresses (relay.ipv4/ipv6.address, not the public ones) at
// every port of stream_ports(config); empty when streams are off.
std::vector<StreamListener> stream_listeners(const RelayConfig& config);

// A server context (TLS 1.2 minimum) with the certificate chain and key;
// the error names the file and OpenSSL's reason. Shared: each connection
// keeps the context it was accepted with across a reload.
using TlsContext = std::shared_ptr<boost::asio::ssl::context>;
Result<TlsContext, std::string> load_tls_context(const std::string& certificate_file, const std::string& key_file);

// --check and start: a configured certificate or key that does not load is
// a configuration error (exit 2) found before anything serves; the line
// names the configuration, the key, the file and OpenSSL's reason.
std::optional<std::string> tls_configuration_problem(const RelayConfig& config);

class StreamServer final : public StreamResponses {
 public:
  StreamServer(boost::asio::io_context& io, core::Server& server, DatagramRing& from_cp, StreamLimits limits,
               std::function<Instant()> now);
  ~StreamServer() override;
  StreamServer(const StreamServer&) = delete;
  StreamServer& operator=(const StreamServer&) = delete;

  // Binds (IP_FREEBIND: the address need not be up yet) and accepts on
  // each; `tls` is needed when a listener is Tls. Logs one line each.
  Result<void, std::string> listen(const std::vector<StreamListener>& listeners, TlsContext tls);
  // Where each listener is bound (port 0 resolved), in listen() order.
  [[nodiscard]] std::vector<SocketAddress> local_addresses() const;
  [[nodiscard]] bool serves_tls() const { return tls_ != nullptr; }
  // New TLS connections use `tls` from now on; existing ones keep theirs.
  void set_tls_context(TlsContext tls) { tls_ = std::move(tls); }

  // A response of the Server (Dispatcher): queued whatever the limit
  // (Accepted), or Gone when the stream has closed (counted no_connection).
  Delivery send_response(const ClientFiveTuple& to, std::span<const uint8_t> bytes) override;
  // What a peer relayed (to_stream): queued, or dropped and counted when
  // the stream is gone or its queue is over stream.max_buffered_bytes.
  void send_relayed(const ClientFiveTuple& to, std::span<const uint8_t> bytes);

  // Stops accepting and closes every connection, ending their allocations.
  void close_all(StreamClose why);
  [[nodiscard]] const StreamStats& stats() const { return stats_; }
  [[nodiscard]] const StreamLimits& limits() const { return limits_; }

 private:
  class Connection;
  struct Listener;
  using ConnectionPtr = std::shared_ptr<Connection>;

  void accept(Listener& l);
  void admit(Listener& l, boost::asio::ip::tcp::socket socket);
  void read(const ConnectionPtr& c);
  void on_read(const ConnectionPtr& c, size_t n);
  void take_frames(const ConnectionPtr& c);
  void enqueue(const ConnectionPtr& c, std::span<const uint8_t> bytes);
  void write(const ConnectionPtr& c);
  void close(const ConnectionPtr& c, StreamClose why);
  void count_close(StreamClose why, const SocketAddress& client);
  void sweep();

  boost::asio::io_context& io_;
  core::Server& server_;
  DatagramRing& from_cp_;
  StreamLimits limits_;
  std::function<Instant()> now_;
  TlsContext tls_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  // Keyed by connection_key: the data plane names a stream client on
  // to_stream by its address and transport, not by which of our TLS ports
  // it reached (its tables do not keep the listen port).
  std::unordered_map<ClientFiveTuple, ConnectionPtr, core::FiveTupleHash, core::FiveTupleEqual> connections_;
  std::unordered_map<IpAddress, uint32_t, core::IpHash, core::IpEqual> per_source_;
  boost::asio::steady_timer sweeper_;
  StreamStats stats_;
  log::RateLimiter warnings_{1, std::chrono::seconds(10)};
  // Handlers Asio still holds after this server is gone see it expired.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace relay::process
