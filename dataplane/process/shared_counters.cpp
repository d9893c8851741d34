#include "dataplane/process/shared_counters.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>

#include <cstddef>

#include "dataplane/telemetry.hpp"

namespace relay::dpprocess {

Result<SharedCounters, std::string> SharedCounters::create(std::string_view prefix,
                                                           std::span<const WorkerPlacement> workers,
                                                           int socket) {
  const std::string name = counters_memzone_name(prefix);
  const rte_memzone* zone = rte_memzone_reserve_aligned(name.c_str(), counters_zone_size(workers.size()),
                                                        socket, 0, RTE_CACHE_LINE_SIZE);
  if (zone == nullptr) return Err{"rte_memzone_reserve " + name + ": " + rte_strerror(rte_errno)};
  auto memory = std::span<std::byte>(static_cast<std::byte*>(zone->addr), zone->len);
  auto slots = init_counters_zone(memory, rte_get_tsc_hz(), workers);
  if (!slots) {
    rte_memzone_free(zone);
    return Err{slots.error()};
  }
  auto view = view_counters_zone(memory);
  if (!view) {
    rte_memzone_free(zone);
    return Err{view.error()};
  }
  if (auto registered = dataplane::register_telemetry(view.value()); !registered) {
    rte_memzone_free(zone);
    return Err{registered.error()};
  }
  return SharedCounters(zone, slots.value());
}

SharedCounters::~SharedCounters() {
  if (zone_ != nullptr) rte_memzone_free(zone_);
}

}  // namespace relay::dpprocess
