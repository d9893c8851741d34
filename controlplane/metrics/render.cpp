#include "controlplane/metrics/render.hpp"

#include <map>
#include <string_view>
#include <vector>

#include "controlplane/metrics/exposition.hpp"

namespace relay::metrics {

namespace {

void render_allocations(Exposition& out, const core::Stats& s) {
  out.family("relay_allocations_active", MetricType::Gauge,
             "Allocations alive now, by relay address family (a dual-family allocation counts in both).");
  out.sample("relay_allocations_active", {{"family", "ipv4"}}, s.active_allocations_v4);
  out.sample("relay_allocations_active", {{"family", "ipv6"}}, s.active_allocations_v6);
  const struct {
    std::string_view name;
    std::string_view help;
    uint64_t value;
  } totals[] = {
      {"relay_allocations_created_total", "Allocations created (RFC 8656 Allocate success).", s.allocations_created},
      {"relay_allocations_expired_total", "Allocations whose lifetime ran out.", s.allocations_expired},
      {"relay_allocations_deleted_total", "Allocations deleted by a Refresh with LIFETIME 0.", s.allocations_deleted},
      {"relay_allocations_restored_total", "Allocations adopted from a running data plane at startup.",
       s.allocations_restored},
      {"relay_allocations_ended_total", "Allocations ended by the operator: relayctl kill, the drain deadline.",
       s.allocations_ended},
      {"relay_channels_bound_total", "Channel bindings created (RFC 8656 ChannelBind success).", s.channels_bound},
      {"relay_channels_expired_total", "Channel bindings whose lifetime ran out.", s.channels_expired},
      {"relay_permissions_created_total", "Permissions created (RFC 8656 §9).", s.permissions_created},
      {"relay_channels_revoked_total", "Channel bindings removed because a reloaded peer policy denies their peer.",
       s.channels_revoked},
      {"relay_permissions_revoked_total", "Permissions removed because a reloaded peer policy denies their peer.",
       s.permissions_revoked},
      {"relay_port_holds_cut_short_total",
       "Port holds ended before their 5 minutes so that half the port range stays allocatable.",
       s.port_holds_cut_short},
      {"relay_stale_nonces_total", "Requests answered 438 Stale Nonce (RFC 8656 §7.2).", s.stale_nonces},
      {"relay_retransmissions_total", "Requests answered again from the response cache.", s.retransmissions},
  };
  for (const auto& t : totals) {
    out.family(t.name, MetricType::Counter, t.help);
    out.sample(t.name, {}, t.value);
  }
  out.family("relay_channels_active", MetricType::Gauge, "Channel bindings alive now.");
  out.sample("relay_channels_active", {}, s.active_channels);
  out.family("relay_ports_free", MetricType::Gauge, "Ports of the relay range ready for the next allocation.");
  out.sample("relay_ports_free", {}, s.free_ports);
  out.family("relay_ports_held", MetricType::Gauge,
             "Ports kept out of use for 5 minutes after an allocation with channels ended (RFC 8656 §12).");
  out.sample("relay_ports_held", {}, s.held_ports);
}

void render_requests(Exposition& out, const core::Stats& s) {
  out.family("relay_requests_total", MetricType::Counter,
             "STUN/TURN requests answered, by method and response code (success or the error code).");
  for (size_t m = 0; m < core::kMethodLabels; ++m)
    for (size_t c = 0; c < core::kResponseCodes; ++c)
      out.sample("relay_requests_total",
                 {{"method", core::to_string(static_cast<core::MethodLabel>(m))},
                  {"code", core::to_string(static_cast<core::ResponseCode>(c))}},
                 s.responses[m][c]);
  out.family("relay_auth_failures_total", MetricType::Counter, "Requests that failed authentication, by reason.");
  for (size_t r = 0; r < core::kAuthFailures; ++r)
    out.sample("relay_auth_failures_total", {{"reason", core::to_string(static_cast<core::AuthFailure>(r))}},
               s.auth_failures[r]);
  out.family("relay_stun_drops_total", MetricType::Counter,
             "Datagrams on the exception path the control plane dropped without an answer, by reason.");
  for (size_t r = 0; r < core::kDropReasons; ++r)
    out.sample("relay_stun_drops_total", {{"reason", core::to_string(static_cast<core::DropReason>(r))}},
               s.drops[r]);
  out.family("relay_quota_rejections_total", MetricType::Counter, "Requests refused by a quota, by quota.");
  for (size_t q = 0; q < core::kQuotas; ++q)
    out.sample("relay_quota_rejections_total", {{"quota", core::to_string(static_cast<core::Quota>(q))}},
               s.quota_rejections[q]);
}

void render_ports(Exposition& out, const DataplaneSnapshot& dp) {
  std::map<uint16_t, WorkerCounters> by_port;
  for (const WorkerSample& w : dp.workers) {
    WorkerCounters& p = by_port[w.port];
    for (size_t i = 0; i < kCounterCount; ++i) p.values[i] += w.counters.values[i];
    p.rx_bytes += w.counters.rx_bytes;
    p.tx_bytes += w.counters.tx_bytes;
  }
  const struct {
    std::string_view name;
    std::string_view help;
    uint64_t (*value)(const WorkerCounters&);
  } families[] = {
      {"relay_dataplane_rx_packets_total", "Frames the workers received, by port.",
       [](const WorkerCounters& c) { return c.get(Counter::RxPackets); }},
      {"relay_dataplane_rx_bytes_total", "Frame bytes the workers received, by port.",
       [](const WorkerCounters& c) { return c.rx_bytes; }},
      {"relay_dataplane_tx_packets_total", "Frames the port accepted for sending, by port.",
       [](const WorkerCounters& c) { return c.get(Counter::TxPackets); }},
      {"relay_dataplane_tx_bytes_total", "Frame bytes the port accepted for sending, by port.",
       [](const WorkerCounters& c) { return c.tx_bytes; }},
      {"relay_dataplane_tx_refused_total", "Frames the port refused (TX queue full) and the worker freed, by port.",
       [](const WorkerCounters& c) { return c.get(Counter::TxRefused); }},
  };
  for (const auto& f : families) {
    out.family(f.name, MetricType::Counter, f.help);
    for (const auto& [port, c] : by_port) out.sample(f.name, {{"port", std::to_string(port)}}, f.value(c));
  }
}

void render_outcomes(Exposition& out, const WorkerCounters& sum) {
  out.family("relay_dataplane_drops_total", MetricType::Counter,
             "Frames the data plane dropped, by reason (the data plane's counter table without drop_).");
  for (size_t i = 0; i < kCounterCount; ++i)
    if (const auto c = static_cast<Counter>(i); kind_of(c) == CounterKind::Drop)
      out.sample("relay_dataplane_drops_total", {{"reason", drop_reason(c)}}, sum.values[i]);
  // Port rows have their own families, by port (render_ports).
  out.family("relay_dataplane_events_total", MetricType::Counter,
             "Everything else the data plane counts: forwarding outcomes, host replies, commands applied.");
  for (size_t i = 0; i < kCounterCount; ++i)
    if (const auto c = static_cast<Counter>(i); kind_of(c) != CounterKind::Drop && kind_of(c) != CounterKind::Port)
      out.sample("relay_dataplane_events_total", {{"event", to_string(c)}}, sum.values[i]);
}

void render_relayed(Exposition& out, const WorkerCounters& sum) {
  const struct {
    std::string_view name;
    std::string_view help;
    uint64_t RelayedTraffic::*field;
  } families[] = {
      {"relay_relayed_packets_total",
       "Datagrams relayed, by direction and by the address family they arrived and left with.",
       &RelayedTraffic::packets},
      {"relay_relayed_bytes_total",
       "Application bytes relayed (UDP or ChannelData payload, no headers), by direction and families.",
       &RelayedTraffic::bytes},
  };
  for (const auto& f : families) {
    out.family(f.name, MetricType::Counter, f.help);
    for (size_t d = 0; d < kDirectionCount; ++d)
      for (size_t in = 0; in < 2; ++in)
        for (size_t o = 0; o < 2; ++o)
          out.sample(f.name,
                     {{"direction", kDirectionNames[d]},
                      {"from_family", kFamilyIndexNames[in]},
                      {"to_family", kFamilyIndexNames[o]}},
                     sum.relayed[d][in][o].*f.field);
  }
}

// The three families Firezone's original relay exported, under its names
// and labels, so its dashboards keep working; ours above say more.
void render_original_relay(Exposition& out, const core::Stats& s, uint64_t relayed_bytes) {
  // A counter, as its _total says (promtool refuses a gauge of that name);
  // live allocations are relay_allocations_active.
  out.family("relay_allocations_total", MetricType::Counter,
             "Allocations made, adopted ones included (Firezone's original relay's name).");
  out.sample("relay_allocations_total", {}, s.allocations_created + s.allocations_restored);
  out.family("relay_responses_total", MetricType::Counter,
             "Responses by class (success, error) and message (Firezone's original relay's name; see "
             "relay_requests_total).");
  for (size_t m = 0; m < core::kMethodLabels; ++m) {
    const auto method = static_cast<core::MethodLabel>(m);
    if (method == core::MethodLabel::Other) continue;  // the original relay knew these five
    uint64_t errors = 0;
    for (size_t c = 0; c < core::kResponseCodes; ++c)
      if (static_cast<core::ResponseCode>(c) != core::ResponseCode::Success) errors += s.responses[m][c];
    const uint64_t successes = s.response(method, core::ResponseCode::Success);
    out.sample("relay_responses_total", {{"class", "success"}, {"message", core::to_string(method)}}, successes);
    out.sample("relay_responses_total", {{"class", "error"}, {"message", core::to_string(method)}}, errors);
  }
  out.family("relay_data_relayed_bytes_total", MetricType::Counter,
             "Application bytes relayed, all directions (Firezone's original relay's name; see "
             "relay_relayed_bytes_total).");
  out.sample("relay_data_relayed_bytes_total", {}, relayed_bytes);
}

// Cycles become seconds with the TSC rate the data plane recorded; the
// busy fraction of a worker is rate(busy) / rate(loop).
void render_lcores(Exposition& out, const DataplaneSnapshot& dp) {
  const double hz = dp.tsc_hz != 0 ? static_cast<double>(dp.tsc_hz) : 1.0;
  auto seconds = [&](std::string_view name, std::string_view help, uint64_t WorkerCounters::*cycles) {
    out.family(name, MetricType::Counter, help);
    for (const WorkerSample& w : dp.workers)
      out.sample(name, {{"lcore", std::to_string(w.lcore)}}, static_cast<double>(w.counters.*cycles) / hz);
  };
  seconds("relay_dataplane_lcore_busy_seconds_total",
          "Time a worker lcore spent in loop iterations that received or sent packets.",
          &WorkerCounters::busy_cycles);
  seconds("relay_dataplane_lcore_loop_seconds_total", "Time a worker lcore spent in its polling loop, busy or not.",
          &WorkerCounters::total_cycles);
  seconds("relay_dataplane_lcore_sleep_seconds_total",
          "Time a worker lcore slept between loop iterations (dataplane.idle = adaptive); idle polling = loop - "
          "busy - sleep.",
          &WorkerCounters::sleep_cycles);
  out.family("relay_dataplane_lcore_idle_mode", MetricType::Gauge,
             "1 for the dataplane.idle mode a worker lcore runs in.");
  for (const WorkerSample& w : dp.workers)
    out.sample("relay_dataplane_lcore_idle_mode", {{"lcore", std::to_string(w.lcore)}, {"mode", to_string(w.idle)}},
               uint64_t{1});
}

void render_tables(Exposition& out, const DataplaneSnapshot& dp) {
  const TableGauges& t = dp.workers.front().counters.tables;
  out.family("relay_dataplane_table_entries", MetricType::Gauge,
             "Entries in a worker's forwarding tables (every worker holds the same replica).");
  out.sample("relay_dataplane_table_entries", {{"table", "allocations"}}, t.allocations);
  out.sample("relay_dataplane_table_entries", {{"table", "channels"}}, t.channels);
  out.sample("relay_dataplane_table_entries", {{"table", "bindings"}}, t.bindings);
  out.sample("relay_dataplane_table_entries", {{"table", "permissions"}}, t.permissions);
  if (dp.mempool) {
    out.family("relay_dataplane_mbufs_in_use", MetricType::Gauge, "Mbufs of the data plane's pool in use.");
    out.sample("relay_dataplane_mbufs_in_use", {}, dp.mempool->in_use);
    out.family("relay_dataplane_mbufs", MetricType::Gauge, "Mbufs in the data plane's pool.");
    out.sample("relay_dataplane_mbufs", {}, dp.mempool->capacity);
  }
}

void render_rings(Exposition& out, const ControlPlaneIo& io, uint64_t to_cp_full) {
  out.family("relay_ring_enqueue_failures_total", MetricType::Counter,
             "Ring entries lost because the ring was full: to_cp (workers to control plane, datagram dropped), "
             "from_cp and cmd (control plane to workers, after its waiting queue also filled).");
  out.sample("relay_ring_enqueue_failures_total", {{"ring", "to_cp"}}, to_cp_full);
  out.sample("relay_ring_enqueue_failures_total", {{"ring", "from_cp"}}, io.datagrams_lost);
  out.sample("relay_ring_enqueue_failures_total", {{"ring", "cmd"}}, io.commands_lost);
  out.family("relay_ring_waiting", MetricType::Gauge, "Items the control plane holds until their ring has room.");
  out.sample("relay_ring_waiting", {{"ring", "from_cp"}}, io.datagrams_waiting);
  out.sample("relay_ring_waiting", {{"ring", "cmd"}}, io.commands_waiting);
  const struct {
    std::string_view name;
    std::string_view help;
    uint64_t value;
  } totals[] = {
      {"relay_controlplane_datagrams_received_total", "Datagrams the control plane took from to_cp.",
       io.datagrams_received},
      {"relay_controlplane_datagrams_invalid_total", "Datagrams from to_cp dropped for unusable metadata.",
       io.datagrams_invalid_meta},
      {"relay_controlplane_datagrams_sent_total", "Datagrams the control plane put on from_cp.", io.datagrams_sent},
      {"relay_controlplane_datagrams_refused_total", "Datagrams too large for one mbuf, never sent.",
       io.datagrams_refused},
      {"relay_controlplane_commands_total", "Table commands published to the workers.", io.commands_published},
      {"relay_replica_resyncs_total",
       "Workers' replicas resynchronised from the control plane's state (ARCHITECTURE.md, Reconciliation).",
       io.replica_resyncs},
      {"relay_replica_resync_commands_total", "Table commands streamed by resynchronisations.",
       io.replica_resync_commands},
      {"relay_replica_digest_checks_total", "Replica digests compared with the control plane's.",
       io.replica_digest_checks},
      {"relay_replica_digest_mismatches_total", "Replica digest comparisons that disagreed.",
       io.replica_digest_mismatches},
      {"relay_replica_installs_refused_total", "Installs a worker refused because its table was full.",
       io.replica_installs_refused},
  };
  for (const auto& t : totals) {
    out.family(t.name, MetricType::Counter, t.help);
    out.sample(t.name, {}, t.value);
  }
  out.family("relay_replica_divergences_total", MetricType::Counter,
             "Times a worker's replica was found to disagree with the control plane, by how it was found.");
  for (const auto& d : io.replica_divergences)
    out.sample("relay_replica_divergences_total", {{"reason", d.reason}}, d.count);
  out.family("relay_replicas_resyncing", MetricType::Gauge, "Workers whose replica is being resynchronised.");
  out.sample("relay_replicas_resyncing", {}, io.replicas_resyncing);
}

void render_streams(Exposition& out, const ControlPlaneIo::Streams& s) {
  out.family("relay_stream_connections", MetricType::Gauge, "Open TURN connections over TCP and TLS.");
  out.sample("relay_stream_connections", {{"transport", "tcp"}}, s.tcp_connections);
  out.sample("relay_stream_connections", {{"transport", "tls"}}, s.tls_connections);
  out.family("relay_stream_connections_closed_total", MetricType::Counter,
             "TCP/TLS connections closed, by reason (refused at accept included).");
  for (const auto& c : s.closed) out.sample("relay_stream_connections_closed_total", {{"reason", c.reason}}, c.count);
  out.family("relay_stream_messages_total", MetricType::Counter,
             "STUN and ChannelData messages read from (in) and queued to (out) stream clients.");
  out.sample("relay_stream_messages_total", {{"direction", "in"}}, s.messages_in);
  out.sample("relay_stream_messages_total", {{"direction", "out"}}, s.messages_out);
  out.family("relay_stream_dropped_total", MetricType::Counter,
             "Messages for or from stream clients that were dropped, by reason.");
  for (const auto& d : s.dropped) out.sample("relay_stream_dropped_total", {{"reason", d.reason}}, d.count);
}

void render_memory(Exposition& out, const ControlPlaneMemory& m) {
  out.family("relay_controlplane_heap_bytes", MetricType::Gauge,
             "Bytes of the control plane's heap in use (malloc'd and not freed).");
  out.sample("relay_controlplane_heap_bytes", {}, m.heap_bytes);
  out.family("relay_controlplane_resident_bytes", MetricType::Gauge,
             "Resident memory of the control plane process, without the shared hugepages.");
  out.sample("relay_controlplane_resident_bytes", {}, m.resident_bytes);
}

void render_latency(Exposition& out, const Log2Histogram& h) {
  constexpr std::string_view kName = "relay_exception_latency_seconds";
  out.family(kName, MetricType::Histogram,
             "From a worker receiving a STUN datagram to the control plane taking it off the to_cp ring.");
  const std::string bucket = std::string(kName) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < Log2Histogram::kFiniteBuckets; ++i) {
    cumulative += h.buckets()[i];
    const std::string le = format_double(static_cast<double>(Log2Histogram::upper_bound_ns(i)) / 1e9);
    out.sample(bucket, {{"le", le}}, cumulative);
  }
  out.sample(bucket, {{"le", "+Inf"}}, h.count());
  out.sample(std::string(kName) + "_sum", {}, static_cast<double>(h.sum_ns()) / 1e9);
  out.sample(std::string(kName) + "_count", {}, h.count());
}

}  // namespace

