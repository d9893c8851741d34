#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>
#include <sys/prctl.h>

#include <algorithm>
#include <ctime>

#include "common/mix.hpp"
#include "dataplane/frame_builder.hpp"

namespace relay::dataplane {

uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

Result<std::unique_ptr<Worker>, std::string> Worker::create(const WorkerSetup& setup) {
  if (auto valid = validate(setup.config); !valid) return Err{valid.error()};
  if (setup.tsc_hz == 0) return Err{std::string("tsc_hz is zero")};
  if (setup.has_port && setup.stop == nullptr) return Err{std::string("a worker with a port needs a stop flag")};
  const auto& ports = setup.config.stream_ports;
  if (!setup.kernel_port && (ports[0] != 0 || ports[1] != 0 || ports[2] != 0))
    return Err{std::string("stream ports without a kernel (TAP) port to steer them to")};
  return std::make_unique<Worker>(setup, setup.counters);
}

Worker::Worker(const WorkerSetup& setup, WorkerCounters* counters)
    : me_(LocalIdentity::from(setup.config)),
      counters_(counters != nullptr ? counters : &own_counters_),
      burst_(setup.config.burst_size),
      mtu_(setup.config.mtu),
      port_id_(setup.port_id),
      queue_id_(setup.queue_id),
      has_port_(setup.has_port),
      tx_offload_(setup.tx_checksum_offload),
      data_indication_fingerprint_(setup.config.data_indication_fingerprint),
      transaction_ids_(rte_rdtsc() ^ (uint64_t{setup.queue_id} << 48)),
      tables_(setup.config, me_, setup.table_secret.value_or(HashSecret::random())),
      neighbours_(setup.config, setup.tsc_hz, setup.table_secret.value_or(HashSecret::random())),
      echo_limiter_(setup.config.echo_replies_per_second, setup.config.echo_replies_per_second, setup.tsc_hz),
      stun_limiter_(setup.config.stun_rate_per_source, setup.config.stun_burst_per_source, setup.tsc_hz,
                    setup.config.stun_limiter_sets, rte_rdtsc()),
      stream_ports_(setup.kernel_port ? setup.config.stream_ports : std::array<uint16_t, 3>{}),
      has_kernel_(setup.has_port && setup.kernel_port.has_value()),
      kernel_port_(setup.kernel_port.value_or(0)),
      kernel_poll_interval_(setup.tsc_hz / kKernelPollsPerSecond),
      to_stream_(setup.to_stream),
      reset_limiter_(setup.config.tcp_resets_per_second, setup.config.tcp_resets_per_second, setup.tsc_hz),
      syn_limiter_(setup.config.stream_syns_per_second, setup.config.stream_syn_burst, setup.tsc_hz),
      commands_(setup.commands),
      acks_(setup.acks),
      worker_index_(setup.worker_index),
      discard_commands_(setup.discard_commands),
      to_cp_(setup.to_cp),
      from_cp_(setup.from_cp),
      dump_(setup.dump),
      solicitation_pool_(setup.solicitation_pool),
      stop_(setup.stop),
      tsc_hz_(setup.tsc_hz),
      backoff_(setup.config.idle, setup.config.max_idle_sleep_us, setup.tsc_hz),
      tx_hold_(setup.tsc_hz / 1'000'000 * setup.config.tx_hold_us) {
  std::memcpy(kernel_mac_, setup.kernel_mac.data(), 6);
  tsc_base_ = rte_rdtsc();
  last_iteration_tsc_ = tsc_base_;
  monotonic_base_ns_ = monotonic_now_ns();
  live_allocations_.assign((me_.max_allocation_port - me_.min_allocation_port) / 64 + 1, 0);
  ns_per_tick_ = 1e9 / static_cast<double>(tsc_hz_);
}

uint64_t Worker::monotonic_ns(uint64_t tsc) const {
  return monotonic_base_ns_ + static_cast<uint64_t>(static_cast<double>(tsc - tsc_base_) * ns_per_tick_);
}

int worker_main(void* arg) {
  static_cast<Worker*>(arg)->run();
  return 0;
}

void Worker::run() {
  // A sleeping worker must wake when asked, not up to the kernel's default
  // 50 µs of timer slack later.
  if (backoff_.mode() == IdleMode::Adaptive) prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  // Cycles spent before the loop (setup, startup commands) are not the loop's.
  last_iteration_tsc_ = rte_rdtsc();
  if (tx_offload_) {
    while (!stop_->load(std::memory_order_relaxed)) {
      iterate<true>();
      idle_wait();
    }
  } else {
    while (!stop_->load(std::memory_order_relaxed)) {
      iterate<false>();
      idle_wait();
    }
  }
  if (tx_count_ != 0) send_tx();
  counters_->total_cycles += rte_rdtsc() - last_iteration_tsc_;
}

void Worker::idle_wait() {
  const IdleWait w = backoff_.after(worked_, last_iteration_tsc_);
  if (w.kind == IdleWait::Kind::None) [[likely]]
    return;
  if (tx_count_ != 0) {  // never pause or sleep on a held batch
    const uint64_t start = rte_rdtsc();
    send_tx();
    counters_->busy_cycles += rte_rdtsc() - start;
  }
  if (w.kind == IdleWait::Kind::Pause) {
    rte_pause();
    return;
  }
  const uint64_t start = rte_rdtsc();
  rte_delay_us_sleep(w.sleep_us);
  counters_->sleep_cycles += rte_rdtsc() - start;
  ++counters_->sleeps;
}

uint16_t Worker::poll_once() {
  const uint16_t n = tx_offload_ ? iterate<true>() : iterate<false>();
  if (tx_count_ != 0) send_tx();  // one call, one whole turn: nothing held for the next
  return n;
}

template <bool kTxOffload>
uint16_t Worker::iterate() {
  const uint64_t now = rte_rdtsc();
  counters_->total_cycles += now - last_iteration_tsc_;
  last_iteration_tsc_ = now;
  const unsigned commands = apply_commands(now);
  rte_mbuf* rx[kMaxBurst];
  const uint16_t n = has_port_ ? rte_eth_rx_burst(port_id_, queue_id_, rx, burst_) : 0;
  const uint16_t held = tx_count_;  // queued by earlier turns (tx_hold.hpp)
  if (n != 0) {
    Next next[kMaxBurst];
    classify_impl<kTxOffload>({rx, n}, now, monotonic_ns(now), next);
    dispatch({rx, n}, next);
  }
  const unsigned from_cp = from_cp_ != nullptr ? drain_control_plane<kTxOffload>(now) : 0;
  const unsigned from_kernel = has_kernel_ ? drain_kernel<kTxOffload>(now) : 0;
  if (kernel_tx_count_ != 0) send_to_kernel();
  worked_ = n != 0 || commands != 0 || from_cp != 0 || from_kernel != 0 || dump_cursor_.active();
  const bool queued = tx_count_ != held;  // from_cp or the kernel, when nothing was received
  const bool send = tx_hold_.send_now(held, tx_count_, now);
  if (send) send_tx();
  if (n != 0 || queued || send) {
    const uint64_t end = rte_rdtsc();
    counters_->busy_cycles += end - now;
  }
  return n;
}

void Worker::send_tx() {
  // Summed before the burst: once the PMD has an mbuf it may already be freed.
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < tx_count_; ++i) bytes += rte_pktmbuf_pkt_len(tx_[i]);
  const uint16_t sent = rte_eth_tx_burst(port_id_, queue_id_, tx_, tx_count_);
  counters_->add(Counter::TxPackets, sent);
  if (sent < tx_count_) [[unlikely]] {
    for (uint16_t i = sent; i < tx_count_; ++i) bytes -= rte_pktmbuf_pkt_len(tx_[i]);
    counters_->add(Counter::TxRefused, tx_count_ - sent);
    rte_pktmbuf_free_bulk(tx_ + sent, tx_count_ - sent);
  }
  counters_->tx_bytes += bytes;
  tx_count_ = 0;
}

