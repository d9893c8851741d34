// The control plane's one thread: a loop that drains "to_cp" into the
// Server, carries out its commands, runs its timers, drains "to_stream"
// into the stream server, and lets the io_context (portal WebSocket,
// signals, metrics, TURN streams) run its ready handlers.
//
// The data plane owns a core; this loop must not spin. A turn that found
// work is followed at once by the next; after an idle turn the thread
// sleeps kMaxIdleWait (less when a Server timer is due sooner), so a
// datagram waits at most that long on to_cp. It sleeps in clock_nanosleep
// rather than io_context::run_for(): Asio's epoll reactor rounds a bare
// timeout up to whole milliseconds, and a timer-driven run_one() costs two
// more syscalls per wakeup (timerfd_settime, epoll_wait) - measured 8.4 %
// of a core idle against 6 % for this loop on the loaded 2-core CI box.
// The io_context still runs every turn while busy and every
// kIdleIoInterval while idle; the portal needs nothing faster.
#pragma once

#include <chrono>
#include <cstdint>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <rte_ring.h>

#include "common/log.hpp"
#include "common/time.hpp"
#include "controlplane/core/server.hpp"
#include "controlplane/metrics/histogram.hpp"
#include "controlplane/process/dispatcher.hpp"
#include "controlplane/process/stream_server.hpp"

namespace relay::process {

Instant monotonic_now();                // CLOCK_MONOTONIC, as ring_abi expiry_ns
std::chrono::seconds unix_time_now();   // CLOCK_REALTIME

struct LoopCounters {
  uint64_t turns = 0;
  uint64_t idle_waits = 0;
  uint64_t datagrams_in = 0;
  uint64_t invalid_meta = 0;  // to_cp and to_stream mbufs with unusable metadata, dropped
  uint64_t stream_payloads_in = 0;  // to_stream mbufs handed to the stream server
};

class ControlLoop {
 public:
  // ≤ 200 µs: the extra latency an idle relay adds to a STUN answer
  // (~3300 wakeups/s once timer slack is added).
  static constexpr Duration kMaxIdleWait = std::chrono::microseconds(200);
  // Server::set_wall_clock: re-anchor credential expiry against NTP steps.
  static constexpr Duration kWallClockRefresh = std::chrono::seconds(10);
  // How late portal/metrics IO may run while the relay is idle.
  static constexpr Duration kIdleIoInterval = std::chrono::milliseconds(1);
  static constexpr unsigned kBurst = 32;

  ControlLoop(boost::asio::io_context& io, core::Server& server, Dispatcher& dispatcher, rte_ring* to_cp,
              rte_ring* acks);

  // Runs until stop(); returns with the io_context still usable.
  void run();
  void stop() { stopping_ = true; }
  // TURN over TCP/TLS: each turn drains `to_stream` into `streams`.
  void serve_streams(rte_ring* to_stream, StreamServer* streams) {
    to_stream_ = to_stream;
    streams_ = streams;
  }
  [[nodiscard]] const LoopCounters& counters() const { return counters_; }
  // From a worker's receive timestamp to this loop taking the datagram.
  [[nodiscard]] const metrics::Log2Histogram& exception_latency() const { return exception_latency_; }

 private:
  // One pass; true when it did anything.
  bool turn();
  size_t drain_to_cp(Instant now);
  size_t drain_acks(Instant now);
  size_t drain_to_stream();
  void idle_wait(Instant now);
  void report_losses();

  boost::asio::io_context& io_;
  core::Server& server_;
  Dispatcher& dispatcher_;
  rte_ring* to_cp_;
  rte_ring* acks_;
  rte_ring* to_stream_ = nullptr;
  StreamServer* streams_ = nullptr;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_running_;
  Instant next_wall_clock_{};
  Instant next_io_poll_{};
  bool stopping_ = false;
  LoopCounters counters_;
  metrics::Log2Histogram exception_latency_;
  DispatchStats reported_;
  ReconcileStats reported_reconcile_;
  uint64_t reported_invalid_meta_ = 0;
  log::RateLimiter warnings_{1, std::chrono::seconds(10)};
};

}  // namespace relay::process
