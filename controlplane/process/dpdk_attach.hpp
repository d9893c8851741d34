// The control plane's view of the data plane's shared objects: EAL secondary
// start, the rings and the mbuf pool looked up by their ring_abi names, and
// the adapters that let the DPDK-free Dispatcher write to them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "common/config.hpp"
#include "common/result.hpp"
#include "controlplane/process/dispatcher.hpp"
#include "controlplane/process/state_restore.hpp"

namespace relay::process {

// rte_eal_init with eal_arguments(ControlPlane); the error is one line.
Result<void, std::string> start_eal(const RelayConfig& config);

struct SharedObjects {
  rte_ring* to_cp = nullptr;
  rte_ring* from_cp = nullptr;
  struct CommandLane {
    uint32_t lcore;
    rte_ring* ring;
  };
  std::vector<CommandLane> commands;  // one per worker lcore, ascending
  rte_mempool* pool = nullptr;
  // "<prefix>dump"; nullptr when the data plane predates restarts (then
  // nothing is restored).
  rte_ring* dump = nullptr;
  rte_ring* acks = nullptr;  // "<prefix>acks"
  // "<prefix>to_stream": what peers relay to stream clients; looked up
  // when stream.enabled, else nullptr.
  rte_ring* to_stream = nullptr;
};

// Looks up "<prefix>to_cp", "<prefix>from_cp", "<prefix>acks", "<prefix>to_stream"
// (stream.enabled only),
// "<prefix>cmd.<lcore>" for every worker lcore and "<prefix>mbufs", and checks the pool's private area
// and the command rings' element size. The error names the first missing one.
Result<SharedObjects, std::string> attach_shared_objects(const RelayConfig& config);

// The control plane runs on the primary's main lcore, whose per-lcore
// mempool cache the primary's own main thread may use; sharing one cache
// between two threads corrupts it. So this process bypasses the cache:
// control-plane rates do not need it.
rte_mbuf* alloc_mbuf_uncached(rte_mempool* pool);
void free_mbuf_uncached(rte_mbuf* m);

class RteCommandRing final : public CommandRing {
 public:
  explicit RteCommandRing(rte_ring* ring) : ring_(ring) {}
  bool try_enqueue(const ring_abi::CommandMessage& message) override;
  bool try_enqueue_group(std::span<const ring_abi::CommandMessage> messages) override;

 private:
  rte_ring* ring_;
};

class RteDumpRing final : public DumpRing {
 public:
  explicit RteDumpRing(rte_ring* ring) : ring_(ring) {}
  size_t take(std::span<ring_abi::CommandMessage> out) override;

 private:
  rte_ring* ring_;
};

// from_cp: one mbuf per datagram, PacketMeta in the private area.
class MbufDatagramRing final : public DatagramRing {
 public:
  MbufDatagramRing(rte_ring* ring, rte_mempool* pool) : ring_(ring), pool_(pool) {}
  Delivery try_send(std::span<const uint8_t> payload, const ring_abi::PacketMeta& meta) override;

 private:
  rte_ring* ring_;
  rte_mempool* pool_;
};

}  // namespace relay::process
