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

Result<TurnClient, std::string> open_turn_client(const Options& o, const SocketAddress& peer, uint32_t index,
                                                 uint64_t expiry_unix_seconds) {
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
  SocketPath path(c.socket);
  return close_session(path, c.session);
}

}  // namespace relay::loadgen
