#include "dataplane/setup.hpp"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <unistd.h>

#include "common/ring_abi.hpp"
#include "dataplane/config.hpp"

namespace relay::dataplane {

static_assert(kMempoolCache >= kMaxBurst);
static_assert(ring_abi::kMbufPrivSize % RTE_MBUF_PRIV_ALIGN == 0);

namespace {
std::string dpdk_error(std::string_view what) { return std::string(what) + ": " + rte_strerror(rte_errno); }
}  // namespace

Result<rte_mempool*, std::string> create_mbuf_pool(std::string_view prefix, unsigned mbufs, int socket,
                                                   unsigned cache, PoolLayout layout) {
  const std::string name = ring_abi::ring_name(prefix, ring_abi::kMbufPool);
  if (layout == PoolLayout::PagePerObject) {
    rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), mbufs, cache, ring_abi::kMbufPrivSize,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (pool == nullptr) return Err{dpdk_error("rte_pktmbuf_pool_create " + name)};
    return pool;
  }
  // rte_pktmbuf_pool_create's steps, with the one flag it does not take.
  const unsigned element = sizeof(rte_mbuf) + ring_abi::kMbufPrivSize + RTE_MBUF_DEFAULT_BUF_SIZE;
  rte_mempool* pool = rte_mempool_create_empty(name.c_str(), mbufs, element, cache, sizeof(rte_pktmbuf_pool_private),
                                               socket, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (pool == nullptr) return Err{dpdk_error("rte_mempool_create_empty " + name)};
  auto fail = [&](std::string what, int rc) -> Result<rte_mempool*, std::string> {
    rte_mempool_free(pool);
    return Err{what + " " + name + ": " + rte_strerror(rc)};
  };
  if (int rc = rte_mempool_set_ops_byname(pool, rte_mbuf_best_mempool_ops(), nullptr); rc != 0)
    return fail("rte_mempool_set_ops_byname", -rc);
  rte_pktmbuf_pool_private private_area{};
  private_area.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE;
  private_area.mbuf_priv_size = ring_abi::kMbufPrivSize;
  rte_pktmbuf_pool_init(pool, &private_area);
  if (int rc = rte_mempool_populate_default(pool); rc < 0) return fail("rte_mempool_populate_default", -rc);
  rte_mempool_obj_iter(pool, rte_pktmbuf_init, nullptr);
  return pool;
}

unsigned mbufs_outside_af_xdp_umem(const rte_mempool* pool) {
  const rte_mempool_memhdr* first = STAILQ_FIRST(&pool->mem_list);
  if (first == nullptr) return pool->populated_size;
  const auto first_chunk = reinterpret_cast<uintptr_t>(first->addr);
  const uintptr_t base = first_chunk & ~static_cast<uintptr_t>(sysconf(_SC_PAGESIZE) - 1);
  struct Umem {
    uintptr_t base, end;
    size_t header, object;
    unsigned outside;
  } umem{base, 0, pool->header_size, rte_mempool_calc_obj_size(pool->elt_size, pool->flags, nullptr), 0};
  umem.end = first_chunk + size_t{pool->populated_size} * umem.object;
  rte_mempool_obj_iter(
      const_cast<rte_mempool*>(pool),
      [](rte_mempool*, void* opaque, void* object, unsigned) {
        auto* u = static_cast<Umem*>(opaque);
        const uintptr_t start = reinterpret_cast<uintptr_t>(object) - u->header;
        if (start < u->base || start + u->object > u->end) ++u->outside;
      },
      &umem);
  return umem.outside;
}

Result<rte_ring*, std::string> create_command_ring(std::string_view prefix, unsigned lcore, int socket,
                                                   unsigned size) {
  const std::string name = ring_abi::command_ring_name(prefix, lcore);
  rte_ring* r =
      rte_ring_create_elem(name.c_str(), ring_abi::kCommandElementSize, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (r == nullptr) return Err{dpdk_error("rte_ring_create_elem " + name)};
  return r;
}

Result<WorkerRings, std::string> create_exception_rings(std::string_view prefix, int socket, unsigned size,
                                                        unsigned ack_ring_size) {
  WorkerRings rings;
  const std::string to_cp = ring_abi::ring_name(prefix, ring_abi::kToControlPlaneRing);
  const std::string from_cp = ring_abi::ring_name(prefix, ring_abi::kFromControlPlaneRing);
  rings.to_cp = rte_ring_create(to_cp.c_str(), size, socket, RING_F_SC_DEQ);
  if (rings.to_cp == nullptr) return Err{dpdk_error("rte_ring_create " + to_cp)};
  rings.from_cp = rte_ring_create(from_cp.c_str(), size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (rings.from_cp == nullptr) return Err{dpdk_error("rte_ring_create " + from_cp)};
  // Created whether or not streams are on, so a control plane never has to
  // tell a missing ring from a data plane that is not up yet.
  const std::string to_stream = ring_abi::ring_name(prefix, ring_abi::kToStreamRing);
  rings.to_stream = rte_ring_create(to_stream.c_str(), size, socket, RING_F_SC_DEQ);
  if (rings.to_stream == nullptr) return Err{dpdk_error("rte_ring_create " + to_stream)};
  const std::string dump = ring_abi::ring_name(prefix, ring_abi::kDumpRing);
  rings.dump = rte_ring_create_elem(dump.c_str(), ring_abi::kCommandElementSize, ring_abi::kDumpRingSize, socket,
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (rings.dump == nullptr) return Err{dpdk_error("rte_ring_create_elem " + dump)};
  const std::string acks = ring_abi::ring_name(prefix, ring_abi::kAckRing);
  rings.acks = rte_ring_create_elem(acks.c_str(), sizeof(ring_abi::AckMessage), ack_ring_size, socket, RING_F_SC_DEQ);
  if (rings.acks == nullptr) return Err{dpdk_error("rte_ring_create_elem " + acks)};
  return rings;
}

Result<bool, std::string> start_port(uint16_t port, rte_mempool* pool, const PortQueues& q) {
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) != 0) return Err{std::string("rte_eth_dev_info_get failed")};
  rte_eth_conf conf{};
  constexpr uint64_t kCsum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  const bool offload = q.want_tx_checksum_offload && (info.tx_offload_capa & kCsum) == kCsum;
  if (offload) conf.txmode.offloads = kCsum;
  if (q.rx_queues > 1 && q.rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  if (int rc = rte_eth_dev_configure(port, q.rx_queues, q.tx_queues, &conf); rc != 0)
    return Err{"rte_eth_dev_configure: " + std::string(rte_strerror(-rc))};
  const int socket = rte_eth_dev_socket_id(port);
  for (uint16_t i = 0; i < q.rx_queues; ++i)
    if (int rc = rte_eth_rx_queue_setup(port, i, q.rx_descriptors, socket, nullptr, pool); rc != 0)
      return Err{"rte_eth_rx_queue_setup: " + std::string(rte_strerror(-rc))};
  for (uint16_t i = 0; i < q.tx_queues; ++i) {
    rte_eth_txconf txconf = info.default_txconf;
    txconf.offloads = conf.txmode.offloads;
    if (int rc = rte_eth_tx_queue_setup(port, i, q.tx_descriptors, socket, &txconf); rc != 0)
      return Err{"rte_eth_tx_queue_setup: " + std::string(rte_strerror(-rc))};
  }
  if (int rc = rte_eth_dev_start(port); rc != 0) return Err{"rte_eth_dev_start: " + std::string(rte_strerror(-rc))};
  return offload;
}

}  // namespace relay::dataplane
