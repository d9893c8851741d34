#include <string>
#include <vector>

#include "common/config.hpp"

namespace relay {

uint32_t EalSection::effective_main_lcore() const {
  if (main_lcore) return *main_lcore;
  return lcore_ids.empty() ? 0 : lcore_ids.front();
}

std::vector<std::string> eal_arguments(const RelayConfig& config, EalRole role) {
  const auto& eal = config.eal;
  std::vector<std::string> args{std::string(program_name(role))};
  auto add = [&](std::initializer_list<std::string> more) { args.insert(args.end(), more); };
  if (role == EalRole::ControlPlane) {
    add({"--log-level=lib.eal:error", "--no-telemetry"});
  } else if (config.log.level > log::Level::Debug) {
    add({"--log-level=lib.eal:error", "--log-level=lib.telemetry:error"});
  }
  if (role == EalRole::Dataplane) {
    add({"-l", eal.lcores});
    if (eal.main_lcore) add({"--main-lcore", std::to_string(*eal.main_lcore)});
    add({"--file-prefix", eal.file_prefix, "--proc-type=primary"});
    if (eal.pci_allowlist.empty()) add({"--no-pci"});
    for (const auto& pci : eal.pci_allowlist) add({"-a", pci});
    for (const auto& vdev : eal.vdevs) add({"--vdev", vdev});
    if (eal.memory_mb > 0) add({"-m", std::to_string(eal.memory_mb)});
  } else {
    // The control plane only uses rings and memory the primary made; it
    // never probes a device, whatever the allowlist says.
    add({"-l", std::to_string(eal.effective_main_lcore()), "--file-prefix", eal.file_prefix,
         "--proc-type=secondary", "--no-pci"});
  }
  if (!eal.huge_pages) add({"--no-huge"});
  args.insert(args.end(), eal.extra_args.begin(), eal.extra_args.end());
  return args;
}

std::vector<char*> as_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);  // C's argv[argc] convention
  return argv;
}

std::optional<std::string> vdev_interface(std::string_view vdev) {
  const std::string_view driver = vdev.substr(0, vdev.find(','));
  // DPDK also accepts the eth_ aliases of these two PMDs.
  const bool attaches = driver.starts_with("net_af_packet") || driver.starts_with("eth_af_packet") ||
                        driver.starts_with("net_af_xdp") || driver.starts_with("eth_af_xdp");
  if (!attaches) return std::nullopt;
  std::string_view rest = vdev;
  while (rest.find(',') != std::string_view::npos) {
    rest.remove_prefix(rest.find(',') + 1);
    const std::string_view arg = rest.substr(0, rest.find(','));
    if (arg.starts_with("iface=")) return std::string(arg.substr(6));
  }
  return std::nullopt;
}

}  // namespace relay
