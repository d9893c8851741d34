// The data plane as the control plane sees it at scrape time: a copy of
// every worker's counters from the "<prefix>counters" memzone
// (common/counters_abi.hpp), plus what only the process can ask DPDK for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/counters_abi.hpp"
#include "common/idle_mode.hpp"
#include "common/result.hpp"

namespace relay::metrics {

struct WorkerSample {
  uint16_t lcore = 0;
  uint16_t port = 0;
  IdleMode idle = IdleMode::Poll;
  WorkerCounters counters;
};

struct MempoolUsage {
  uint64_t in_use = 0;    // rte_mempool_in_use_count
  uint64_t capacity = 0;  // rte_mempool::size
};

struct DataplaneSnapshot {
  uint64_t tsc_hz = 0;
  std::vector<WorkerSample> workers;  // empty: the data plane's counters were unreadable
  std::optional<MempoolUsage> mempool;
};

// Copies the zone's counters (each word loaded whole, load_relaxed)
// after checking that it was written by a build with the same counter table.
// `zone` is the memzone's bytes (rte_memzone::addr, ::len).
Result<DataplaneSnapshot, std::string> snapshot_dataplane(std::span<const std::byte> zone);

}  // namespace relay::metrics
