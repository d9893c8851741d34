// Control-plane restart (ARCHITECTURE.md, "Control-plane restart"): a new
// control plane asks the first worker for what the data plane still
// forwards (DumpState) and adopts it into its Server before serving, so
// clients keep their allocations and channels across a crash or upgrade
// and no new allocation is given a live port.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "common/net_types.hpp"
#include "common/ring_abi.hpp"
#include "common/time.hpp"
#include "controlplane/core/server.hpp"
#include "controlplane/process/command_fanout.hpp"

namespace relay::process {

// "<prefix>dump" as the restore sees it (rte_ring in the process, a fake in tests).
class DumpRing {
 public:
  virtual ~DumpRing() = default;
  // Takes up to out.size() messages; returns how many it took.
  virtual size_t take(std::span<ring_abi::CommandMessage> out) = 0;
};

struct RestoreReport {
  uint64_t allocations = 0;  // adopted
  uint64_t channels = 0;     // adopted
  uint64_t permissions = 0;  // adopted
  uint64_t stale = 0;        // another dump's entries (a crashed control plane asked for it)
  uint64_t malformed = 0;    // unknown kind or unusable address
  std::map<core::RestoreError, uint64_t> refused_allocations;
  std::map<core::RestoreError, uint64_t> refused_channels;
  std::map<core::RestoreError, uint64_t> refused_permissions;
  // Refused allocations the data plane still forwards for a client nobody
  // manages: the caller frees them (FreeAllocation) so they stop at once.
  std::vector<AllocationPort> orphans;
  bool complete = false;  // this dump's DumpEnd arrived
  // Adopted allocations of TCP/TLS clients: their stream died with the
  // previous control plane, so they end once the dump is in (their
  // FreeAllocation and RemoveChannels wait in the Server's queue).
  uint64_t streams_lost = 0;
};

// The sans-IO part: one dump's messages in, Server restored.
class StateRestore {
 public:
  StateRestore(core::Server& server, uint16_t dump_id) : server_(server), dump_id_(dump_id) {}

  [[nodiscard]] ring_abi::CommandMessage request() const { return ring_abi::make_dump_state(dump_id_); }
  // Adopts one message of the dump ring; true once this dump's DumpEnd arrived.
  bool take(const ring_abi::CommandMessage& m, Instant now);
  [[nodiscard]] const RestoreReport& report() const { return report_; }

 private:
  void adopt_allocation(const ring_abi::CommandMessage& m, Instant now);
  void adopt_channel(const ring_abi::CommandMessage& m, Instant now);
  void adopt_permission(const ring_abi::CommandMessage& m, Instant now);
  // Counts a channel's or permission's outcome: malformed (not decoded),
  // refused by reason, or adopted.
  void count(bool decoded, std::optional<core::RestoreError> refused,
             std::map<core::RestoreError, uint64_t>& refusals, uint64_t& adopted);

  core::Server& server_;
  uint16_t dump_id_;
  RestoreReport report_;
};

struct RestoreDriver {
  std::function<Instant()> now;
  std::function<void()> wait;  // between two empty polls of the dump ring
  // The worker answers within iterations; this much silence means it will not.
  Duration silence_timeout = std::chrono::seconds(2);
};

// Drains what an earlier control plane left on `dump`, sends DumpState to
// the first worker and adopts the dump until its DumpEnd or until the ring
// stays silent for driver.silence_timeout (report().complete is then false);
// then ends the adopted allocations whose client spoke TCP or TLS.
RestoreReport restore_from_data_plane(core::Server& server, CommandRing& first_worker, DumpRing& dump,
                                      uint16_t dump_id, const RestoreDriver& driver);

}  // namespace relay::process
