#include "dataplane/telemetry.hpp"

#include <rte_telemetry.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

#include "dataplane/idle_backoff.hpp"

namespace relay::dataplane {

namespace {

// Set once by register_telemetry, read by the telemetry thread.
std::atomic<const CountersZoneHeader*> g_zone{nullptr};
std::array<std::atomic<uint32_t>, kMaxCounterWorkers> g_discard{};

std::span<const WorkerCounters> workers_of(const CountersZoneHeader* h) {
  const auto* first = reinterpret_cast<const WorkerCounters*>(reinterpret_cast<const std::byte*>(h) + sizeof *h);
  return {first, h->worker_count};
}

std::string relayed_name(size_t direction, size_t in, size_t out, const char* what) {
  return std::string(kDirectionNames[direction]) + "_" + std::string(kFamilyIndexNames[in]) + "_to_" +
         std::string(kFamilyIndexNames[out]) + "_" + what;
}

int stats(const char*, const char*, rte_tel_data* d) {
  const CountersZoneHeader* h = g_zone.load(std::memory_order_acquire);
  if (h == nullptr) return -ENODEV;
  const WorkerCounters sum = sum_counters(workers_of(h));
  rte_tel_data_start_dict(d);
  for (size_t i = 0; i < kCounterCount; ++i)
    rte_tel_data_add_dict_u64(d, std::string(kCounterNames[i]).c_str(), sum.values[i]);
  rte_tel_data_add_dict_u64(d, "rx_bytes", sum.rx_bytes);
  rte_tel_data_add_dict_u64(d, "tx_bytes", sum.tx_bytes);
  rte_tel_data_add_dict_u64(d, "busy_cycles", sum.busy_cycles);
  rte_tel_data_add_dict_u64(d, "total_cycles", sum.total_cycles);
  for (size_t dir = 0; dir < kDirectionCount; ++dir)
    for (size_t in = 0; in < 2; ++in)
      for (size_t out = 0; out < 2; ++out) {
        const RelayedTraffic& t = sum.relayed[dir][in][out];
        rte_tel_data_add_dict_u64(d, relayed_name(dir, in, out, "packets").c_str(), t.packets);
        rte_tel_data_add_dict_u64(d, relayed_name(dir, in, out, "bytes").c_str(), t.bytes);
      }
  return 0;
}

// One u64 array per field, indexed like the workers: telemetry containers
// can only be arrays, and parallel arrays keep every number named.
template <class Field>
void add_column(rte_tel_data* d, const char* name, std::span<const WorkerCounters> live, Field field) {
  rte_tel_data* column = rte_tel_data_alloc();
  if (column == nullptr) return;
  rte_tel_data_start_array(column, RTE_TEL_U64_VAL);
  for (const WorkerCounters& w : live) rte_tel_data_add_array_u64(column, field(load_relaxed(w)));
  if (rte_tel_data_add_dict_container(d, name, column, 0) != 0) rte_tel_data_free(column);
}

int lcores(const char*, const char*, rte_tel_data* d) {
  const CountersZoneHeader* h = g_zone.load(std::memory_order_acquire);
  if (h == nullptr) return -ENODEV;
  const auto live = workers_of(h);
  rte_tel_data_start_dict(d);
  for (const char* name : {"lcore", "port"}) {
    rte_tel_data* column = rte_tel_data_alloc();
    if (column == nullptr) return -ENOMEM;
    rte_tel_data_start_array(column, RTE_TEL_U64_VAL);
    for (size_t i = 0; i < live.size(); ++i)
      rte_tel_data_add_array_u64(column, std::strcmp(name, "lcore") == 0 ? h->placement[i].lcore
                                                                         : h->placement[i].port);
    if (rte_tel_data_add_dict_container(d, name, column, 0) != 0) rte_tel_data_free(column);
  }
  add_column(d, "busy_cycles", live, [](const WorkerCounters& c) { return c.busy_cycles; });
  add_column(d, "total_cycles", live, [](const WorkerCounters& c) { return c.total_cycles; });
  add_column(d, "sleep_cycles", live, [](const WorkerCounters& c) { return c.sleep_cycles; });
  add_column(d, "sleeps", live, [](const WorkerCounters& c) { return c.sleeps; });
  add_column(d, "rx_packets", live, [](const WorkerCounters& c) { return c.get(Counter::RxPackets); });
  add_column(d, "tx_packets", live, [](const WorkerCounters& c) { return c.get(Counter::TxPackets); });
  add_column(d, "rx_bytes", live, [](const WorkerCounters& c) { return c.rx_bytes; });
  add_column(d, "tx_bytes", live, [](const WorkerCounters& c) { return c.tx_bytes; });
  add_column(d, "replica_digest", live, [](const WorkerCounters& c) { return c.tables.digest; });
  add_column(d, "replica_last_ack", live, [](const WorkerCounters& c) { return c.tables.last_ack; });
  rte_tel_data_add_dict_u64(d, "tsc_hz", h->tsc_hz);
  rte_tel_data_add_dict_string(d, "idle_mode",
                               std::string(to_string(static_cast<IdleMode>(h->placement[0].idle_mode))).c_str());
  return 0;
}

// "<worker>,<count>": the worker throws away its next `count` numbered
// commands, so a test can show the control plane finding and repairing
// the divergence. Answers the count now pending.
int discard_commands(const char*, const char* params, rte_tel_data* d) {
  const CountersZoneHeader* h = g_zone.load(std::memory_order_acquire);
  if (h == nullptr) return -ENODEV;
  unsigned worker = 0, count = 0;
  char tail = 0;
  if (params == nullptr || std::sscanf(params, "%u,%u%c", &worker, &count, &tail) != 2 ||
      worker >= h->worker_count || count > 1'000'000)
    return -EINVAL;
  const uint32_t pending = g_discard[worker].fetch_add(count, std::memory_order_relaxed) + count;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "worker", worker);
  rte_tel_data_add_dict_u64(d, "pending", pending);
  return 0;
}

int allocations(const char*, const char*, rte_tel_data* d) {
  const CountersZoneHeader* h = g_zone.load(std::memory_order_acquire);
  if (h == nullptr) return -ENODEV;
  const TableGauges t = load_relaxed(workers_of(h)[0]).tables;
  rte_tel_data_start_dict(d);
  rte_tel_data_add_dict_u64(d, "allocations", t.allocations);
  rte_tel_data_add_dict_u64(d, "channels", t.channels);
  rte_tel_data_add_dict_u64(d, "bindings", t.bindings);
  rte_tel_data_add_dict_u64(d, "permissions", t.permissions);
  rte_tel_data_add_dict_u64(d, "longest_probe", t.longest_probe);
  return 0;
}

}  // namespace

