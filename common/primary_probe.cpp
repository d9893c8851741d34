#include "common/primary_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace relay {

std::string runtime_config_path(std::string_view file_prefix, bool is_root,
                                const std::optional<std::string>& xdg_runtime_dir) {
  std::string base = is_root ? "/var/run" : xdg_runtime_dir.value_or("/tmp");
  return base + "/dpdk/" + std::string(file_prefix) + "/config";
}

std::string runtime_config_path(std::string_view file_prefix) {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return runtime_config_path(file_prefix, ::getuid() == 0,
                             xdg != nullptr ? std::optional<std::string>(xdg) : std::nullopt);
}

PrimaryState probe_primary(const std::string& config_path) {
  int fd = ::open(config_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return PrimaryState::NoRuntimeConfig;
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  const bool locked = ::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  ::close(fd);
  return locked ? PrimaryState::Running : PrimaryState::Exited;
}

std::string describe(PrimaryState state, std::string_view file_prefix, std::string_view path) {
  std::string prefix(file_prefix);
  switch (state) {
    case PrimaryState::Running: return "relay-dataplane is running with --file-prefix " + prefix;
    case PrimaryState::NoRuntimeConfig:
      return "relay-dataplane is not running: no DPDK primary with --file-prefix " + prefix + " (" +
             std::string(path) + " does not exist); start relay-dataplane with the same configuration first";
    case PrimaryState::Exited:
      return "relay-dataplane is not running: the DPDK primary with --file-prefix " + prefix +
             " has exited (" + std::string(path) + " is not locked); start relay-dataplane first";
  }
  return "relay-dataplane state unknown";
}

}  // namespace relay
