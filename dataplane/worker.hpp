// One worker lcore in the shape of DPDK's l3fwd: a single alignas(64)
// context owning its queue, its table replica, its neighbour table and its
// counters. Each iteration reads the TSC once, applies pending commands
// from its cmd ring, receives a burst, decides one Next per packet (VPP
// style, rewriting in place), dispatches once per output, and sends.
//
// The process creates the port, queues, mempool and rings, builds one
// Worker per lcore with Worker::create and launches it with
//   rte_eal_remote_launch(relay::dataplane::worker_main, worker.get(), lcore);
// then sets the stop flag on SIGINT/SIGTERM and waits for the lcores.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/counters_abi.hpp"
#include "common/result.hpp"
#include "common/ring_abi.hpp"
#include "dataplane/config.hpp"
#include "dataplane/frame_builder.hpp"
#include "dataplane/host_services.hpp"
#include "dataplane/indication.hpp"
#include "dataplane/neighbours.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/source_limiter.hpp"
#include "dataplane/tables.hpp"
#include "dataplane/token_bucket.hpp"
#include "dataplane/tx_hold.hpp"
#include "dataplane/verdict.hpp"

namespace relay::dataplane {

// Commands applied per iteration: bounds the latency a flood of installs
// can add to one burst (~150 ns each).
constexpr unsigned kCommandsPerIteration = 32;
// The restart dump's share of one iteration (ARCHITECTURE.md, "Control-plane
// restart"): messages written and table slots looked at. 512 slots are
// ~1 µs; a 1M-channel replica (1.4M slots) dumps in ~3000 iterations.
constexpr unsigned kDumpMessagesPerIteration = 32;
constexpr unsigned kDumpVisitsPerIteration = 512;
// How often a quiet stream TAP is polled: its RX is a read() system call
// (~1 µs on this KVM guest), so every 10 µs rather than every iteration.
constexpr uint64_t kKernelPollsPerSecond = 100'000;
// Packets ahead of the one being parsed whose data is prefetched.
constexpr unsigned kPrefetchAhead = 4;

struct WorkerSetup {
  InterfaceConfig config;
  uint16_t port_id = 0;
  uint16_t queue_id = 0;
  bool has_port = true;              // false: no packet I/O (fuzzer, unit tests, lookup bench)
  rte_ring* commands = nullptr;      // "<prefix>cmd.<lcore>", elements of ring_abi::CommandMessage
  rte_ring* to_cp = nullptr;         // "<prefix>to_cp"; nullptr: STUN is dropped and counted
  rte_ring* from_cp = nullptr;       // "<prefix>from_cp"; only the worker that owns the exception path
  rte_ring* dump = nullptr;          // "<prefix>dump"; the worker that answers DumpState (the first)
  rte_ring* acks = nullptr;          // "<prefix>acks"; nullptr: numbered commands go unacknowledged
  uint8_t worker_index = 0;          // which cmd ring this is, as AckMessage::worker names it
  // Fault injection for the reconciliation test (telemetry
  // /relay/debug/discard_commands): while non-zero, each numbered command
  // is taken off the ring, counted and thrown away, as if lost.
  std::atomic<uint32_t>* discard_commands = nullptr;
  uint64_t tsc_hz = 0;               // rte_get_tsc_hz()
  bool tx_checksum_offload = false;  // the port has RTE_ETH_TX_OFFLOAD_{IPV4,UDP}_CKSUM enabled
  WorkerCounters* counters = nullptr;  // shared memory (memzone); nullptr: the worker keeps its own
  // Source of the ARP requests / NS a new channel's peer triggers, so its
  // first packet finds the neighbour resolved; nullptr: resolve on demand.
  rte_mempool* solicitation_pool = nullptr;
  const std::atomic<bool>* stop = nullptr;
  // Streams (ARCHITECTURE.md, "Streams"): the TAP port whose kernel side
  // terminates TCP. TCP to config.stream_ports leaves on its TX queue
  // `queue_id` with `kernel_mac` as destination, and what the kernel sends
  // back arrives on its RX queue `queue_id`. Unset: no kernel polling.
  std::optional<uint16_t> kernel_port;
  MacAddress kernel_mac{};
  // "<prefix>to_stream": what peers relay to stream clients; nullptr:
  // dropped and counted (drop_to_stream_full).
  rte_ring* to_stream = nullptr;
  // The secret of the worker's table hashes; unset: random (getrandom).
  // The fuzzer sets it so a run is reproducible.
  std::optional<HashSecret> table_secret;
};

class alignas(64) Worker {
 public:
  static Result<std::unique_ptr<Worker>, std::string> create(const WorkerSetup& setup);

