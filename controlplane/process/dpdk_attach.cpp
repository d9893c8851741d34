#include "controlplane/process/dpdk_attach.hpp"

#include <cstring>

#include <rte_eal.h>
#include <rte_errno.h>

namespace relay::process {

Result<void, std::string> start_eal(const RelayConfig& config) {
  auto args = eal_arguments(config, EalRole::ControlPlane);
  auto argv = as_argv(args);
  if (rte_eal_init(static_cast<int>(argv.size()) - 1, argv.data()) < 0) {
    // EAL has printed its own reason at error level; rte_errno is not
    // always set (e.g. when it cannot map the primary's memory).
    const std::string why = rte_errno != 0 ? rte_strerror(rte_errno) : "see the EAL message above";
    return Err{"cannot start the DPDK EAL as a secondary of --file-prefix " + config.eal.file_prefix + ": " + why};
  }
  return {};
}

Result<SharedObjects, std::string> attach_shared_objects(const RelayConfig& config) {
  const std::string& prefix = config.dataplane.ring_prefix;
  auto missing = [&](const std::string& what, const std::string& name) {
    return Err{"the data plane has no " + what + " named " + name + " (--file-prefix " + config.eal.file_prefix +
               "): is relay-dataplane running with the same configuration?"};
  };
  SharedObjects shared;
  const std::string to_cp = ring_abi::ring_name(prefix, ring_abi::kToControlPlaneRing);
  const std::string from_cp = ring_abi::ring_name(prefix, ring_abi::kFromControlPlaneRing);
  if ((shared.to_cp = rte_ring_lookup(to_cp.c_str())) == nullptr) return missing("ring", to_cp);
  if ((shared.from_cp = rte_ring_lookup(from_cp.c_str())) == nullptr) return missing("ring", from_cp);
  const std::string acks = ring_abi::ring_name(prefix, ring_abi::kAckRing);
  if ((shared.acks = rte_ring_lookup(acks.c_str())) == nullptr) return missing("ring", acks);
  for (uint32_t lcore : config.dataplane.worker_lcores) {
    const std::string name = ring_abi::command_ring_name(prefix, lcore);
    rte_ring* ring = rte_ring_lookup(name.c_str());
    if (ring == nullptr) return missing("ring", name);
    // The element size is not stored in rte_ring; the capacity mask is. A
    // ring of pointers would take 8-byte elements and corrupt every message,
    // which the byte size of the memzone reveals.
    const size_t per_slot = ring->memzone != nullptr ? ring->memzone->len / (ring->size + 1u) : 0;
    if (per_slot != 0 && per_slot < ring_abi::kCommandElementSize) {
      return Err{"ring " + name + " was not created for " + std::to_string(ring_abi::kCommandElementSize) +
                 "-byte CommandMessage elements"};
    }
    shared.commands.push_back({lcore, ring});
  }
  if (config.stream.enabled) {
    const std::string to_stream = ring_abi::ring_name(prefix, ring_abi::kToStreamRing);
    if ((shared.to_stream = rte_ring_lookup(to_stream.c_str())) == nullptr) return missing("ring", to_stream);
  }
  shared.dump = rte_ring_lookup(ring_abi::ring_name(prefix, ring_abi::kDumpRing).c_str());
  const std::string pool = ring_abi::ring_name(prefix, ring_abi::kMbufPool);
  if ((shared.pool = rte_mempool_lookup(pool.c_str())) == nullptr) return missing("mempool", pool);
  if (rte_pktmbuf_priv_size(shared.pool) < sizeof(ring_abi::PacketMeta)) {
    return Err{"mempool " + pool + " has a private area of " + std::to_string(rte_pktmbuf_priv_size(shared.pool)) +
               " bytes, less than PacketMeta needs (" + std::to_string(sizeof(ring_abi::PacketMeta)) + ")"};
  }
  return shared;
}

rte_mbuf* alloc_mbuf_uncached(rte_mempool* pool) {
  void* obj = nullptr;
  if (rte_mempool_generic_get(pool, &obj, 1, nullptr) != 0) return nullptr;
  auto* m = static_cast<rte_mbuf*>(obj);
  rte_pktmbuf_reset(m);
  return m;
}

void free_mbuf_uncached(rte_mbuf* m) {
  while (m != nullptr) {
    rte_mbuf* next = m->next;
    // prefree_seg detaches indirect mbufs and resets next/nb_segs; it
    // returns null while other references remain.
    if (rte_mbuf* last_ref = rte_pktmbuf_prefree_seg(m)) {
      void* obj = last_ref;
      rte_mempool_generic_put(last_ref->pool, &obj, 1, nullptr);
    }
    m = next;
  }
}

size_t RteDumpRing::take(std::span<ring_abi::CommandMessage> out) {
  return rte_ring_dequeue_burst_elem(ring_, out.data(), sizeof(ring_abi::CommandMessage),
                                     static_cast<unsigned>(out.size()), nullptr);
}

bool RteCommandRing::try_enqueue(const ring_abi::CommandMessage& message) {
  return rte_ring_enqueue_elem(ring_, const_cast<ring_abi::CommandMessage*>(&message),
                               sizeof(ring_abi::CommandMessage)) == 0;
}

bool RteCommandRing::try_enqueue_group(std::span<const ring_abi::CommandMessage> messages) {
  return rte_ring_enqueue_bulk_elem(ring_, const_cast<ring_abi::CommandMessage*>(messages.data()),
                                    sizeof(ring_abi::CommandMessage), static_cast<unsigned>(messages.size()),
                                    nullptr) == messages.size();
}

Delivery MbufDatagramRing::try_send(std::span<const uint8_t> payload, const ring_abi::PacketMeta& meta) {
  rte_mbuf* m = alloc_mbuf_uncached(pool_);
  if (m == nullptr) return Delivery::Busy;
  const size_t size = payload.size();
  char* data = size <= rte_pktmbuf_tailroom(m) ? rte_pktmbuf_append(m, static_cast<uint16_t>(size)) : nullptr;
  if (data == nullptr) {
    free_mbuf_uncached(m);
    return Delivery::Refused;
  }
  std::memcpy(data, payload.data(), size);
  *static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m)) = meta;
  if (rte_ring_enqueue(ring_, m) != 0) {
    free_mbuf_uncached(m);
    return Delivery::Busy;
  }
  return Delivery::Accepted;
}

}  // namespace relay::process
