#include "common/process_hardening.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace relay {

Result<void, std::string> harden_process() {
  const rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) return Err{std::string("setrlimit(RLIMIT_CORE, 0): ") + std::strerror(errno)};
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return Err{std::string("prctl(PR_SET_DUMPABLE, 0): ") + std::strerror(errno)};
  return {};
}

}  // namespace relay
