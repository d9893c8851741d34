// The few socket calls the generator needs, as RAII and Result values.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay::loadgen {

// Owns a file descriptor: a UDP socket here, an epoll instance in traffic.cpp.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  OwnedFd& operator=(OwnedFd&& o) noexcept;
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd();
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// A non-blocking socket bound to `local` (port 0: ephemeral) with large
// buffers, connected to `remote` when one is given. Err: "<call>: <errno text>".
Result<OwnedFd, std::string> open_udp(const SocketAddress& local, const SocketAddress* remote);

Result<SocketAddress, std::string> local_address(const OwnedFd& s);

socklen_t to_sockaddr(const SocketAddress& a, sockaddr_storage& out);
SocketAddress from_sockaddr(const sockaddr_storage& s);

uint64_t monotonic_ns();

}  // namespace relay::loadgen
