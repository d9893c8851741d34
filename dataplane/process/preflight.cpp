#include "dataplane/process/preflight.hpp"

#include <sys/stat.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/primary_probe.hpp"

namespace relay::dpprocess {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t end = text.find(separator);
    parts.push_back(text.substr(0, end));
    if (end == std::string_view::npos) return parts;
    text.remove_prefix(end + 1);
  }
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  for (auto w : split(line, ' '))
    if (!w.empty()) out.push_back(w);
  return out;
}

uint64_t leading_number(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::optional<std::string> huge_page_problem(const RelayConfig& config, const HostFacts& host) {
  if (!config.eal.huge_pages) return std::nullopt;
  if (hugetlbfs_mounts(host.proc_mounts).empty())
    return "no hugetlbfs is mounted (see /proc/mounts): mount one (scripts/setup does) or set "
           "eal.huge_pages = false for a test without a control plane";
  const HugePages pages = huge_pages_from_meminfo(host.meminfo);
  const uint64_t free_mib = pages.free_pages * pages.page_kib / 1024;
  if (pages.free_pages == 0)
    return std::string("no free huge pages (HugePages_Free is 0 in /proc/meminfo): reserve some, e.g. "
                       "echo 512 > /proc/sys/vm/nr_hugepages");
  if (config.eal.memory_mb > free_mib)
    return "eal.memory_mb " + std::to_string(config.eal.memory_mb) + " needs more than the " +
           std::to_string(free_mib) + " MiB of free huge pages";
  return std::nullopt;
}

std::optional<std::string> missing_interface(const RelayConfig& config, const HostFacts& host) {
  for (const auto& vdev : config.eal.vdevs) {
    auto iface = vdev_interface(vdev);
    if (iface && !host.interface_exists(*iface))
      return "eal.vdevs: " + vdev + " names interface " + *iface +
             ", which does not exist (no /sys/class/net/" + *iface + ")";
  }
  if (const auto& iface = config.eal.interface; iface && !host.interface_exists(*iface))
    return "eal.interface: " + *iface + " does not exist (no /sys/class/net/" + *iface + ")";
  return std::nullopt;
}

// stream.enabled: the data plane creates the TAP itself (net_tap), so the
// name must be free (a leftover of a crash, or someone else's interface,
// would be taken over or refused by the kernel) and the TUN driver present.
std::optional<std::string> stream_problem(const RelayConfig& config, const HostFacts& host) {
  if (!config.stream.enabled) return std::nullopt;
  const std::string& name = config.stream.interface;
  if (host.interface_exists(name))
    return "stream.interface: " + name +
           " already exists; the data plane creates this TAP interface itself (remove it, e.g. ip link del " + name +
           ", or choose another name)";
  if (!host.tun_device)
    return "stream.interface: /dev/net/tun is missing, so the TAP interface " + name +
           " cannot be created (load the tun module, or set stream.enabled = false)";
  return std::nullopt;
}

}  // namespace

std::vector<std::string> hugetlbfs_mounts(std::string_view proc_mounts) {
  std::vector<std::string> mounts;
  for (auto line : split(proc_mounts, '\n')) {
    auto w = words(line);
    if (w.size() >= 3 && w[2] == "hugetlbfs") mounts.emplace_back(w[1]);
  }
  return mounts;
}

HugePages huge_pages_from_meminfo(std::string_view meminfo) {
  HugePages pages;
  for (auto line : split(meminfo, '\n')) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const auto key = line.substr(0, colon);
    if (key == "HugePages_Free") pages.free_pages = leading_number(line.substr(colon + 1));
    if (key == "Hugepagesize") pages.page_kib = leading_number(line.substr(colon + 1));
  }
  return pages;
}

std::optional<std::string> refusal(const RelayConfig& config, const HostFacts& host) {
  if (host.primary_running)
    return "another relay-dataplane runs with eal.file_prefix " + config.eal.file_prefix + " (" +
           host.runtime_config + " is locked): stop it or choose another file prefix";
  if (auto problem = missing_interface(config, host)) return problem;
  if (auto problem = stream_problem(config, host)) return problem;
  return huge_page_problem(config, host);
}

HostFacts gather_host_facts(const RelayConfig& config) {
  HostFacts host;
  host.proc_mounts = read_file("/proc/mounts");
  host.meminfo = read_file("/proc/meminfo");
  host.interface_exists = [](std::string_view name) {
    // A name with a slash would look elsewhere in /sys; no interface has one.
    if (name.empty() || name.find('/') != std::string_view::npos || name == "." || name == "..") return false;
    struct stat st {};
    return ::stat(("/sys/class/net/" + std::string(name)).c_str(), &st) == 0;
  };
  struct stat tun {};
  host.tun_device = ::stat("/dev/net/tun", &tun) == 0;
  host.runtime_config = runtime_config_path(config.eal.file_prefix);
  host.primary_running = probe_primary(host.runtime_config) == PrimaryState::Running;
  return host;
}

void remove_hugepage_files(std::string_view file_prefix) {
  const std::string stem = std::string(file_prefix) + "map_";
  for (const auto& mount : hugetlbfs_mounts(read_file("/proc/mounts"))) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(mount, ec)) {
      if (entry.path().filename().string().starts_with(stem)) std::filesystem::remove(entry.path(), ec);
    }
  }
}

}  // namespace relay::dpprocess