std::string render_metrics(const BuildInfo& build, const core::Stats& server, const DataplaneSnapshot& dataplane,
                           const ControlPlaneIo& io, const ControlPlaneMemory& memory,
                           const Log2Histogram& exception_latency) {
  Exposition out;
  out.family("relay_build_info", MetricType::Gauge,
             "Always 1; the labels say which release, git revision and DPDK the control plane runs.");
  out.sample("relay_build_info", {{"version", build.version}, {"revision", build.revision}, {"dpdk", build.dpdk}},
             uint64_t{1});
  render_allocations(out, server);
  render_requests(out, server);
  const bool up = !dataplane.workers.empty();
  out.family("relay_dataplane_up", MetricType::Gauge, "1 when the data plane's counters could be read.");
  out.sample("relay_dataplane_up", {}, uint64_t{up ? 1u : 0u});
  uint64_t to_cp_full = 0;
  uint64_t relayed_bytes = 0;
  if (up) {
    std::vector<WorkerCounters> workers;
    workers.reserve(dataplane.workers.size());
    for (const WorkerSample& w : dataplane.workers) workers.push_back(w.counters);
    const WorkerCounters sum = sum_counters(workers);
    to_cp_full = sum.get(Counter::DropToControlPlaneFull);
    for (const auto& by_direction : sum.relayed)
      for (const auto& by_in : by_direction)
        for (const auto& traffic : by_in) relayed_bytes += traffic.bytes;
    render_ports(out, dataplane);
    render_outcomes(out, sum);
    render_relayed(out, sum);
    render_lcores(out, dataplane);
    render_tables(out, dataplane);
  }
  render_original_relay(out, server, relayed_bytes);
  render_rings(out, io, to_cp_full);
  if (io.streams) render_streams(out, *io.streams);
  render_memory(out, memory);
  render_latency(out, exception_latency);
  return std::move(out).take();
}

}  // namespace relay::metrics
