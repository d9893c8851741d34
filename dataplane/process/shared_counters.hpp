// The workers' counters in shared memory, so the control plane (a DPDK
// secondary) can read them for /metrics: the memzone "<prefix>counters"
// holds the self-describing layout of common/counters_abi.hpp (a header with
// the workers' lcores, ports and tsc_hz, then one WorkerCounters per worker
// in the order of dataplane.worker_lcores), each written only by its lcore.
// The same zone backs the /relay/* DPDK telemetry endpoints.
#pragma once

#include <rte_memzone.h>

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/counters_abi.hpp"
#include "common/result.hpp"

namespace relay::dpprocess {

class SharedCounters {
 public:
  // Reserves "<prefix>counters" on `socket`, writes the header and zeroes
  // every worker's slot, then points DPDK telemetry at it.
  static Result<SharedCounters, std::string> create(std::string_view prefix,
                                                    std::span<const WorkerPlacement> workers,
                                                    int socket);

  SharedCounters(SharedCounters&& other) noexcept
      : zone_(std::exchange(other.zone_, nullptr)), workers_(other.workers_) {}
  SharedCounters& operator=(SharedCounters&&) = delete;
  SharedCounters(const SharedCounters&) = delete;
  ~SharedCounters();

  [[nodiscard]] std::span<WorkerCounters> workers() const { return workers_; }
  [[nodiscard]] std::string_view name() const { return zone_->name; }

 private:
  SharedCounters(const rte_memzone* zone, std::span<WorkerCounters> workers)
      : zone_(zone), workers_(workers) {}
  const rte_memzone* zone_;
  std::span<WorkerCounters> workers_;
};

}  // namespace relay::dpprocess
