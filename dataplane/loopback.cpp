#include "dataplane/loopback.hpp"

#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>

#include "dataplane/setup.hpp"

namespace relay::dataplane {

namespace {
std::string dpdk_error(std::string_view what) { return std::string(what) + ": " + rte_strerror(rte_errno); }
}  // namespace

Result<Loopback, std::string> create_loopback(std::string_view name, unsigned ring_size, int socket,
                                              rte_mempool* pool) {
  Loopback lb;
  const std::string rx_name = std::string(name) + "_rx";
  const std::string tx_name = std::string(name) + "_tx";
  lb.rx = rte_ring_create(rx_name.c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  lb.tx = rte_ring_create(tx_name.c_str(), ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (lb.rx == nullptr || lb.tx == nullptr) return Err{dpdk_error("rte_ring_create loopback")};
  const int port = rte_eth_from_rings(std::string(name).c_str(), &lb.rx, 1, &lb.tx, 1, static_cast<unsigned>(socket));
  if (port < 0) return Err{dpdk_error("rte_eth_from_rings")};
  lb.port_id = static_cast<uint16_t>(port);
  PortQueues q;
  q.rx_descriptors = q.tx_descriptors = static_cast<uint16_t>(ring_size);
  q.want_tx_checksum_offload = false;
  if (auto started = start_port(lb.port_id, pool, q); !started) return Err{started.error()};
  return lb;
}

}  // namespace relay::dataplane
