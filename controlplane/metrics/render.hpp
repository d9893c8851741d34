// What GET /metrics answers: the Server's statistics, the data plane's
// counters and the control plane's own IO, as Prometheus text. Pure: the
// process gathers the inputs at scrape time and serves the string.
//
// Names start with relay_, counters end in _total, units are bytes and
// seconds. Every label value comes from a declarative table (core/stats.hpp,
// common/counters_abi.hpp), so logs, tests and metrics share one vocabulary.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/build_info.hpp"
#include "controlplane/core/stats.hpp"
#include "controlplane/metrics/dataplane_snapshot.hpp"
#include "controlplane/metrics/histogram.hpp"

namespace relay::metrics {

// The control plane's side of the rings (process::LoopCounters and
// process::DispatchStats, copied by the process).
struct ControlPlaneIo {
  uint64_t datagrams_received = 0;     // mbufs taken from to_cp
  uint64_t datagrams_invalid_meta = 0;  // of those, dropped for unusable metadata
  uint64_t datagrams_sent = 0;          // enqueued on from_cp
  uint64_t datagrams_refused = 0;       // can never fit one mbuf
  uint64_t datagrams_lost = 0;          // from_cp full and the waiting queue full
  uint64_t commands_published = 0;      // table commands, each on every cmd ring
  uint64_t commands_lost = 0;           // cmd ring entries lost, summed over rings
  uint64_t datagrams_waiting = 0;       // gauge: waiting for room on from_cp
  uint64_t commands_waiting = 0;        // gauge: waiting for room on cmd rings
  // Reconciliation (process::ReconcileStats).
  struct Divergences {
    std::string_view reason;  // process::kDivergenceNames
    uint64_t count = 0;
  };
  std::vector<Divergences> replica_divergences;
  uint64_t replica_resyncs = 0;          // completed
  uint64_t replica_resync_commands = 0;  // messages streamed by resyncs
  uint64_t replica_digest_checks = 0;
  uint64_t replica_digest_mismatches = 0;
  uint64_t replica_installs_refused = 0;  // a worker's table was full
  uint64_t replicas_resyncing = 0;        // gauge
  // TURN over TCP/TLS (process::StreamStats); absent when streams are off.
  struct Streams {
    uint64_t tcp_connections = 0;  // gauges
    uint64_t tls_connections = 0;
    std::vector<Divergences> closed;   // by process::kStreamCloseNames
    std::vector<Divergences> dropped;  // by process::kStreamDropNames
    uint64_t messages_in = 0;
    uint64_t messages_out = 0;
  };
  std::optional<Streams> streams;
};

struct ControlPlaneMemory {
  uint64_t heap_bytes = 0;      // allocator bytes in use
  uint64_t resident_bytes = 0;  // the process's RSS (hugepages are not in it)
};

// `exception_latency`: for each to_cp datagram, from the worker's receive
// timestamp (PacketMeta::rx_timestamp_ns) to the control plane taking it
// off the ring. A snapshot without workers renders relay_dataplane_up 0 and
// no data-plane families. `build` becomes relay_build_info's labels.
std::string render_metrics(const BuildInfo& build, const core::Stats& server, const DataplaneSnapshot& dataplane, const ControlPlaneIo& io,
                           const ControlPlaneMemory& memory, const Log2Histogram& exception_latency);

}  // namespace relay::metrics