unsigned Worker::apply_commands(uint64_t now_tsc) {
  if (dump_cursor_.active()) [[unlikely]] stream_dump(now_tsc);
  if (commands_ == nullptr) return 0;
  unsigned n = rte_ring_dequeue_burst_elem(commands_, command_batch_, sizeof(ring_abi::CommandMessage),
                                           kCommandsPerIteration, nullptr);
  if (n == 0) return 0;
  // One clock reading per batch: the conversion error is the batch's apply time.
  const uint64_t mono = monotonic_now_ns();
  unsigned total = n;
  apply_batch(n, now_tsc, mono);
  // A group is enqueued whole (all or nothing), so its rest is on the ring:
  // finish it before the next packet burst sees half of it.
  while (command_batch_[n - 1].group_rest != 0) {
    n = rte_ring_dequeue_burst_elem(commands_, command_batch_, sizeof(ring_abi::CommandMessage),
                                    std::min<unsigned>(command_batch_[n - 1].group_rest, kCommandsPerIteration),
                                    nullptr);
    if (n == 0) break;
    apply_batch(n, now_tsc, mono);
    total += n;
  }
  return total;
}

void Worker::apply_batch(unsigned n, uint64_t now_tsc, uint64_t monotonic_now) {
  unsigned acks = 0;
  for (unsigned i = 0; i < n; ++i) {
    const ring_abi::CommandMessage& m = command_batch_[i];
    if (discarded(m)) [[unlikely]]
      continue;
    const Applied result = apply(m, now_tsc, monotonic_now);
    if (m.seq != 0) {
      ack_batch_[acks++] = {m.seq, m.session, worker_index_, static_cast<ring_abi::AckResult>(result),
                            tables_.digest()};
    }
  }
  if (acks == 0) return;
  counters_->tables.digest = tables_.digest();
  counters_->tables.last_ack = uint64_t{ack_batch_[acks - 1].session} << 32 | ack_batch_[acks - 1].seq;
  const unsigned sent =
      acks_ != nullptr ? rte_ring_enqueue_burst_elem(acks_, ack_batch_, sizeof(ring_abi::AckMessage), acks, nullptr)
                       : 0;
  if (sent < acks) counters_->add(Counter::AcksLost, acks - sent);
}

bool Worker::discarded(const ring_abi::CommandMessage& m) {
  if (discard_commands_ == nullptr || m.seq == 0) return false;
  uint32_t left = discard_commands_->load(std::memory_order_relaxed);
  while (left != 0 && !discard_commands_->compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
  }
  if (left == 0) return false;
  counters_->add(Counter::CommandsDiscarded);
  return true;
}

unsigned Worker::apply_pending_commands() {
  unsigned total = 0;
  while (const unsigned n = apply_commands(rte_rdtsc())) total += n;
  return total;
}

// Writes only what the ring has room for (we are its only producer), so
// nothing is ever half-sent; a control plane that stops reading stalls the
// dump, never the worker.
void Worker::stream_dump(uint64_t now_tsc) {
  ring_abi::CommandMessage batch[kDumpMessagesPerIteration];
  const unsigned room = std::min(rte_ring_free_count(dump_), kDumpMessagesPerIteration);
  if (room == 0) return;
  const size_t n = tables_.dump(dump_cursor_, {batch, room}, kDumpVisitsPerIteration,
                                TscClock{tsc_hz_, now_tsc, monotonic_now_ns()});
  if (n != 0) rte_ring_enqueue_burst_elem(dump_, batch, sizeof(ring_abi::CommandMessage), static_cast<unsigned>(n),
                                          nullptr);
}

Applied Worker::apply(const ring_abi::CommandMessage& m, uint64_t now_tsc, uint64_t monotonic_now) {
  if (m.kind == ring_abi::CommandKind::DumpState) {
    if (dump_ == nullptr) {
      counters_->add(Counter::CommandsRejected);
      return Applied::Rejected;
    }
    dump_cursor_.start(m.dump_id);
    counters_->add(Counter::CommandsApplied);
    return Applied::Ok;
  }
  const Applied result = tables_.apply(m, TscClock{tsc_hz_, now_tsc, monotonic_now});
  switch (result) {
    case Applied::Ok: counters_->add(Counter::CommandsApplied); break;
    case Applied::Rejected: counters_->add(Counter::CommandsRejected); break;
    case Applied::TableFull: counters_->add(Counter::CommandTableFull); break;
    case Applied::ProbeLimit: counters_->add(Counter::CommandProbeLimit); break;
  }
  if (result == Applied::Ok) publish_table_gauges(m);
  if (result == Applied::Ok &&
      (m.kind == ring_abi::CommandKind::InstallChannel || m.kind == ring_abi::CommandKind::InstallPermission))
    prime_neighbour(m.peer, now_tsc);
  return result;
}

