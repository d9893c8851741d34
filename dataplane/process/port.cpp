#include "dataplane/process/port.hpp"

#include <rte_lcore.h>

#include "common/log.hpp"

namespace relay::dpprocess {

namespace {
std::string port_name(uint16_t port) {
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port, name) != 0) return "port " + std::to_string(port);
  return name;
}
}  // namespace

Result<uint16_t, std::string> the_one_port() {
  std::vector<uint16_t> ports;
  uint16_t port = 0;
  RTE_ETH_FOREACH_DEV(port) ports.push_back(port);
  if (ports.empty())
    return Err{std::string("no port was probed: name one in eal.vdevs or eal.pci_allowlist")};
  if (ports.size() > 1) {
    std::string names;
    for (uint16_t p : ports) {
      if (!names.empty()) names += ", ";
      names += port_name(p);
    }
    return Err{"this version of relay-dataplane drives exactly one port, but " + std::to_string(ports.size()) +
               " were probed (" + names + "): keep one in eal.vdevs / eal.pci_allowlist"};
  }
  return ports.front();
}

int port_socket(uint16_t port) {
  const int socket = rte_eth_dev_socket_id(port);
  return socket >= 0 ? socket : static_cast<int>(rte_socket_id());
}

std::optional<std::string> queue_shortfall(std::string_view driver, uint16_t max_rx, uint16_t max_tx,
                                           size_t workers) {
  if (workers <= max_rx && workers <= max_tx) return std::nullopt;
  return std::to_string(workers) + " worker lcores need " + std::to_string(workers) + " RX and TX queues, but " +
         std::string(driver) + " offers " + std::to_string(max_rx) + " RX / " + std::to_string(max_tx) +
         " TX: use fewer dataplane.worker_lcores (net_af_packet takes qpairs=N)";
}

MacAddress port_mac(uint16_t port) {
  rte_ether_addr addr{};
  rte_eth_macaddr_get(port, &addr);
  MacAddress mac{};
  std::copy(std::begin(addr.addr_bytes), std::end(addr.addr_bytes), mac.begin());
  return mac;
}

LinkState link_state(const rte_eth_link& link) {
  return {link.link_status == RTE_ETH_LINK_UP, link.link_speed, link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX};
}

std::optional<LinkState> LinkWatcher::poll() {
  rte_eth_link link{};
  if (rte_eth_link_get_nowait(port_, &link) != 0) return std::nullopt;
  const LinkState now = link_state(link);
  if (last_ == now) return std::nullopt;
  last_ = now;
  log::info("port", now.up ? "link up" : "link down",
            {{"port", port_name(port_)}, {"speed_mbps", now.speed_mbps},
             {"duplex", now.full_duplex ? "full" : "half"}});
  return now;
}

}  // namespace relay::dpprocess
