#include "controlplane/process/stream_server.hpp"

#include <netinet/in.h>
#include <unistd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>

#include "controlplane/core/stream_framing.hpp"
#include "controlplane/process/ring_codec.hpp"

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  // linux/in6.h, since Linux 4.15; glibc 2.36 does not name it
#endif

namespace relay::process {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::string_view kTarget = "stream";
// After a failed accept (EMFILE, ENOBUFS): try again this much later rather
// than at once, which would spin inside io_context::poll().
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

SocketAddress from_endpoint(const tcp::endpoint& e) {
  const asio::ip::address a = e.address();
  if (a.is_v4()) return SocketAddress{IpAddress::v4(a.to_v4().to_bytes()), e.port()};
  return SocketAddress{IpAddress::v6(a.to_v6().to_bytes()), e.port()};
}

tcp::endpoint to_endpoint(const SocketAddress& s) {
  if (s.ip.is_v4()) {
    asio::ip::address_v4::bytes_type b;
    std::copy_n(s.ip.bytes.begin(), b.size(), b.begin());
    return {asio::ip::address_v4(b), s.port};
  }
  asio::ip::address_v6::bytes_type b;
  std::copy_n(s.ip.bytes.begin(), b.size(), b.begin());
  return {asio::ip::address_v6(b), s.port};
}

// RFC 8656 §11.2: the one STUN message a stream client sends that the data
// plane relays instead of the Server answering.
bool is_send_indication(std::span<const uint8_t> stun) { return stun.size() >= 2 && stun[0] == 0x00 && stun[1] == 0x16; }

}  // namespace

StreamLimits StreamLimits::from(const StreamSection& s) {
  StreamLimits l;
  l.idle_timeout = s.idle_timeout;
  l.handshake_timeout = s.handshake_timeout;
  l.max_connections = s.max_connections;
  l.max_connections_per_source = s.max_connections_per_source;
  l.max_buffered_bytes = s.max_buffered_bytes;
  return l;
}

std::vector<StreamListener> stream_listeners(const RelayConfig& config) {
  const StreamPorts ports = stream_ports(config);
  std::vector<StreamListener> out;
  for (const auto& relay : {config.relay.ipv4, config.relay.ipv6}) {
    if (!relay) continue;
    if (ports.tcp) out.push_back({SocketAddress{relay->address, *ports.tcp}, Transport::Tcp});
    for (uint16_t port : ports.tls) out.push_back({SocketAddress{relay->address, port}, Transport::Tls});
  }
  return out;
}

Result<TlsContext, std::string> load_tls_context(const std::string& certificate_file, const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 minimum (RFC 8656 §3.1 allows 1.2 and later; RFC 8996 retires
  // 1.0 and 1.1); no renegotiation, which only gives a client a way to
  // make us do handshakes without end.
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_RENEGOTIATION);
  // OpenSSL's own word for a file it cannot open is "system lib"; say why.
  for (const auto& [key, file] : {std::pair{"relay.tls_certificate", &certificate_file},
                                  std::pair{"relay.tls_private_key", &key_file}}) {
    if (::access(file->c_str(), R_OK) != 0) return Err{std::string(key) + " " + *file + ": " + std::strerror(errno)};
  }
  error_code ec;
  ctx->use_certificate_chain_file(certificate_file, ec);
  if (ec) return Err{"relay.tls_certificate " + certificate_file + ": " + ec.message()};
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return Err{"relay.tls_private_key " + key_file + ": " + ec.message()};
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
    return Err{"relay.tls_private_key " + key_file + ": does not match the certificate of " + certificate_file};
  return ctx;
}

std::optional<std::string> tls_configuration_problem(const RelayConfig& config) {
  if (!config.relay.tls_certificate || !config.relay.tls_private_key) return std::nullopt;
  auto loaded = load_tls_context(*config.relay.tls_certificate, *config.relay.tls_private_key);
  if (loaded) return std::nullopt;
  return (config.source.empty() ? std::string("config") : config.source) + ": " + loaded.error();
}

struct StreamServer::Listener {
  tcp::acceptor acceptor;
  Transport transport;
  asio::steady_timer retry;
  SocketAddress bound;
};