// A peer usually stays silent until the client's first packet reaches it,
// and that packet would be dropped while its neighbour is resolved: ask
// when the channel is installed instead (rate limited like any solicitation).
void Worker::prime_neighbour(const ring_abi::WireSocketAddress& peer, uint64_t now_tsc) {
  const auto address = ring_abi::from_wire(peer);
  if (!has_port_ || solicitation_pool_ == nullptr || !address) return;
  const Family f = address->family();
  if (me_.has(f) && std::memcmp(me_.address(f), address->ip.bytes.data(), address->ip.size()) == 0)
    return;  // another allocation of this relay: relayed inside the worker
  const Resolution r = neighbours_.resolve(f, address->ip.bytes.data(), now_tsc);
  if (r.mac != nullptr || !r.solicit || !neighbours_.may_solicit(*r.solicit, now_tsc)) return;
  rte_mbuf* m = rte_pktmbuf_alloc(solicitation_pool_);
  if (m == nullptr) return;
  if (!build_solicitation(m, me_, *r.solicit) || rte_eth_tx_burst(port_id_, queue_id_, &m, 1) != 1) {
    rte_pktmbuf_free(m);
    return;
  }
  counters_->add(f == Family::V4 ? Counter::ArpRequestsSent : Counter::NeighbourSolicitationsSent);
}

// Readers outside this lcore (telemetry, metrics) get the replica's size
// from here instead of reading the tables under the worker's feet. Ok
// guarantees m.port is inside the allocation range.
void Worker::publish_table_gauges(const ring_abi::CommandMessage& m) {
  if (m.kind == ring_abi::CommandKind::CreateAllocation || m.kind == ring_abi::CommandKind::FreeAllocation) {
    const unsigned index = m.port - me_.min_allocation_port;
    uint64_t& word = live_allocations_[index / 64];
    const uint64_t bit = uint64_t{1} << (index % 64);
    const bool was_live = (word & bit) != 0;
    const bool live = m.kind == ring_abi::CommandKind::CreateAllocation;
    if (live != was_live) {
      word ^= bit;
      live ? ++allocations_installed_ : --allocations_installed_;
    }
  }
  TableGauges& t = counters_->tables;  // digest and last_ack are apply_batch's
  t.allocations = allocations_installed_;
  t.channels = tables_.channels().size();
  t.bindings = tables_.bindings().size();
  t.permissions = tables_.permissions().size();
  t.longest_probe = tables_.longest_probe();
}

void Worker::classify(std::span<rte_mbuf* const> pkts, uint64_t now_tsc, uint64_t now_ns, Next* next) {
  if (tx_offload_) {
    classify_impl<true>(pkts, now_tsc, now_ns, next);
  } else {
    classify_impl<false>(pkts, now_tsc, now_ns, next);
  }
}

// Three passes over the burst, so each one's memory accesses were
// prefetched by the previous one: parse, answer host traffic, compute the
// table key of each relayed packet and prefetch its slot; look up the
// entries and prefetch their allocations; check liveness and rewrite.
template <bool kTxOffload>
void Worker::classify_impl(std::span<rte_mbuf* const> pkts, uint64_t now_tsc, uint64_t now_ns, Next* next) {
  const size_t n = std::min<size_t>(pkts.size(), kMaxBurst);
  counters_->add(Counter::RxPackets, n);
  uint64_t rx_bytes = 0;
  for (size_t i = 0; i < n && i < kPrefetchAhead; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
    Stage& s = stages_[i];
    s.kind = Stage::Kind::None;
    const Verdict v = stage_packet(pkts[i], s, now_tsc, now_ns);
    next[i] = v.next;
    // Hand-offs (to_cp, the kernel) are counted when the ring or queue takes them.
    if (s.kind == Stage::Kind::None && v.next != Next::ToControlPlane && v.next != Next::ToKernel)
      counters_->add(v.counter);
  }
  for (size_t i = 0; i < n; ++i) {
    Stage& s = stages_[i];
    if (s.kind == Stage::Kind::None || look_up(s)) continue;
    const Counter unknown = s.kind == Stage::Kind::Channel ? Counter::DropUnknownChannel : unknown_send(s, now_tsc);
    s.kind = Stage::Kind::None;
    next[i] = Next::Free;
    counters_->add(unknown);
  }
  for (size_t i = 0; i < n; ++i) {
    Stage& s = stages_[i];
    Verdict v;
    switch (s.kind) {
      case Stage::Kind::None: continue;
      case Stage::Kind::Channel: v = from_client<kTxOffload>(pkts[i], s, now_tsc); break;
      case Stage::Kind::Send: v = from_send<kTxOffload>(pkts[i], s, now_tsc); break;
      case Stage::Kind::Permission:
        s.entry.binding = tables_.permissions().find(s.key.binding, s.hash);
        v = s.entry.binding != nullptr ? from_peer<kTxOffload>(pkts[i], s, now_tsc) : drop(Counter::DropUnknownPeer);
        break;
      case Stage::Kind::Binding: v = from_peer<kTxOffload>(pkts[i], s, now_tsc); break;
    }
    next[i] = v.next;
    counters_->add(v.counter);
  }
  counters_->rx_bytes += rx_bytes;
}

