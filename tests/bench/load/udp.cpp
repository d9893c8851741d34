#include "tests/bench/load/udp.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace relay::loadgen {

namespace {

// Bursts of a few hundred thousand packets per second must not overflow the
// kernel's default 208 KiB socket buffers; SO_*BUFFORCE needs CAP_NET_ADMIN
// (the benchmark runs as root), the plain option is the fallback.
constexpr int kSocketBufferBytes = 8 << 20;

void enlarge_buffers(int fd) {
  for (auto [forced, plain] : {std::pair{SO_RCVBUFFORCE, SO_RCVBUF}, std::pair{SO_SNDBUFFORCE, SO_SNDBUF}}) {
    if (setsockopt(fd, SOL_SOCKET, forced, &kSocketBufferBytes, sizeof kSocketBufferBytes) != 0)
      setsockopt(fd, SOL_SOCKET, plain, &kSocketBufferBytes, sizeof kSocketBufferBytes);
  }
}

std::string failure(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

}  // namespace

OwnedFd& OwnedFd::operator=(OwnedFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

OwnedFd::~OwnedFd() {
  if (fd_ >= 0) close(fd_);
}

socklen_t to_sockaddr(const SocketAddress& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (a.ip.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&out);
    s->sin_family = AF_INET;
    s->sin_port = htons(a.port);
    std::memcpy(&s->sin_addr, a.ip.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&out);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(a.port);
  std::memcpy(&s->sin6_addr, a.ip.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

SocketAddress from_sockaddr(const sockaddr_storage& s) {
  if (s.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&s);
    std::array<uint8_t, 4> b{};
    std::memcpy(b.data(), &in->sin_addr, 4);
    return {IpAddress::v4(b), ntohs(in->sin_port)};
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&s);
  std::array<uint8_t, 16> b{};
  std::memcpy(b.data(), &in6->sin6_addr, 16);
  return {IpAddress::v6(b), ntohs(in6->sin6_port)};
}

Result<OwnedFd, std::string> open_udp(const SocketAddress& local, const SocketAddress* remote) {
  OwnedFd s(socket(local.ip.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (s.fd() < 0) return Err{failure("socket")};
  enlarge_buffers(s.fd());
  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(local, ss);
  if (bind(s.fd(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Err{failure("bind")};
  if (remote != nullptr) {
    len = to_sockaddr(*remote, ss);
    if (connect(s.fd(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return Err{failure("connect")};
  }
  return s;
}

Result<SocketAddress, std::string> local_address(const OwnedFd& s) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(s.fd(), reinterpret_cast<sockaddr*>(&ss), &len) != 0) return Err{failure("getsockname")};
  return from_sockaddr(ss);
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace relay::loadgen