// Held by a shared_ptr, against the house preference for unique_ptr: Asio's
// pending handlers must keep the socket, the SSL state and the buffers they
// use alive until they run, which may be after close(); the server's map is
// the owner of record, the handlers only extend the lifetime.
class StreamServer::Connection {
 public:
  Connection(tcp::socket socket, TlsContext tls_context, ClientFiveTuple who, Instant now)
      : plain(std::move(socket)), tls(std::move(tls_context)), id(who), accepted(now), last_frame(now) {
    if (tls) tls_stream.emplace(std::move(plain), *tls);
  }
  template <class F>
  void with_stream(F&& f) {
    if (tls_stream) {
      f(*tls_stream);
    } else {
      f(plain);
    }
  }
  tcp::socket& socket() { return tls_stream ? tls_stream->next_layer() : plain; }
  [[nodiscard]] size_t queued() const { return pending.size() + in_flight.size(); }

  tcp::socket plain;
  TlsContext tls;  // the context it was accepted with, kept across a reload
  std::optional<ssl::stream<tcp::socket>> tls_stream;
  ClientFiveTuple id;
  core::StreamFramer framer;
  std::vector<uint8_t> pending;    // queued, not yet written
  std::vector<uint8_t> in_flight;  // being written
  Instant accepted;
  Instant last_frame;              // or the end of the handshake
  std::optional<Instant> over_limit_since;
  bool ready = false;  // TCP: at once; TLS: after the handshake
  bool reading = false;
  bool read_paused = false;  // over the limit: not read until it drains
  bool writing = false;
  bool closed = false;
};

StreamServer::StreamServer(asio::io_context& io, core::Server& server, DatagramRing& from_cp, StreamLimits limits,
                           std::function<Instant()> now)
    : io_(io), server_(server), from_cp_(from_cp), limits_(limits), now_(std::move(now)), sweeper_(io) {}

StreamServer::~StreamServer() { close_all(StreamClose::Shutdown); }