  // The lcore loop; returns when *stop becomes true.
  void run();
  // One iteration of the loop, sending whatever it queued (no TX batch is
  // held across calls); returns the number of packets received.
  uint16_t poll_once();

  // The per-burst step without I/O: decides next[i] for every packet and
  // rewrites the packets to send in place. Reads mbuf data and the tables,
  // writes packet bytes, mbuf lengths/offload fields, the private area of
  // ToControlPlane mbufs and the counters. ~145 cycles/pkt at 1k channels,
  // ~170 at 64k, burst 32 (bench-dataplane, see dataplane/README.md).
  void classify(std::span<rte_mbuf* const> pkts, uint64_t now_tsc, uint64_t now_ns, Next* next);

  // A frame the kernel sent on the stream TAP: TCP of a stream leaving a
  // relay address goes to the wire (Next::Tx) with our MAC, the next hop's
  // and the VLAN tag; anything else (router solicitations, MLD) is dropped.
  Verdict from_kernel(rte_mbuf* m, uint64_t now_tsc);
  // A stream client's ChannelData or Send indication (from_cp, kind
  // StreamInput): relayed exactly as if it had come over UDP from
  // PacketMeta::remote, with the same lookups (transport included) and drops.
  Verdict stream_input(rte_mbuf* m, uint64_t now_tsc);

  // Applies everything queued on the cmd ring now (startup, before the
  // port delivers traffic); returns how many commands were applied.
  unsigned apply_pending_commands();

  // Applies one command as if it had come from the cmd ring. DumpState
  // starts a dump (restarting one in progress) when this worker has a dump
  // ring; it is streamed by the following iterations.
  Applied apply(const ring_abi::CommandMessage& m, uint64_t now_tsc, uint64_t monotonic_now_ns);

  [[nodiscard]] const WorkerCounters& counters() const { return *counters_; }
  ForwardingTables& tables() { return tables_; }
  Neighbours& neighbours() { return neighbours_; }
  [[nodiscard]] const LocalIdentity& identity() const { return me_; }
  [[nodiscard]] bool dumping() const { return dump_cursor_.active(); }

  Worker(const WorkerSetup& setup, WorkerCounters* counters);

 private:
  // The staged form of a UDP packet waiting for its table lookup.
  // Permission: a peer's datagram whose binding lookup missed, waiting
  // for the permission lookup (Data indication) in the third pass.
  struct Stage {
    enum class Kind : uint8_t { None, Channel, Binding, Permission, Send } kind;
    ParsedFrame frame;
    UdpView udp;
    uint16_t channel_data_len;  // Kind::Channel: the data's length, read once by parse_channel_data
    uint64_t hash;
    union {
      ChannelKey channel;
      BindingKey binding;  // also the permission key
      SendKey send;
    } key;
    union {
      const ChannelEntry* channel;
      const BindingEntry* binding;
      const SendEntry* send;
    } entry;
    SendIndication indication;  // Kind::Send only
  };
  // What goes between the UDP header and the kept bytes, and after them.
  struct Framing {
    uint16_t channel_be = 0;           // non-zero: a ChannelData header
    const uint8_t* peer_ip = nullptr;  // non-null: a Data indication from this peer
    uint16_t peer_port_be = 0;
    Family peer_family = Family::V4;
  };

