// What relay-dataplane checks before rte_eal_init (and cleans after
// rte_eal_cleanup), so that an operator who
// forgot to mount huge pages, mistyped a veth name or started the relay
// twice reads one line instead of a page of EAL messages. The decision is
// pure (HostFacts in, a refusal out); gather_host_facts() does the reading.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace relay::dpprocess {

// Mount points of every hugetlbfs in /proc/mounts text (fstab format).
std::vector<std::string> hugetlbfs_mounts(std::string_view proc_mounts);

// Free huge pages of the default size and that size, from /proc/meminfo.
struct HugePages {
  uint64_t free_pages = 0;
  uint64_t page_kib = 0;
};
HugePages huge_pages_from_meminfo(std::string_view meminfo);

struct HostFacts {
  std::string proc_mounts;
  std::string meminfo;
  std::function<bool(std::string_view name)> interface_exists;
  bool tun_device = false;       // /dev/net/tun exists (net_tap needs it for stream.enabled)
  bool primary_running = false;  // a live primary holds the runtime config lock of our prefix
  std::string runtime_config;    // where that lock lives, for the message
};

// The first reason not to start, as one line for the operator.
std::optional<std::string> refusal(const RelayConfig& config, const HostFacts& host);

// Reads /proc/mounts, /proc/meminfo, /sys/class/net and the DPDK runtime
// config lock of eal.file_prefix.
HostFacts gather_host_facts(const RelayConfig& config);

// After rte_eal_cleanup: DPDK leaves the files of the pages it still had
// mapped ("<mount>/<file_prefix>map_N"); nobody can use them once the
// primary is gone. Unlinking is harmless to a secondary still mapping them.
void remove_hugepage_files(std::string_view file_prefix);

}  // namespace relay::dpprocess