Result<void, std::string> StreamServer::listen(const std::vector<StreamListener>& listeners, TlsContext tls) {
  tls_ = std::move(tls);
  for (const StreamListener& l : listeners) {
    if (l.transport == Transport::Tls && !tls_) return Err{std::string("a TLS listener needs a certificate")};
    const tcp::endpoint endpoint = to_endpoint(l.address);
    auto listener = std::make_unique<Listener>(Listener{tcp::acceptor(io_), l.transport, asio::steady_timer(io_), {}});
    tcp::acceptor& a = listener->acceptor;
    const std::string where = "stream listener " + l.address.to_string() + " (" + std::string(to_string(l.transport)) + ")";
    error_code ec;
    if (a.open(endpoint.protocol(), ec); ec) return Err{where + ": socket: " + ec.message()};
    a.set_option(tcp::acceptor::reuse_address(true), ec);
    const int one = 1;
    // The data plane puts the relay addresses on its TAP interface, maybe
    // after this process starts: bind whether or not they are up yet.
    if (l.address.ip.is_v4()) {
      ::setsockopt(a.native_handle(), IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
    } else {
      a.set_option(asio::ip::v6_only(true), ec);
      ::setsockopt(a.native_handle(), IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof one);
    }
    if (a.bind(endpoint, ec); ec) return Err{where + ": cannot bind: " + ec.message()};
    if (a.listen(asio::socket_base::max_listen_connections, ec); ec) return Err{where + ": listen: " + ec.message()};
    listener->bound = from_endpoint(a.local_endpoint(ec));
    log::info(kTarget, "listening", {{"address", listener->bound}, {"transport", to_string(l.transport)}});
    listeners_.push_back(std::move(listener));
    accept(*listeners_.back());
  }
  if (!listeners_.empty()) {
    std::weak_ptr<int> alive = alive_;
    sweeper_.expires_after(limits_.sweep_interval);
    sweeper_.async_wait([this, alive](const error_code& ec) {
      if (!ec && !alive.expired()) sweep();
    });
  }
  return {};
}

std::vector<SocketAddress> StreamServer::local_addresses() const {
  std::vector<SocketAddress> out;
  for (const auto& l : listeners_) out.push_back(l->bound);
  return out;
}

void StreamServer::accept(Listener& l) {
  std::weak_ptr<int> alive = alive_;
  l.acceptor.async_accept([this, alive, &l](const error_code& ec, tcp::socket socket) {
    if (alive.expired() || !l.acceptor.is_open() || ec == asio::error::operation_aborted) return;
    if (!ec) {
      admit(l, std::move(socket));
      return accept(l);
    }
    warnings_.warn(now_(), "stream_accept", kTarget, "cannot accept a stream connection", {{"error", ec.message()}});
    l.retry.expires_after(kAcceptRetry);
    l.retry.async_wait([this, alive, &l](const error_code& wait_ec) {
      if (!wait_ec && !alive.expired()) accept(l);
    });
  });
}

namespace {
// A connection's key: its 5-tuple with the listen port left out (see
// connections_).
ClientFiveTuple connection_key(ClientFiveTuple id) {
  id.listen.value.port = 0;
  return id;
}
}  // namespace

void StreamServer::admit(Listener& l, tcp::socket socket) {
  error_code ec_remote, ec_local;
  const tcp::endpoint remote = socket.remote_endpoint(ec_remote);
  const tcp::endpoint local = socket.local_endpoint(ec_local);
  if (ec_remote || ec_local) return;  // reset before we looked: nothing to count
  const ClientFiveTuple id{ClientSocket{from_endpoint(remote)}, ListenSocket{from_endpoint(local)}, l.transport};
  // Refused at accept, before any state or TLS work is spent on them.
  if (connections_.size() >= limits_.max_connections) return count_close(StreamClose::TooManyConnections, id.client.value);
  const auto source = per_source_.find(id.client.value.ip);
  if (source != per_source_.end() && source->second >= limits_.max_connections_per_source)
    return count_close(StreamClose::TooManyFromSource, id.client.value);
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // relayed media: no Nagle delay
  const Instant now = now_();
  auto c = std::make_shared<Connection>(std::move(socket), l.transport == Transport::Tls ? tls_ : nullptr, id, now);
  // Taken only by the same client address and port on our other TLS port
  // (the kernel never reuses an open 4-tuple): the first one keeps it.
  if (!connections_.emplace(connection_key(id), c).second)
    return count_close(StreamClose::TooManyFromSource, id.client.value);
  ++per_source_[id.client.value.ip];
  ++(l.transport == Transport::Tls ? stats_.tls_connections : stats_.tcp_connections);
  if (!c->tls_stream) {
    c->ready = true;
    return read(c);
  }
  std::weak_ptr<int> alive = alive_;
  c->tls_stream->async_handshake(ssl::stream_base::server, [this, alive, c](const error_code& ec) {
    if (alive.expired() || c->closed) return;
    if (ec) return close(c, StreamClose::HandshakeFailed);
    c->ready = true;
    c->last_frame = now_();
    read(c);
    write(c);
  });
}

void StreamServer::read(const ConnectionPtr& c) {
  if (c->closed || c->reading) return;
  if (c->queued() > limits_.max_buffered_bytes) {
    c->read_paused = true;  // resumed by write() once the client reads
    return;
  }
  const std::span<uint8_t> space = c->framer.free_space();
  c->reading = true;
  std::weak_ptr<int> alive = alive_;
  c->with_stream([&](auto& stream) {
    stream.async_read_some(asio::buffer(space.data(), space.size()), [this, alive, c](const error_code& ec, size_t n) {
      if (alive.expired() || c->closed) return;
      c->reading = false;
      if (ec) return close(c, StreamClose::PeerClosed);
      on_read(c, n);
    });
  });
}

void StreamServer::on_read(const ConnectionPtr& c, size_t n) {
  c->framer.commit(n);
  take_frames(c);
  read(c);
}

// Reads: the connection's framer. Writes: the Server's input, from_cp.
void StreamServer::take_frames(const ConnectionPtr& c) {
  const Instant now = now_();
  while (!c->closed) {
    auto next = c->framer.next();
    if (!next) {
      return close(c, next.error() == core::FramingError::Garbage ? StreamClose::Garbage : StreamClose::Oversized);
    }
    if (!next.value()) return;
    const core::Frame frame = *next.value();
    ++stats_.messages_in;
    c->last_frame = now;
    if (frame.kind == core::FrameKind::ChannelData || is_send_indication(frame.bytes)) {
      switch (from_cp_.try_send(frame.bytes, stream_input_meta(c->id))) {
        case Delivery::Accepted: break;
        case Delivery::Busy: ++stats_.dropped[static_cast<size_t>(StreamDrop::FromCpFull)]; break;
        case Delivery::Refused:
        case Delivery::Gone: ++stats_.dropped[static_cast<size_t>(StreamDrop::FromCpRefused)]; break;
      }
      continue;
    }
    server_.handle_client_input(frame.bytes, c->id.client, c->id.listen, now, c->id.transport);
  }
}

Delivery StreamServer::send_response(const ClientFiveTuple& to, std::span<const uint8_t> bytes) {
  const auto it = connections_.find(connection_key(to));
  if (it == connections_.end()) {
    ++stats_.dropped[static_cast<size_t>(StreamDrop::NoConnection)];
    return Delivery::Gone;
  }
  enqueue(it->second, bytes);
  return Delivery::Accepted;
}

void StreamServer::send_relayed(const ClientFiveTuple& to, std::span<const uint8_t> bytes) {
  const auto it = connections_.find(connection_key(to));
  if (it == connections_.end()) {
    ++stats_.dropped[static_cast<size_t>(StreamDrop::NoConnection)];
    return;
  }
  const ConnectionPtr& c = it->second;
  if (c->queued() + bytes.size() > limits_.max_buffered_bytes) {
    ++stats_.dropped[static_cast<size_t>(StreamDrop::Backpressure)];
    if (!c->over_limit_since) c->over_limit_since = now_();
    return;
  }
  enqueue(c, bytes);
}

void StreamServer::enqueue(const ConnectionPtr& c, std::span<const uint8_t> bytes) {
  c->pending.insert(c->pending.end(), bytes.begin(), bytes.end());
  ++stats_.messages_out;
  if (c->queued() > limits_.max_buffered_bytes && !c->over_limit_since) c->over_limit_since = now_();
  write(c);
}

// One write in flight per connection, of everything queued when it began.
void StreamServer::write(const ConnectionPtr& c) {
  if (c->closed || !c->ready || c->writing || c->pending.empty()) return;
  std::swap(c->in_flight, c->pending);
  c->writing = true;
  std::weak_ptr<int> alive = alive_;
  c->with_stream([&](auto& stream) {
    asio::async_write(stream, asio::buffer(c->in_flight), [this, alive, c](const error_code& ec, size_t) {
      if (alive.expired() || c->closed) return;
      c->writing = false;
      c->in_flight.clear();
      if (ec) return close(c, StreamClose::PeerClosed);
      if (c->queued() <= limits_.max_buffered_bytes) {
        c->over_limit_since.reset();
        if (c->read_paused) {
          c->read_paused = false;
          read(c);
        }
      }
      write(c);
    });
  });
}

void StreamServer::count_close(StreamClose why, const SocketAddress& client) {
  ++stats_.closed[static_cast<size_t>(why)];
  // Debug only: hostile clients choose how often this happens.
  log::debug(kTarget, "closed a connection", {{"reason", to_string(why)}, {"client", client}});
}

void StreamServer::close(const ConnectionPtr& c, StreamClose why) {
  if (c->closed) return;
  c->closed = true;
  connections_.erase(connection_key(c->id));
  if (auto it = per_source_.find(c->id.client.value.ip); it != per_source_.end() && --it->second == 0)
    per_source_.erase(it);
  --(c->id.transport == Transport::Tls ? stats_.tls_connections : stats_.tcp_connections);
  error_code ignored;
  c->socket().close(ignored);  // no TLS close_notify: nothing may wait on a client
  count_close(why, c->id.client.value);
  // RFC 8656 §2: the allocation belongs to the 5-tuple, which is gone.
  server_.end_client(c->id, now_());
}

void StreamServer::close_all(StreamClose why) {
  error_code ignored;
  for (auto& l : listeners_) {
    l->acceptor.close(ignored);
    l->retry.cancel();
  }
  sweeper_.cancel();
  std::vector<ConnectionPtr> all;
  all.reserve(connections_.size());
  for (const auto& entry : connections_) all.push_back(entry.second);
  for (const ConnectionPtr& c : all) close(c, why);
}

void StreamServer::sweep() {
  const Instant now = now_();
  std::vector<std::pair<ConnectionPtr, StreamClose>> expired;
  for (const auto& entry : connections_) {
    const ConnectionPtr& c = entry.second;
    if (!c->ready) {
      if (now - c->accepted >= limits_.handshake_timeout) expired.emplace_back(c, StreamClose::HandshakeTimeout);
    } else if (c->over_limit_since && now - *c->over_limit_since >= limits_.slow_reader_grace) {
      expired.emplace_back(c, StreamClose::SlowReader);
    } else if (now - c->last_frame >= limits_.idle_timeout && !server_.holds_allocation(c->id)) {
      expired.emplace_back(c, StreamClose::IdleTimeout);
    }
  }
  for (const auto& [c, why] : expired) close(c, why);
  std::weak_ptr<int> alive = alive_;
  sweeper_.expires_after(limits_.sweep_interval);
  sweeper_.async_wait([this, alive](const error_code& ec) {
    if (!ec && !alive.expired()) sweep();
  });
}

}  // namespace relay::process