  template <bool kTxOffload>
  uint16_t iterate();
  template <bool kTxOffload>
  void classify_impl(std::span<rte_mbuf* const> pkts, uint64_t now_tsc, uint64_t now_ns, Next* next);
  Verdict stage_packet(rte_mbuf* m, Stage& s, uint64_t now_tsc, uint64_t now_ns);
  // TCP to a relay address: to the kernel (a stream port) or a RST.
  Verdict tcp_segment(rte_mbuf* m, const ParsedFrame& p, uint64_t now_tsc);
  [[nodiscard]] bool is_stream_port(uint16_t port) const {
    return port != 0 && (port == stream_ports_[0] || port == stream_ports_[1] || port == stream_ports_[2]);
  }
  template <bool kTxOffload>
  Verdict from_kernel_impl(rte_mbuf* m, uint64_t now_tsc);
  template <bool kTxOffload>
  Verdict stream_input_impl(rte_mbuf* m, uint64_t now_tsc);
  // The kept bytes as the message to write to a stream client's
  // connection: ChannelData padded to 4 (RFC 8656 §12.5) or a Data
  // indication, alone in the mbuf, for the "to_stream" ring.
  Verdict to_stream_client(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, const BindingEntry& b,
                           const Framing& framing, Counter success);
  // Puts mbufs on "to_stream"; what does not fit is freed and counted.
  void hand_to_stream(rte_mbuf* const* ms, unsigned n);
  // Polls the TAP's RX queue (at most every kernel_poll_interval_ while it
  // is quiet) and queues what leaves for the wire behind tx_.
  template <bool kTxOffload>
  unsigned drain_kernel(uint64_t now_tsc);
  void send_to_kernel();
  Verdict stage_udp(rte_mbuf* m, Stage& s, uint64_t now_tsc, uint64_t now_ns);
  bool look_up(Stage& s);
  Counter unknown_send(const Stage& s, uint64_t now_tsc);
  template <bool kTxOffload>
  Verdict from_client(rte_mbuf* m, const Stage& s, uint64_t now_tsc);
  template <bool kTxOffload>
  Verdict from_peer(rte_mbuf* m, const Stage& s, uint64_t now_tsc);
  template <bool kTxOffload>
  Verdict from_send(rte_mbuf* m, const Stage& s, uint64_t now_tsc);
  // Client A's data whose peer is allocation `to_port` of this relay: to
  // that allocation's client as ChannelData (a channel bound to A's relayed
  // address) or a Data indication (a permission for it).
  template <bool kTxOffload>
  Verdict to_relayed_client(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, Family relay_family,
                            uint16_t from_port, uint16_t to_port, Family in_family, uint64_t now_tsc,
                            uint32_t kept_sum);
  // Sends the kept bytes to the client of binding or permission `b`:
  // ChannelData when it names a channel, else a Data indication from `peer`.
  template <bool kTxOffload>
  Verdict to_client(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, const BindingEntry& b,
                    const uint8_t* peer_ip, Family peer_family, uint16_t peer_port_be, Direction direction,
                    Family in_family, uint64_t now_tsc, uint32_t kept_sum);
  template <bool kTxOffload>
  Verdict emit_udp(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, const UdpAddressing& a,
                   const Framing& framing, Counter success, uint64_t now_tsc, uint32_t kept_sum);
  // `solicit` unset: no route (Neighbours::resolve).
  Verdict unresolved(rte_mbuf* m, const std::optional<NextHop>& solicit, uint64_t now_tsc);
  Verdict to_control_plane(rte_mbuf* m, const Stage& s, uint64_t now_ns);
  template <bool kTxOffload>
  unsigned drain_control_plane(uint64_t now_tsc);
  unsigned apply_commands(uint64_t now_tsc);
  // Between two iterations: nothing, a pause or a sleep (idle_backoff.hpp).
  void idle_wait();
  // rte_eth_tx_burst of tx_[0, tx_count_); frees and counts what the PMD refused.
  void send_tx();
  // Applies command_batch_[0, n) and acknowledges the numbered ones.
  void apply_batch(unsigned n, uint64_t now_tsc, uint64_t monotonic_now);
  [[nodiscard]] bool discarded(const ring_abi::CommandMessage& m);
  void stream_dump(uint64_t now_tsc);
  void publish_table_gauges(const ring_abi::CommandMessage& applied);
  void prime_neighbour(const ring_abi::WireSocketAddress& peer, uint64_t now_tsc);
  uint16_t dispatch(std::span<rte_mbuf* const> pkts, const Next* next);
  [[nodiscard]] uint64_t monotonic_ns(uint64_t tsc) const;

