// DPDK telemetry endpoints of the relay, next to the standard /ethdev/* ones
// (usertools/dpdk-telemetry.py, or any client of the v2 socket):
//   /relay/stats        every counter of the declarative table, summed over
//                       the workers, plus bytes, cycles and relayed traffic
//                       by direction and address families
//   /relay/lcores       per worker, as parallel arrays: lcore, port,
//                       busy_cycles, total_cycles, sleep_cycles, sleeps,
//                       rx/tx packets and bytes, replica digest and last
//                       acknowledged command; and the idle mode in force
//   /relay/allocations  allocations, channels and bindings installed in the
//                       workers' tables, as worker 0 last published them
//   /relay/debug/discard_commands  <worker>,<count>: fault injection for
//                       the reconciliation test (the one write)
//
// Everything is read from the "<prefix>counters" memzone the workers write,
// never from a worker's tables: the telemetry thread only loads words the
// owning lcore stores (load_relaxed), so it cannot race with a table update.
// The discard switch is an atomic the worker decrements.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/counters_abi.hpp"
#include "common/result.hpp"

namespace relay::dataplane {

// Registers the three commands with rte_telemetry (primary process, after
// rte_eal_init and init_counters_zone). DPDK telemetry callbacks take no
// user pointer, so the zone is remembered process-wide; calling this again
// points the commands at another zone. The zone must outlive the EAL.
Result<bool, std::string> register_telemetry(const CountersZoneView& zone);
// The switch /relay/debug/discard_commands sets for `worker`
// (WorkerSetup::discard_commands); nullptr past kMaxCounterWorkers.
std::atomic<uint32_t>* command_discard_switch(size_t worker);

}  // namespace relay::dataplane
