// The port relay-dataplane drives: which one (this version drives exactly
// one), its NUMA socket, whether it has a queue pair per worker, its MAC,
// and the link state the main lcore logs when it changes.
#pragma once

#include <rte_ethdev.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "dataplane/config.hpp"

namespace relay::dpprocess {

// The one probed port, or one line saying there are none or too many.
Result<uint16_t, std::string> the_one_port();

// The port's NUMA socket; a vdev has none (SOCKET_ID_ANY), so its memory
// goes where the main lcore runs.
int port_socket(uint16_t port);

// Why `workers` RX/TX queue pairs do not fit a PMD that offers at most
// max_rx/max_tx, as one line; nullopt when they fit.
std::optional<std::string> queue_shortfall(std::string_view driver, uint16_t max_rx, uint16_t max_tx,
                                           size_t workers);

MacAddress port_mac(uint16_t port);

struct LinkState {
  bool up = false;
  uint32_t speed_mbps = 0;
  bool full_duplex = false;
  auto operator<=>(const LinkState&) const = default;
};
LinkState link_state(const rte_eth_link& link);

// Logs the link of one port whenever it differs from what it logged last.
class LinkWatcher {
 public:
  explicit LinkWatcher(uint16_t port) : port_(port) {}
  // Returns the new state when it changed (the first poll always reports).
  std::optional<LinkState> poll();

 private:
  uint16_t port_;
  std::optional<LinkState> last_;
};

}  // namespace relay::dpprocess