  // Hot, read every packet.
  LocalIdentity me_;
  WorkerCounters* counters_;
  uint16_t burst_;
  uint16_t mtu_;
  uint16_t port_id_;
  uint16_t queue_id_;
  bool has_port_;
  bool tx_offload_;
  uint16_t tx_count_ = 0;
  bool data_indication_fingerprint_;
  uint64_t transaction_ids_;  // splitmix64 state for Data indications' transaction IDs
  // What earlier turns held (fewer than TxHold::kSendAt), then one burst
  // each from the port, from_cp and the kernel.
  rte_mbuf* tx_[TxHold::kSendAt + 3 * kMaxBurst];
  Stage stages_[kMaxBurst];
  ForwardingTables tables_;
  Neighbours neighbours_;
  TokenBucket echo_limiter_;
  // Touched by STUN only, never by ChannelData or peer data.
  SourceRateLimiter stun_limiter_;
  // Streams: touched by TCP and by stream clients' traffic only.
  std::array<uint16_t, 3> stream_ports_;
  bool has_kernel_;
  uint16_t kernel_port_;
  uint16_t kernel_tx_count_ = 0;
  bool kernel_busy_ = false;  // the last kernel poll received something
  uint64_t next_kernel_poll_tsc_ = 0;
  uint64_t kernel_poll_interval_;
  uint8_t kernel_mac_[6];
  rte_ring* to_stream_;
  TokenBucket reset_limiter_;
  TokenBucket syn_limiter_;
  rte_mbuf* kernel_tx_[kMaxBurst];
  // Cold.
  rte_ring* commands_;
  // A member, not a local: CommandMessage's member initialisers would zero
  // its 4.3 KB on every loop iteration (29% of a saturated worker's cycles).
  ring_abi::CommandMessage command_batch_[kCommandsPerIteration];
  ring_abi::AckMessage ack_batch_[kCommandsPerIteration];
  rte_ring* acks_;
  uint8_t worker_index_;
  std::atomic<uint32_t>* discard_commands_;
  rte_ring* to_cp_;
  rte_ring* from_cp_;
  rte_ring* dump_;
  DumpCursor dump_cursor_;
  rte_mempool* solicitation_pool_;
  const std::atomic<bool>* stop_;
  uint64_t tsc_hz_;
  IdleBackoff backoff_;
  TxHold tx_hold_;
  bool worked_ = false;  // the last iteration received, sent or applied something
  uint64_t tsc_base_ = 0;
  uint64_t last_iteration_tsc_ = 0;
  uint64_t monotonic_base_ns_ = 0;
  double ns_per_tick_ = 0;
  WorkerCounters own_counters_;
  std::vector<uint64_t> live_allocations_;  // bit per allocation port: created and not freed
  uint64_t allocations_installed_ = 0;
};

// rte_eal_remote_launch entry point; `arg` is a Worker*.
int worker_main(void* arg);

// CLOCK_MONOTONIC now, in ns (the clock ring_abi expiries use).
uint64_t monotonic_now_ns();

}  // namespace relay::dataplane
