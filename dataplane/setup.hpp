// Process-side helpers: the mbuf pool (with the ring ABI's private area),
// the rings of ring_abi.hpp, one port with one RX/TX queue per worker. All run before any worker is
// launched; none of them is used per packet.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/ring_abi.hpp"

namespace relay::dataplane {

// Mempool cache must hold at least one burst per lcore (l3fwd's rule).
constexpr unsigned kMempoolCache = 256;

// Where the pool's mbufs lie.
// - PagePerObject: DPDK's default. No mbuf crosses a page, so that each is
//   IOVA-contiguous for a NIC's DMA with IOVA as PA; at each page (or
//   memory chunk) boundary a gap is left.
// - Packed: one virtually contiguous block, mbufs back to back
//   (RTE_MEMPOOL_F_NO_IOVA_CONTIG), for ports that DMA nothing (af_xdp,
//   af_packet, TAP, memif). net_af_xdp needs it: DPDK 22.11 registers
//   "populated mbufs x mbuf size" from the first chunk as the AF_XDP umem,
//   so with the gaps the last mbufs lie past its end and the kernel drops
//   every frame sent from them (XDP_STATISTICS tx_invalid_descs).
enum class PoolLayout : uint8_t { PagePerObject, Packed };

Result<rte_mempool*, std::string> create_mbuf_pool(std::string_view prefix, unsigned mbufs, int socket,
                                                   unsigned cache = kMempoolCache,
                                                   PoolLayout layout = PoolLayout::PagePerObject);

// How many of the pool's mbufs lie (partly) outside the block DPDK 22.11's
// net_af_xdp registers as its umem: from the page holding the first memory
// chunk, populated_size x the mbuf's total size. Zero for a Packed pool.
unsigned mbufs_outside_af_xdp_umem(const rte_mempool* pool);

struct WorkerRings {
  rte_ring* commands = nullptr;
  rte_ring* to_cp = nullptr;
  rte_ring* from_cp = nullptr;
  rte_ring* dump = nullptr;  // CommandMessage elements; the first worker writes it
  rte_ring* acks = nullptr;  // AckMessage elements; every worker writes it
  rte_ring* to_stream = nullptr;  // rte_mbuf* for stream clients; every worker writes it
};
// Creates "<prefix>cmd.<lcore>"; to_cp/from_cp/to_stream/dump/acks are created once per
// process (create_exception_rings) and shared by the workers. Sizes are
// powers of two; the ack ring's follows from the command rings
// (ring_abi::ack_ring_size).
Result<rte_ring*, std::string> create_command_ring(std::string_view prefix, unsigned lcore, int socket,
                                                   unsigned size = ring_abi::kCommandRingSize);
Result<WorkerRings, std::string> create_exception_rings(
    std::string_view prefix, int socket, unsigned size = ring_abi::kPacketRingSize,
    unsigned ack_ring_size = ring_abi::ack_ring_size(ring_abi::kCommandRingSize, 1));

struct PortQueues {
  uint16_t rx_queues = 1;
  uint16_t tx_queues = 1;
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  bool want_tx_checksum_offload = true;
  // Spread received packets over the RX queues by RSS (IP addresses and UDP
  // ports); off for the stream TAP, whose kernel side picks the queue.
  bool rss = true;
};
// Configures and starts `port`; returns whether IPv4/UDP TX checksum
// offload is on (the worker's template flag).
Result<bool, std::string> start_port(uint16_t port, rte_mempool* pool, const PortQueues& q);

}  // namespace relay::dataplane
