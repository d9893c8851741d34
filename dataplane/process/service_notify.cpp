#include "dataplane/process/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace relay::dpprocess {

Result<void, std::string> notify_service_manager(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return {};
  const std::string_view name(path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (name.size() >= sizeof(addr.sun_path)) return Err{std::string("NOTIFY_SOCKET is longer than a unix socket path")};
  if (name.front() != '/' && name.front() != '@') return Err{std::string("NOTIFY_SOCKET is neither a path nor an abstract name")};
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name.front() == '@') addr.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Err{std::string("socket: ") + std::strerror(errno)};
  const ssize_t sent =
      ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), length);
  const int error = errno;
  ::close(fd);
  if (sent < 0) return Err{std::string(name) + ": " + std::strerror(error)};
  return {};
}

}  // namespace relay::dpprocess
