// The testpmd-style loopback the tests and bench-dataplane drive a worker
// with: a net_ring ethdev over two rte_rings, no kernel and no NIC. Kept
// out of relay_dataplane because it needs the net_ring PMD linked in.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace relay::dataplane {

// A net_ring port whose RX ring the caller fills and whose TX ring the
// caller drains: the worker under test sees an ordinary ethdev.
struct Loopback {
  uint16_t port_id = 0;
  rte_ring* rx = nullptr;  // enqueue here → the worker receives
  rte_ring* tx = nullptr;  // the worker sends → dequeue here
};
// `pool` is only used to satisfy ethdev queue setup; net_ring never allocates.
Result<Loopback, std::string> create_loopback(std::string_view name, unsigned ring_size, int socket,
                                              rte_mempool* pool);

}  // namespace relay::dataplane
