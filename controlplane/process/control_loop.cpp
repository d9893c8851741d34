#include "controlplane/process/control_loop.hpp"

#include <time.h>

#include <algorithm>
#include <array>
#include <span>

#include <rte_mbuf.h>

#include "controlplane/process/dpdk_attach.hpp"
#include "controlplane/process/ring_codec.hpp"

namespace relay::process {

Instant monotonic_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Instant::from_ns(static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec));
}

std::chrono::seconds unix_time_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::chrono::seconds(ts.tv_sec);
}

ControlLoop::ControlLoop(boost::asio::io_context& io, core::Server& server, Dispatcher& dispatcher, rte_ring* to_cp,
                         rte_ring* acks)
    : io_(io),
      server_(server),
      dispatcher_(dispatcher),
      to_cp_(to_cp),
      acks_(acks),
      keep_running_(boost::asio::make_work_guard(io)) {}

void ControlLoop::run() {
  while (!stopping_ && !io_.stopped()) {
    ++counters_.turns;
    if (!turn()) idle_wait(monotonic_now());
  }
  // Without pending work poll() would mark the io_context stopped; the
  // guard goes only now, so the caller's close handshake can finish.
  keep_running_.reset();
}

bool ControlLoop::turn() {
  const Instant now = monotonic_now();
  if (now >= next_wall_clock_) {
    server_.set_wall_clock(now, unix_time_now());
    next_wall_clock_ = now + kWallClockRefresh;
  }
  size_t work = drain_to_cp(now);
  if (auto due = server_.poll_timeout(); due && *due <= now) {
    server_.handle_timeout(now);
    ++work;
  }
  while (auto command = server_.next_command()) {
    dispatcher_.perform(std::move(*command));
    ++work;
  }
  work += dispatcher_.flush(now);
  work += drain_to_stream();
  work += drain_acks(now);
  dispatcher_.reconcile(now);
  // Portal, metrics, signals: whatever is ready. An idle loop asks the
  // kernel only every kIdleIoInterval, halving its syscalls per wakeup.
  if (work > 0 || now >= next_io_poll_) {
    work += io_.poll();
    next_io_poll_ = now + kIdleIoInterval;
  }
  report_losses();
  return work > 0;
}

// Reads: to_cp mbufs and their PacketMeta. Frees every mbuf it dequeued.
size_t ControlLoop::drain_to_cp(Instant now) {
  std::array<rte_mbuf*, kBurst> burst{};
  const unsigned n = rte_ring_dequeue_burst(to_cp_, reinterpret_cast<void**>(burst.data()), kBurst, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = burst[i];
    const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
    exception_latency_.observe_interval(meta->rx_timestamp_ns, now.ns());
    auto received = received_from(*meta);
    if (received && m->nb_segs == 1) [[likely]] {
      server_.handle_client_input(std::span<const uint8_t>(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len),
                                  received->from, received->to, now);
    } else {
      ++counters_.invalid_meta;
    }
    free_mbuf_uncached(m);
  }
  counters_.datagrams_in += n;
  return n;
}

// Reads: to_stream mbufs and their PacketMeta. Frees every mbuf it dequeued;
// the stream server copies the payload into the connection's queue (or
// drops it, counted: back-pressure, a stream that is gone).
size_t ControlLoop::drain_to_stream() {
  if (to_stream_ == nullptr) return 0;
  std::array<rte_mbuf*, kBurst> burst{};
  const unsigned n = rte_ring_dequeue_burst(to_stream_, reinterpret_cast<void**>(burst.data()), kBurst, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = burst[i];
    const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
    auto client = stream_client_of(*meta);
    if (client && m->nb_segs == 1) [[likely]] {
      streams_->send_relayed(*client, std::span<const uint8_t>(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len));
    } else {
      ++counters_.invalid_meta;
    }
    free_mbuf_uncached(m);
  }
  counters_.stream_payloads_in += n;
  return n;
}

size_t ControlLoop::drain_acks(Instant now) {
  std::array<ring_abi::AckMessage, kBurst> burst;
  const unsigned n =
      rte_ring_dequeue_burst_elem(acks_, burst.data(), sizeof(ring_abi::AckMessage), kBurst, nullptr);
  for (unsigned i = 0; i < n; ++i) dispatcher_.take_ack(burst[i], now);
  return n;
}

void ControlLoop::idle_wait(Instant now) {
  Duration wait = kMaxIdleWait;
  if (auto due = server_.poll_timeout()) wait = std::clamp<Duration>(*due - now, Duration::zero(), kMaxIdleWait);
  if (wait <= Duration::zero()) return;
  ++counters_.idle_waits;
  const timespec ts{0, static_cast<long>(wait.count())};
  clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
}

void ControlLoop::report_losses() {
  const DispatchStats now = dispatcher_.stats();
  const Instant t = monotonic_now();
  if (now.command_overflows != reported_.command_overflows) {
    warnings_.warn(t, "command_overflow", "dataplane",
                   "a worker's command ring stayed full: commands lost (entries expire on their own)",
                   {{"lost_total", now.command_overflows}});
  }
  if (now.datagrams.overflowed != reported_.datagrams.overflowed) {
    warnings_.warn(t, "datagram_overflow", "dataplane", "from_cp stayed full: responses dropped",
                   {{"dropped_total", now.datagrams.overflowed}});
  }
  if (now.datagrams.refused != reported_.datagrams.refused) {
    warnings_.warn(t, "datagram_refused", "dataplane", "a response did not fit one mbuf: dropped",
                   {{"dropped_total", now.datagrams.refused}});
  }
  if (counters_.invalid_meta != reported_invalid_meta_) {
    warnings_.warn(t, "invalid_meta", "dataplane", "to_cp or to_stream message with unusable metadata: dropped",
                   {{"dropped_total", counters_.invalid_meta}});
    reported_invalid_meta_ = counters_.invalid_meta;
  }
  reported_ = now;
  const ReconcileStats& r = now.reconcile;
  for (size_t i = 0; i < kDivergenceCount; ++i) {
    if (r.divergences[i] == reported_reconcile_.divergences[i]) continue;
    const auto why = static_cast<Divergence>(i);
    const log::Fields fields{{"reason", to_string(why)}, {"total", r.divergences[i]}};
    if (why == Divergence::Restart) {  // expected at every start: no warning
      log::info("reconcile", "resynchronising the workers' replicas to the adopted state", fields);
      continue;
    }
    warnings_.warn(t, "replica_diverged", "reconcile", "resynchronising a worker's replica from the control plane's state",
                   fields);
  }
  if (r.resyncs_completed != reported_reconcile_.resyncs_completed)
    log::info("reconcile", "a worker's replica was resynchronised",
              {{"resyncs_total", r.resyncs_completed}, {"messages_total", r.resync_messages}});
  reported_reconcile_ = r;
}

}  // namespace relay::process
