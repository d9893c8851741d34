// What both processes do first: keep their memory out of core files and
// away from other processes of the same user. Each holds what must not leak:
// the control plane the TURN REST secret, the portal token and derived keys;
// the data plane the same configuration (it loads the same TOML, secrets
// included) and the hugepages through which every relayed payload passes.
#pragma once

#include <string>

#include "common/result.hpp"

namespace relay {

// RLIMIT_CORE 0 (soft and hard, so it cannot be raised again; honoured by
// the kernel for core files and by systemd-coredump for piped ones) and
// PR_SET_DUMPABLE 0 (no core even when fs.suid_dumpable asks for one, no
// ptrace attach without CAP_SYS_PTRACE, /proc/<pid>/{mem,environ,maps}
// owned by root). DPDK still reads /proc/self (a process may always read its
// own entries; the appliance runs as root). The error is what the kernel refused.
Result<void, std::string> harden_process();

}  // namespace relay
