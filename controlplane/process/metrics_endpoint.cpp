#include "controlplane/process/metrics_endpoint.hpp"

#include <malloc.h>
#include <rte_mempool.h>
#include <rte_memzone.h>
#include <rte_version.h>
#include <unistd.h>

#include <cstddef>
#include <fstream>
#include <span>

#include "common/counters_abi.hpp"
#include "common/ring_abi.hpp"
#include "controlplane/metrics/render.hpp"

namespace relay::process {
namespace {

metrics::DataplaneSnapshot snapshot(const std::string& zone_name, rte_mempool* pool) {
  metrics::DataplaneSnapshot snap;
  // Looked up per scrape: a restarted data plane re-creates the zone.
  if (const rte_memzone* zone = rte_memzone_lookup(zone_name.c_str())) {
    auto bytes = std::span<const std::byte>(static_cast<const std::byte*>(zone->addr), zone->len);
    if (auto read = metrics::snapshot_dataplane(bytes)) snap = std::move(read.value());
  }
  snap.mempool = metrics::MempoolUsage{rte_mempool_in_use_count(pool), pool->size};
  return snap;
}

std::optional<metrics::ControlPlaneIo::Streams> streams_of(const StreamServer* streams) {
  if (streams == nullptr) return std::nullopt;
  const StreamStats& s = streams->stats();
  metrics::ControlPlaneIo::Streams out{.tcp_connections = s.tcp_connections,
                                       .tls_connections = s.tls_connections,
                                       .closed = {},
                                       .dropped = {},
                                       .messages_in = s.messages_in,
                                       .messages_out = s.messages_out};
  for (size_t i = 0; i < kStreamCloseCount; ++i) out.closed.push_back({kStreamCloseNames[i], s.closed[i]});
  for (size_t i = 0; i < kStreamDropCount; ++i) out.dropped.push_back({kStreamDropNames[i], s.dropped[i]});
  return out;
}

metrics::ControlPlaneIo io_of(const ControlLoop& loop, const Dispatcher& dispatcher, const StreamServer* streams) {
  const LoopCounters& l = loop.counters();
  const DispatchStats d = dispatcher.stats();
  metrics::ControlPlaneIo io{.datagrams_received = l.datagrams_in,
                             .datagrams_invalid_meta = l.invalid_meta,
                             .datagrams_sent = d.datagrams.delivered,
                             .datagrams_refused = d.datagrams.refused,
                             .datagrams_lost = d.datagrams.overflowed,
                             .commands_published = d.commands,
                             .commands_lost = d.command_overflows,
                             .datagrams_waiting = d.datagrams_waiting,
                             .commands_waiting = d.commands_waiting,
                             .replica_divergences = {},
                             .replica_resyncs = d.reconcile.resyncs_completed,
                             .replica_resync_commands = d.reconcile.resync_messages,
                             .replica_digest_checks = d.reconcile.digest_checks,
                             .replica_digest_mismatches = d.reconcile.digest_mismatches,
                             .replica_installs_refused = d.reconcile.install_refused,
                             .replicas_resyncing = d.reconcile.lanes_resyncing,
                             .streams = streams_of(streams)};
  for (size_t i = 0; i < kDivergenceCount; ++i)
    io.replica_divergences.push_back({kDivergenceNames[i], d.reconcile.divergences[i]});
  return io;
}

metrics::ControlPlaneMemory memory_now() {
  const struct mallinfo2 m = mallinfo2();
  uint64_t pages = 0, resident_pages = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident_pages;
  return {.heap_bytes = m.uordblks + m.hblkhd,
          .resident_bytes = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))};
}

}  // namespace

Result<std::unique_ptr<metrics::MetricsServer>, std::string> start_health_endpoint(
    boost::asio::io_context& io, const RelayConfig& config, const metrics::Readiness& readiness) {
  if (!config.health.address) return std::unique_ptr<metrics::MetricsServer>{};
  return metrics::MetricsServer::start(io, *config.health.address, metrics::health_routes(readiness),
                                       "health endpoint");
}

Result<std::unique_ptr<metrics::MetricsServer>, std::string> start_metrics_endpoint(
    boost::asio::io_context& io, const RelayConfig& config, const SharedObjects& shared, const core::Server& server,
    const ControlLoop& loop, const Dispatcher& dispatcher, const StreamServer* streams) {
  if (!config.metrics.address) return std::unique_ptr<metrics::MetricsServer>{};
  std::string zone = counters_memzone_name(config.dataplane.ring_prefix);
  rte_mempool* pool = shared.pool;
  return metrics::MetricsServer::start(io, *config.metrics.address, [&, zone, pool, streams, build = build_info(rte_version())] {
    return metrics::render_metrics(build, server.stats(), snapshot(zone, pool), io_of(loop, dispatcher, streams),
                                   memory_now(), loop.exception_latency());
  });
}

}  // namespace relay::process