std::atomic<uint32_t>* command_discard_switch(size_t worker) {
  return worker < g_discard.size() ? &g_discard[worker] : nullptr;
}

Result<bool, std::string> register_telemetry(const CountersZoneView& zone) {
  if (zone.header == nullptr || zone.workers.empty()) return Err{std::string("telemetry: no counters zone")};
  const bool first = g_zone.exchange(zone.header, std::memory_order_acq_rel) == nullptr;
  if (!first) return true;
  struct Command {
    const char* path;
    telemetry_cb fn;
    const char* help;
  };
  static constexpr Command kCommands[] = {
      {"/relay/stats", stats, "Relay data-plane counters summed over workers. Takes no parameters"},
      {"/relay/lcores", lcores, "Per worker lcore: port, busy/total TSC cycles, rx/tx packets and bytes. No parameters"},
      {"/relay/allocations", allocations, "Allocations, channels, bindings and permissions in the workers' tables, and the longest probe. No parameters"},
      {"/relay/debug/discard_commands", discard_commands, "Fault injection: <worker>,<count> makes that worker throw away its next count numbered commands"},
  };
  for (const Command& c : kCommands)
    if (const int rc = rte_telemetry_register_cmd(c.path, c.fn, c.help); rc != 0)
      return Err{std::string("rte_telemetry_register_cmd ") + c.path + ": " + std::strerror(-rc)};
  return true;
}

}  // namespace relay::dataplane
