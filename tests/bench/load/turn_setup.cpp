#include "tests/bench/load/turn_setup.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <vector>

#include "controlplane/core/stun/stun.hpp"

namespace relay::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

// The StunPath of a connected, non-blocking UDP socket.
class SocketPath final : public StunPath {
 public:
  explicit SocketPath(const OwnedFd& socket) : fd_(socket.fd()) {}

  bool send(std::span<const uint8_t> datagram) override {
    return ::send(fd_, datagram.data(), datagram.size(), 0) >= 0;
  }

  size_t receive(std::span<uint8_t> into, Deadline deadline) override {
    pollfd p{fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)) + 1) <= 0) return 0;
    const ssize_t n = recv(fd_, into.data(), into.size(), 0);
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

 private:
  int fd_;
};

}  // namespace

namespace {

// Connect and TLS handshake of one client, on a machine busy with 511 more.
constexpr int kStreamOpenLimitMs = 5000;

Result<TurnClient, std::string> open_stream_client(const Options& o, Transport transport, const SocketAddress& peer,
                                                   uint32_t index, uint64_t expiry_unix_seconds) {
  // As below: a 437 moves the client to another connection (another source
  // port), the refused ones stay open until then.
  std::vector<std::unique_ptr<Stream>> refused;
  for (int attempt = 0; attempt < 4; ++attempt) {
    TurnClient c;
    auto s = Stream::open(transport, o.client_ip, o.relay, kStreamOpenLimitMs);
    if (!s) return Err{s.error()};
    c.stream = std::move(*s);
    StreamPath path(*c.stream);
    auto session = open_session(path, o, peer, index, expiry_unix_seconds);
    if (session) {
      c.session = std::move(*session);
      return c;
    }
    if (session.error().code != stun::error_code::kAllocationMismatch) return Err{session.error().what};
    refused.push_back(std::move(c.stream));
  }
  return Err{std::string("Allocate: 437 on four different connections")};
}

}  // namespace

Result<TurnClient, std::string> open_turn_client(const Options& o, Transport transport, const SocketAddress& peer,
                                                 uint32_t index, uint64_t expiry_unix_seconds) {
  if (transport != Transport::Udp) return open_stream_client(o, transport, peer, index, expiry_unix_seconds);
  // RFC 8656 §7.2: a 437 means the relay still holds an allocation for this
  // 5-tuple (an earlier run's, on a reused ephemeral port); the client
  // moves to another one. The refused sockets stay open meanwhile so the
  // kernel cannot hand out the same port again.
  std::vector<OwnedFd> refused;
  for (int attempt = 0; attempt < 4; ++attempt) {
    TurnClient c;
    auto s = open_udp(SocketAddress{o.client_ip, 0}, &o.relay);
    if (!s) return Err{"client socket: " + s.error()};
    c.socket = std::move(*s);
    auto local = local_address(c.socket);
    if (!local) return Err{local.error()};
    c.local = *local;
    SocketPath path(c.socket);
    auto session = open_session(path, o, peer, index, expiry_unix_seconds);
    if (session) {
      c.session = std::move(*session);
      return c;
    }
    if (session.error().code != stun::error_code::kAllocationMismatch) return Err{session.error().what};
    refused.push_back(std::move(c.socket));
  }
  return Err{std::string("Allocate: 437 on four different ports")};
}

bool release_turn_client(TurnClient& c) {
  if (c.stream) {
    StreamPath path(*c.stream);
    return close_session(path, c.session);
  }
  SocketPath path(c.socket);
  return close_session(path, c.session);
}

}  // namespace relay::loadgen
