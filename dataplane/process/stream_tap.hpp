// The kernel side of the stream exception path (ARCHITECTURE.md, "Streams:
// the data plane's exception path"): a net_tap port whose kernel interface
// holds the relay addresses, so the kernel's TCP stack terminates TURN over
// TCP/TLS while the wire stays DPDK's.
//
// What the kernel is told is planned by a pure function (unit-tested: the
// exact sysctls and iproute2 argument vectors) and carried out by running
// `ip` through fork/exec, never a shell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay::dpprocess {

// `ip rule` priority of "from <relay address> lookup <stream.routing_table>":
// ahead of the main table (32766), fixed so a restart finds its own rule.
constexpr uint32_t kStreamRulePriority = 1000;

using Argv = std::vector<std::string>;

struct StreamKernelPlan {
  // Before the TAP's link comes up (/proc/sys path, value): no IPv6
  // link-local address, router solicitation or RA processing (the kernel's
  // chatter would only be dropped), no reverse-path filter (replies leave
  // by the policy table, not by the route back to the client).
  std::vector<std::pair<std::string, std::string>> sysctls;
  // Run in order; the first failure stops the start.
  std::vector<Argv> setup;
  // Run before `setup`, failures ignored: what a crashed predecessor left
  // (the identical policy rules).
  std::vector<Argv> stale;
  // At shutdown, failures logged; the addresses and routes go with the TAP.
  std::vector<Argv> teardown;
};

StreamKernelPlan plan_stream_kernel(const RelayConfig& config, uint16_t mtu);

// Runs argv[0] (found on PATH) with the arguments, waits, and returns
// why it failed: the exit status or signal, with what it wrote to stderr.
Result<void, std::string> run_command(const Argv& argv);

// "ip -4 rule add from 203.0.113.1 lookup 3478 priority 1000"
std::string command_text(const Argv& argv);

}  // namespace relay::dpprocess