Verdict Worker::stage_packet(rte_mbuf* m, Stage& s, uint64_t now_tsc, uint64_t now_ns) {
  if (m->nb_segs != 1) [[unlikely]]
    return drop(Counter::DropMultiSegment);  // our pools hold a whole frame per mbuf; see README
  const std::span<const uint8_t> f{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
  ParsedFrame& p = s.frame;
  if (const ParseOutcome o = parse_frame_into(f, me_, m->ol_flags, p); !o.accepted()) [[unlikely]]
    return drop(o.reason());
  HostContext host{me_, neighbours_, echo_limiter_, now_tsc};
  if (p.l3_kind == L3::Arp) return handle_arp(m, p, host);
  // A frame from an on-link neighbour keeps its entry alive, never changes
  // or creates one (neighbours.hpp).
  if (!p.broadcast_or_multicast && neighbours_.on_link(p.family(), f.data() + p.src_addr())) [[unlikely]]
    neighbours_.confirm(p.family(), f.data() + p.src_addr(), f.data() + 6, now_tsc);
  if (p.protocol == wire::kProtoUdp) [[likely]]
    return stage_udp(m, s, now_tsc, now_ns);
  if (p.protocol == (p.l3_kind == L3::Ipv4 ? wire::kProtoIcmp : wire::kProtoIcmpv6)) return handle_icmp(m, p, host);
  if (p.protocol == wire::kProtoTcp) return tcp_segment(m, p, now_tsc);
  return drop(Counter::DropUnsupportedProtocol);
}

// TURN over TCP/TLS (RFC 8656 §3.1) is the kernel's to terminate: a
// segment for a stream port crosses to the TAP as it came, under a new
// Ethernet header (the kernel side has no VLAN and expects its own MAC).
// Any other TCP, and all of it when streams are off, gets a RST rather
// than silence, so a client fails at once instead of timing out.
Verdict Worker::tcp_segment(rte_mbuf* m, const ParsedFrame& p, uint64_t now_tsc) {
  uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
  if (p.l4_len < wire::kTcpHeader) return drop(Counter::DropBadTcp);
  if (!is_stream_port(load_be16(f + p.l4 + 2)) || p.broadcast_or_multicast)
    return reset_tcp(m, p, me_, reset_limiter_, now_tsc);
  const uint8_t flags = f[p.l4 + 13];
  if ((flags & (wire::kTcpSyn | wire::kTcpAck)) == wire::kTcpSyn && !syn_limiter_.allow(now_tsc))
    return drop(Counter::DropStreamSynRateLimited);
  if (p.l3 != wire::kEthernetHeader) {  // drop the 802.1Q tag: slide the MACs over it
    std::memmove(f + wire::kVlanTag, f, 12);
    f = reinterpret_cast<uint8_t*>(rte_pktmbuf_adj(m, wire::kVlanTag));
  }
  std::memcpy(f, kernel_mac_, 6);
  std::memcpy(f + 6, me_.mac.data(), 6);
  m->ol_flags = 0;
  return {Next::ToKernel, Counter::ToKernel};
}

Verdict Worker::stage_udp(rte_mbuf* m, Stage& s, uint64_t now_tsc, uint64_t now_ns) {
  const std::span<const uint8_t> f{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
  const ParsedFrame& p = s.frame;
  if (p.broadcast_or_multicast) return drop(Counter::DropNotForUs);
  if (const ParseOutcome o = parse_udp_into(f, p, m->ol_flags, s.udp); !o.accepted()) [[unlikely]]
    return drop(o.reason());
  const auto payload = f.subspan(s.udp.payload, s.udp.payload_len);
  const uint8_t* src = f.data() + p.src_addr();
  uint16_t src_port_be;
  std::memcpy(&src_port_be, f.data() + p.l4, 2);
  if (s.udp.dst_port == me_.listen_port) {
    const auto channel_data = parse_channel_data(payload);
    if (channel_data) {
      s.channel_data_len = static_cast<uint16_t>(channel_data->data.size());
      s.key.channel = make_channel_key(p.family(), src, src_port_be, rte_cpu_to_be_16(channel_data->channel.value));
      s.hash = tables_.channels().hash(s.key.channel);
      tables_.channels().prefetch(s.hash);
      s.kind = Stage::Kind::Channel;
      return {Next::Tx, Counter::ClientToPeer};
    }
    // RFC 8656 §12.4: the length must fit in what arrived.
    if (channel_data.error() == ChannelDataError::LengthExceedsData) return drop(Counter::DropChannelDataLength);
    if (is_send_indication(payload)) {
      // RFC 8656 §11.2; indications are never answered, so a malformed
      // one costs nobody but its sender.
      if (const ParseOutcome o = parse_send_indication(payload, s.indication); !o.accepted()) return drop(o.reason());
      s.indication.data_offset = static_cast<uint16_t>(s.indication.data_offset + s.udp.payload);
      s.key.send = make_send_key(p.family(), src, src_port_be, s.indication.peer_family, s.indication.peer_ip);
      s.hash = tables_.sends().hash(s.key.send);
      tables_.sends().prefetch(s.hash);
      s.kind = Stage::Kind::Send;
      return {Next::Tx, Counter::SendToPeer};
    }
    if (looks_like_stun(payload)) {
      if (!stun_limiter_.allow(p.family(), src, now_tsc)) return drop(Counter::DropStunRateLimited);
      return to_control_plane(m, s, now_ns);
    }
    return drop(Counter::DropNotStunOrChannelData);
  }
  if (me_.is_allocation_port(s.udp.dst_port)) {
    uint16_t dst_port_be;
    std::memcpy(&dst_port_be, f.data() + p.l4 + 2, 2);
    s.key.binding = make_binding_key(p.family(), src, src_port_be, dst_port_be);
    s.hash = tables_.bindings().hash(s.key.binding);
    tables_.bindings().prefetch(s.hash);
    s.kind = Stage::Kind::Binding;
    return {Next::Tx, Counter::PeerToClient};
  }
  return drop(Counter::DropClosedPort);
}

Verdict Worker::to_control_plane(rte_mbuf* m, const Stage& s, uint64_t now_ns) {
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const ParsedFrame& p = s.frame;
  auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  *meta = ring_abi::PacketMeta{};
  meta->remote.family = meta->local.family = static_cast<uint8_t>(p.family());
  std::memcpy(meta->remote.ip, f + p.src_addr(), p.addr_len());
  std::memcpy(meta->local.ip, f + p.dst_addr(), p.addr_len());
  meta->remote.port = s.udp.src_port;
  meta->local.port = s.udp.dst_port;
  meta->rx_timestamp_ns = now_ns;
  reframe(m, s.udp.payload, s.udp.payload_len, 0);
  return {Next::ToControlPlane, Counter::ToControlPlane};
}

// Finds the entry for a staged packet and prefetches its allocation. A
// peer's datagram without a channel becomes Kind::Permission: its
// permission slot is prefetched here and read in the third pass.
bool Worker::look_up(Stage& s) {
  switch (s.kind) {
    case Stage::Kind::Channel:
      s.entry.channel = tables_.channels().find(s.key.channel, s.hash);
      if (s.entry.channel == nullptr) return false;
      tables_.prefetch_allocation(s.entry.channel->allocation_port);
      return true;
    case Stage::Kind::Send:
      s.entry.send = tables_.sends().find(s.key.send, s.hash);
      if (s.entry.send == nullptr) return false;
      tables_.prefetch_allocation(s.entry.send->allocation_port);
      return true;
    default:
      break;
  }
  tables_.prefetch_allocation(s.udp.dst_port);
  s.entry.binding = tables_.bindings().find(s.key.binding, s.hash);
  if (s.entry.binding != nullptr) return true;
  s.key.binding.peer_port_be = 0;  // = make_permission_key(peer, allocation port)
  s.hash = tables_.permissions().hash(s.key.binding);
  tables_.permissions().prefetch(s.hash);
  s.kind = Stage::Kind::Permission;
  return true;
}

// Why a Send indication found no permission: its 5-tuple has no
// allocation at all, or the allocation has no permission for the peer.
Counter Worker::unknown_send(const Stage& s, uint64_t now_tsc) {
  const uint8_t* client_ip = s.key.send.client_ip;
  return tables_.has_allocation(s.frame.family(), client_ip, s.key.send.client_port_be, now_tsc)
             ? Counter::DropNoPermission
             : Counter::DropNoAllocation;
}

// Client → relay listen port, ChannelData: strip the 4-byte header and any
// padding, send the data from our relay address:allocation port to the
// peer; when the peer is another allocation of ours, hand it straight to
// that allocation's client as ChannelData.
template <bool kTxOffload>
Verdict Worker::from_client(rte_mbuf* m, const Stage& s, uint64_t now_tsc) {
  const ChannelEntry* e = s.entry.channel;
  if (!tables_.live(e->allocation_port, e->generation, e->deadline_tsc, now_tsc)) return drop(Counter::DropExpired);
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint16_t data_len = s.channel_data_len;
  const auto data_offset = static_cast<uint16_t>(s.udp.payload + kChannelDataHeaderSize);
  const uint32_t kept_sum = s.udp.checksum_valid ? kept_bytes_sum(f, s.frame, data_offset, data_len) : kUnknownSum;
  const auto peer_family = static_cast<Family>(e->peer_family);
  const uint16_t peer_port = rte_be_to_cpu_16(e->peer_port_be);
  if (std::memcmp(e->peer_ip, me_.address(peer_family), peer_family == Family::V4 ? 4 : 16) == 0 &&
      me_.is_allocation_port(peer_port)) [[unlikely]]
    return to_relayed_client<kTxOffload>(m, data_offset, data_len, peer_family, e->allocation_port, peer_port,
                                         s.frame.family(), now_tsc, kept_sum);
  const UdpAddressing a{peer_family, me_.address(peer_family), rte_cpu_to_be_16(e->allocation_port), e->peer_ip,
                        e->peer_port_be};
  const Verdict v = emit_udp<kTxOffload>(m, data_offset, data_len, a, {}, Counter::ClientToPeer, now_tsc, kept_sum);
  if (v.counter == Counter::ClientToPeer)
    counters_->add_relayed(Direction::ClientToPeer, s.frame.family(), peer_family, data_len);
  return v;
}

// Client → relay listen port, Send indication (RFC 8656 §11.2): the DATA
// value leaves from our relay address:allocation port to XOR-PEER-ADDRESS,
// which the allocation has a permission for (the lookup found one).
template <bool kTxOffload>
Verdict Worker::from_send(rte_mbuf* m, const Stage& s, uint64_t now_tsc) {
  const SendEntry* e = s.entry.send;
  if (!tables_.live(e->allocation_port, e->generation, e->deadline_tsc, now_tsc)) return drop(Counter::DropExpired);
  const SendIndication& ind = s.indication;
  const Family peer_family = ind.peer_family;
  const uint16_t peer_port = rte_be_to_cpu_16(ind.peer_port_be);
  // A permission is per IP; the port is judged here: never port 0, never an
  // IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2: not an address on the
  // wire), and of our own addresses only the allocation ports.
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (peer_port == 0 || (peer_family == Family::V6 && std::memcmp(ind.peer_ip, kMappedPrefix, 12) == 0))
    return drop(Counter::DropDeniedPeer);
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t kept_sum =
      s.udp.checksum_valid ? kept_bytes_sum(f, s.frame, ind.data_offset, ind.data_len) : kUnknownSum;
  if (std::memcmp(ind.peer_ip, me_.address(peer_family), peer_family == Family::V4 ? 4 : 16) == 0) [[unlikely]] {
    if (!me_.is_allocation_port(peer_port)) return drop(Counter::DropDeniedPeer);
    return to_relayed_client<kTxOffload>(m, ind.data_offset, ind.data_len, peer_family, e->allocation_port, peer_port,
                                         s.frame.family(), now_tsc, kept_sum);
  }
  const UdpAddressing a{peer_family, me_.address(peer_family), rte_cpu_to_be_16(e->allocation_port), ind.peer_ip,
                        ind.peer_port_be};
  const Verdict v =
      emit_udp<kTxOffload>(m, ind.data_offset, ind.data_len, a, {}, Counter::SendToPeer, now_tsc, kept_sum);
  if (v.counter == Counter::SendToPeer)
    counters_->add_relayed(Direction::ClientToPeer, s.frame.family(), peer_family, ind.data_len);
  return v;
}

// Both parties relayed here: the peer is allocation `to_port`, and the
// sending allocation's relay address is the peer that one knows.
template <bool kTxOffload>
Verdict Worker::to_relayed_client(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, Family relay_family,
                                  uint16_t from_port, uint16_t to_port, Family in_family, uint64_t now_tsc,
                                  uint32_t kept_sum) {
  const uint8_t* relay_ip = me_.address(relay_family);
  const uint16_t from_be = rte_cpu_to_be_16(from_port);
  const uint16_t to_be = rte_cpu_to_be_16(to_port);
  const BindingEntry* b = tables_.bindings().find(make_binding_key(relay_family, relay_ip, from_be, to_be));
  if (b == nullptr) b = tables_.permissions().find(make_permission_key(relay_family, relay_ip, to_be));
  if (b == nullptr) return drop(Counter::DropUnknownPeer);
  if (!tables_.live(to_port, b->generation, b->deadline_tsc, now_tsc)) return drop(Counter::DropExpired);
  return to_client<kTxOffload>(m, keep_offset, keep_len, *b, relay_ip, relay_family, from_be,
                               Direction::ClientToClient, in_family, now_tsc, kept_sum);
}

template <bool kTxOffload>
Verdict Worker::to_client(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, const BindingEntry& b,
                          const uint8_t* peer_ip, Family peer_family, uint16_t peer_port_be, Direction direction,
                          Family in_family, uint64_t now_tsc, uint32_t kept_sum) {
  const auto client_family = static_cast<Family>(b.client_family);
  const UdpAddressing a{client_family, me_.address(client_family), rte_cpu_to_be_16(me_.listen_port), b.client_ip,
                        b.client_port_be};
  Framing framing{b.channel_be};
  if (b.channel_be == 0) framing = {0, peer_ip, peer_port_be, peer_family};
  const Counter success = direction == Direction::ClientToClient ? Counter::ClientToClient
                          : b.channel_be != 0                    ? Counter::PeerToClient
                                                                 : Counter::DataToClient;
  Verdict v;
  if (b.client_transport != static_cast<uint8_t>(Transport::Udp)) [[unlikely]]
    v = to_stream_client(m, keep_offset, keep_len, b, framing, success);
  else
    v = emit_udp<kTxOffload>(m, keep_offset, keep_len, a, framing, success, now_tsc, kept_sum);
  if (v.counter == success) counters_->add_relayed(direction, in_family, client_family, keep_len);
  return v;
}

// Peer → relay allocation port: wrap the UDP payload in ChannelData (no
// padding over UDP, RFC 8656 §12.5) when the peer has a channel, else in a
// Data indication (RFC 8656 §11.3) when it has a permission, and send it to
// the client from our listen socket.
template <bool kTxOffload>
Verdict Worker::from_peer(rte_mbuf* m, const Stage& s, uint64_t now_tsc) {
  const BindingEntry* b = s.entry.binding;
  if (!tables_.live(s.udp.dst_port, b->generation, b->deadline_tsc, now_tsc)) return drop(Counter::DropExpired);
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t kept_sum =
      s.udp.checksum_valid ? kept_bytes_sum(f, s.frame, s.udp.payload, s.udp.payload_len) : kUnknownSum;
  // The new headers overwrite the source address: a Data indication keeps
  // a copy for XOR-PEER-ADDRESS (ChannelData needs none).
  uint8_t peer_ip[16];
  if (b->channel_be == 0) std::memcpy(peer_ip, f + s.frame.src_addr(), 16);
  return to_client<kTxOffload>(m, s.udp.payload, s.udp.payload_len, *b, peer_ip, s.frame.family(),
                               rte_cpu_to_be_16(s.udp.src_port), Direction::PeerToClient, s.frame.family(), now_tsc,
                               kept_sum);
}

// Resolves the next hop, reshapes the mbuf around the kept bytes and writes
// the headers, plus a ChannelData header or a Data indication around them
// as `framing` says.
template <bool kTxOffload>
Verdict Worker::emit_udp(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, const UdpAddressing& a,
                         const Framing& framing, Counter success, uint64_t now_tsc, uint32_t kept_sum) {
  const Resolution r = neighbours_.resolve(a.family, a.dst_ip, now_tsc);
  if (r.mac == nullptr) [[unlikely]]
    return unresolved(m, r.solicit, now_tsc);
  const bool indication = framing.peer_ip != nullptr;
  const uint16_t head = framing.channel_be != 0 ? kChannelDataHeaderSize
                        : indication            ? data_indication_prefix(framing.peer_family)
                                                : 0;
  const uint16_t tail = indication ? data_indication_suffix(keep_len, data_indication_fingerprint_) : 0;
  const uint16_t l3_len = static_cast<uint16_t>(ip_length(a.family) + wire::kUdpHeader + head);
  if (size_t{l3_len} + keep_len + tail > mtu_) [[unlikely]]
    return drop(Counter::DropTooBig);
  const auto prefix = static_cast<uint16_t>(l2_length(me_) + l3_len);
  uint8_t* f = reframe(m, keep_offset, keep_len, prefix);
  if (f == nullptr || (tail != 0 && rte_pktmbuf_append(m, tail) == nullptr)) [[unlikely]]
    return drop(Counter::DropNoHeadroom);
  uint8_t* msg = f + prefix - head;
  if (framing.channel_be != 0) {
    std::memcpy(msg, &framing.channel_be, 2);
    store_be16(msg + 2, keep_len);
    if (kept_sum != kUnknownSum) kept_sum = wire::fold(kept_sum + framing.channel_be + rte_cpu_to_be_16(keep_len));
  } else if (indication) {
    uint64_t id[2] = {splitmix64(transaction_ids_), splitmix64(transaction_ids_)};
    write_data_indication(msg, keep_len, data_indication_fingerprint_, framing.peer_family, framing.peer_ip,
                          framing.peer_port_be, reinterpret_cast<const uint8_t*>(id));
    // The padding is zeros; the header and FINGERPRINT start at even offsets.
    if (kept_sum != kUnknownSum) {
      kept_sum = wire::sum_bytes(msg, head, kept_sum);
      if (data_indication_fingerprint_)
        kept_sum = wire::sum_bytes(msg + head + (tail - kStunFingerprintAttribute) + keep_len,
                                   kStunFingerprintAttribute, kept_sum);
      kept_sum = wire::fold(kept_sum);
    }
  }
  write_udp_frame<kTxOffload>(m, f, me_, r.mac, a, static_cast<uint16_t>(head + keep_len + tail), kept_sum);
  return {Next::Tx, success};
}

// The packet is dropped; its mbuf becomes the ARP request / NS that will
// let the next one through (at most one per next hop per second).
Verdict Worker::unresolved(rte_mbuf* m, const std::optional<NextHop>& solicit, uint64_t now_tsc) {
  if (!solicit) return drop(Counter::DropNoRoute);
  if (!neighbours_.may_solicit(*solicit, now_tsc) || !build_solicitation(m, me_, *solicit))
    return drop(Counter::DropNeighbourUnresolved);
  counters_->add(Counter::DropNeighbourUnresolved);
  return {Next::Tx, solicit->family == Family::V4 ? Counter::ArpRequestsSent : Counter::NeighbourSolicitationsSent};
}

uint16_t Worker::dispatch(std::span<rte_mbuf* const> pkts, const Next* next) {
  rte_mbuf* to_cp[kMaxBurst];
  rte_mbuf* dead[kMaxBurst];
  rte_mbuf* to_stream[kMaxBurst];
  uint16_t n_cp = 0;
  uint16_t n_dead = 0;
  uint16_t n_stream = 0;
  const uint16_t tx_before = tx_count_;
  for (size_t i = 0; i < pkts.size(); ++i) {
    switch (next[i]) {
      case Next::Tx: tx_[tx_count_++] = pkts[i]; break;
      case Next::ToControlPlane: to_cp[n_cp++] = pkts[i]; break;
      case Next::Free: dead[n_dead++] = pkts[i]; break;
      case Next::ToKernel: kernel_tx_[kernel_tx_count_++] = pkts[i]; break;
      case Next::ToStream: to_stream[n_stream++] = pkts[i]; break;
    }
  }
  if (n_stream != 0) [[unlikely]]
    hand_to_stream(to_stream, n_stream);
  if (n_cp != 0) {
    const unsigned queued =
        to_cp_ != nullptr ? rte_ring_enqueue_burst(to_cp_, reinterpret_cast<void* const*>(to_cp), n_cp, nullptr) : 0;
    counters_->add(Counter::ToControlPlane, queued);
    if (queued < n_cp) {
      counters_->add(Counter::DropToControlPlaneFull, n_cp - queued);
      rte_pktmbuf_free_bulk(to_cp + queued, n_cp - queued);
    }
  }
  if (n_dead != 0) rte_pktmbuf_free_bulk(dead, n_dead);
  return static_cast<uint16_t>(tx_count_ - tx_before);
}

// Datagrams the control plane wants sent (STUN responses): the mbuf holds
// the UDP payload, the private area says from which listen socket to whom.
template <bool kTxOffload>
unsigned Worker::drain_control_plane(uint64_t now_tsc) {
  rte_mbuf* batch[kMaxBurst];
  const unsigned n = rte_ring_dequeue_burst(from_cp_, reinterpret_cast<void**>(batch), burst_, nullptr);
  rte_mbuf* to_stream[kMaxBurst];
  unsigned n_stream = 0;
  for (unsigned i = 0; i < n; ++i) {
    rte_mbuf* m = batch[i];
    const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
    if (meta->kind != ring_abi::PacketKind::Datagram) [[unlikely]] {
      const Verdict v = stream_input_impl<kTxOffload>(m, now_tsc);
      counters_->add(v.counter);
      if (v.next == Next::Tx) {
        tx_[tx_count_++] = m;
      } else if (v.next == Next::ToStream) {
        to_stream[n_stream++] = m;
      } else {
        rte_pktmbuf_free(m);
      }
      continue;
    }
    const auto family = static_cast<Family>(meta->local.family);
    const bool valid = m->nb_segs == 1 && meta->remote.family == meta->local.family &&
                       (family == Family::V4 || family == Family::V6) && me_.has(family) &&
                       meta->local.port == me_.listen_port &&
                       std::memcmp(meta->local.ip, me_.address(family), family == Family::V4 ? 4 : 16) == 0;
    Verdict v = drop(Counter::DropFromControlPlaneInvalid);
    if (valid) {
      const UdpAddressing a{family, me_.address(family), rte_cpu_to_be_16(me_.listen_port), meta->remote.ip,
                            rte_cpu_to_be_16(meta->remote.port)};
      v = emit_udp<kTxOffload>(m, 0, m->data_len, a, {}, Counter::FromControlPlane, now_tsc, kUnknownSum);
    }
    counters_->add(v.counter);
    if (v.next == Next::Tx) {
      tx_[tx_count_++] = m;
    } else {
      rte_pktmbuf_free(m);
    }
  }
  if (n_stream != 0) hand_to_stream(to_stream, n_stream);
  return n;
}

void Worker::hand_to_stream(rte_mbuf* const* ms, unsigned n) {
  const unsigned queued =
      to_stream_ != nullptr ? rte_ring_enqueue_burst(to_stream_, reinterpret_cast<void* const*>(ms), n, nullptr) : 0;
  counters_->add(Counter::ToStream, queued);
  if (queued < n) {
    counters_->add(Counter::DropToStreamFull, n - queued);
    rte_pktmbuf_free_bulk(const_cast<rte_mbuf**>(ms) + queued, n - queued);
  }
}

// The message a stream client reads: the control plane writes the mbuf's
// bytes to the connection as they are, so the ChannelData carries its
// padding to 4 here (RFC 8656 §12.5: over TCP/TLS it is mandatory).
Verdict Worker::to_stream_client(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, const BindingEntry& b,
                                 const Framing& framing, Counter success) {
  const bool indication = framing.peer_ip != nullptr;
  const uint16_t head = indication ? data_indication_prefix(framing.peer_family) : kChannelDataHeaderSize;
  const uint16_t tail = indication ? data_indication_suffix(keep_len, data_indication_fingerprint_)
                                   : static_cast<uint16_t>((4 - keep_len % 4) % 4);
  // A Data indication's XOR-PEER-ADDRESS may come from the bytes the
  // header overwrites (a relayed client's address is ours, a peer's was
  // copied by from_peer), so it is written from a copy.
  uint8_t peer_ip[16] = {};
  if (indication) std::memcpy(peer_ip, framing.peer_ip, framing.peer_family == Family::V4 ? 4 : 16);
  uint8_t* msg = reframe(m, keep_offset, keep_len, head);
  if (msg == nullptr || (tail != 0 && rte_pktmbuf_append(m, tail) == nullptr)) [[unlikely]]
    return drop(Counter::DropNoHeadroom);
  if (indication) {
    const uint64_t id[2] = {splitmix64(transaction_ids_), splitmix64(transaction_ids_)};
    write_data_indication(msg, keep_len, data_indication_fingerprint_, framing.peer_family, peer_ip,
                          framing.peer_port_be, reinterpret_cast<const uint8_t*>(id));
  } else {
    std::memcpy(msg, &framing.channel_be, 2);
    store_be16(msg + 2, keep_len);
    std::memset(msg + head + keep_len, 0, tail);
  }
  auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  *meta = ring_abi::PacketMeta{};
  const auto family = static_cast<Family>(b.client_family);
  meta->remote.family = b.client_family;
  meta->remote.transport = b.client_transport;
  meta->remote.port = rte_be_to_cpu_16(b.client_port_be);
  std::memcpy(meta->remote.ip, b.client_ip, family == Family::V4 ? 4 : 16);
  meta->local.family = b.client_family;
  meta->local.port = me_.listen_port;
  std::memcpy(meta->local.ip, me_.address(family), family == Family::V4 ? 4 : 16);
  m->ol_flags = 0;
  return {Next::ToStream, success};
}

Verdict Worker::stream_input(rte_mbuf* m, uint64_t now_tsc) {
  return tx_offload_ ? stream_input_impl<true>(m, now_tsc) : stream_input_impl<false>(m, now_tsc);
}

// The mbuf holds exactly what the client framed (the control plane strips
// the padding); it is staged like a datagram whose UDP payload starts at
// offset 0 with no checksum known, so from_client / from_send do the rest.
template <bool kTxOffload>
Verdict Worker::stream_input_impl(rte_mbuf* m, uint64_t now_tsc) {
  const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  const auto family = static_cast<Family>(meta->remote.family);
  const std::optional<Transport> transport = ring_abi::transport_of(meta->remote);
  const bool valid = meta->kind == ring_abi::PacketKind::StreamInput && m->nb_segs == 1 && transport &&
                     *transport != Transport::Udp && meta->remote.family == meta->local.family &&
                     (family == Family::V4 || family == Family::V6) && me_.has(family) &&
                     is_stream_port(meta->local.port) &&
                     std::memcmp(meta->local.ip, me_.address(family), family == Family::V4 ? 4 : 16) == 0;
  if (!valid) return drop(Counter::DropStreamInputInvalid);
  Stage s;
  s.frame = ParsedFrame{};
  s.frame.l3_kind = family == Family::V4 ? L3::Ipv4 : L3::Ipv6;
  s.udp = UdpView{};
  s.udp.payload_len = m->data_len;
  const std::span<const uint8_t> payload{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
  const uint16_t client_port_be = rte_cpu_to_be_16(meta->remote.port);
  const auto channel_data = parse_channel_data(payload);
  if (channel_data) {
    s.kind = Stage::Kind::Channel;
    s.channel_data_len = static_cast<uint16_t>(channel_data->data.size());
    s.entry.channel = tables_.channels().find(make_channel_key(
        family, meta->remote.ip, client_port_be, rte_cpu_to_be_16(channel_data->channel.value), *transport));
    if (s.entry.channel == nullptr) return drop(Counter::DropUnknownChannel);
    return from_client<kTxOffload>(m, s, now_tsc);
  }
  if (channel_data.error() == ChannelDataError::LengthExceedsData) return drop(Counter::DropChannelDataLength);
  if (!is_send_indication(payload)) return drop(Counter::DropStreamInputInvalid);
  if (const ParseOutcome o = parse_send_indication(payload, s.indication); !o.accepted()) return drop(o.reason());
  s.kind = Stage::Kind::Send;
  s.entry.send = tables_.sends().find(make_send_key(family, meta->remote.ip, client_port_be, s.indication.peer_family,
                                                    s.indication.peer_ip, *transport));
  if (s.entry.send == nullptr)
    return drop(tables_.has_allocation(family, meta->remote.ip, client_port_be, now_tsc, *transport)
                    ? Counter::DropNoPermission
                    : Counter::DropNoAllocation);
  return from_send<kTxOffload>(m, s, now_tsc);
}

Verdict Worker::from_kernel(rte_mbuf* m, uint64_t now_tsc) {
  return tx_offload_ ? from_kernel_impl<true>(m, now_tsc) : from_kernel_impl<false>(m, now_tsc);
}

// The kernel answers for the relay addresses it holds on the TAP (its TCP
// stack). Only unicast IP from those addresses leaves: the kernel's own
// chatter on the TAP (router solicitations, MLD reports) has no business
// on the wire. Checksums are the kernel's (the TAP has no offloads on), so
// only the Ethernet header is rewritten.
template <bool kTxOffload>
Verdict Worker::from_kernel_impl(rte_mbuf* m, uint64_t now_tsc) {
  if (m->nb_segs != 1) [[unlikely]]
    return drop(Counter::DropMultiSegment);
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint16_t len = m->data_len;
  if (len < wire::kEthernetHeader) return drop(Counter::DropFromKernelUnexpected);
  const uint16_t ethertype = load_be16(f + 12);
  const uint8_t* ip = f + wire::kEthernetHeader;
  Family family;
  uint8_t dst[16];
  if (ethertype == wire::kEtherTypeIpv4 && len >= wire::kEthernetHeader + wire::kIpv4Header && me_.has_v4 &&
      std::memcmp(ip + 12, me_.v4, 4) == 0 && ip[16] < 224) {
    family = Family::V4;
    std::memcpy(dst, ip + 16, 4);
  } else if (ethertype == wire::kEtherTypeIpv6 && len >= wire::kEthernetHeader + wire::kIpv6Header && me_.has_v6 &&
             std::memcmp(ip + 8, me_.v6, 16) == 0 && ip[24] != 0xFF) {
    family = Family::V6;
    std::memcpy(dst, ip + 24, 16);
  } else {
    return drop(Counter::DropFromKernelUnexpected);
  }
  const Resolution r = neighbours_.resolve(family, dst, now_tsc);
  if (r.mac == nullptr) [[unlikely]]
    return unresolved(m, r.solicit, now_tsc);
  // The kernel's frames are untagged; a VLAN tag needs 4 more bytes in front.
  if (me_.vlan != 0 && rte_pktmbuf_prepend(m, wire::kVlanTag) == nullptr) [[unlikely]]
    return drop(Counter::DropNoHeadroom);
  write_ethernet(rte_pktmbuf_mtod(m, uint8_t*), r.mac, me_, ethertype);
  m->ol_flags = 0;
  return {Next::Tx, Counter::FromKernel};
}

// The TAP's RX costs a read() system call per poll (net_tap), so a quiet
// TAP is polled at most kKernelPollsPerSecond times a second, and a busy
// one every iteration: the UDP loop does not pay a syscall per burst.
template <bool kTxOffload>
unsigned Worker::drain_kernel(uint64_t now_tsc) {
  if (!kernel_busy_ && now_tsc < next_kernel_poll_tsc_) return 0;
  next_kernel_poll_tsc_ = now_tsc + kernel_poll_interval_;
  rte_mbuf* batch[kMaxBurst];
  const uint16_t n = rte_eth_rx_burst(kernel_port_, queue_id_, batch, burst_);
  kernel_busy_ = n != 0;
  for (uint16_t i = 0; i < n; ++i) {
    const Verdict v = from_kernel_impl<kTxOffload>(batch[i], now_tsc);
    counters_->add(v.counter);
    if (v.next == Next::Tx) {
      tx_[tx_count_++] = batch[i];
    } else {
      rte_pktmbuf_free(batch[i]);
    }
  }
  return n;
}

void Worker::send_to_kernel() {
  const uint16_t sent = rte_eth_tx_burst(kernel_port_, queue_id_, kernel_tx_, kernel_tx_count_);
  counters_->add(Counter::ToKernel, sent);
  if (sent < kernel_tx_count_) [[unlikely]] {
    counters_->add(Counter::DropToKernelFull, kernel_tx_count_ - sent);
    rte_pktmbuf_free_bulk(kernel_tx_ + sent, kernel_tx_count_ - sent);
  }
  kernel_tx_count_ = 0;
}

template uint16_t Worker::iterate<true>();
template uint16_t Worker::iterate<false>();

}  // namespace relay::dataplane
