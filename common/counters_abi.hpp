// The data plane's counters as both processes see them: every outcome and
// every drop reason of a worker, declared once with its kind, and the
// layout of the "<prefix>counters" memzone the data plane writes and the
// control plane (metrics) and DPDK telemetry read. An ABI between two
// processes, so it lives here and not in dataplane/: logs, metrics, the
// pcap checker and the tests all use the snake_case names of this table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay {

// What a counter counts, so that a consumer never reads it from a name:
// metrics render Drop rows as relay_dataplane_drops_total{reason}, Port
// rows per port, and the others as relay_dataplane_events_total{event}.
enum class CounterKind : uint8_t {
  Port,     // frames through the port: received, sent, refused by the TX queue
  Forward,  // a datagram relayed, or carried across the exception path
  Host,     // the relay as a host on its link: ARP, Neighbour Discovery, echo
  Command,  // a table command from the control plane and its outcome
  Drop,     // a frame dropped, by reason; the name is "drop_" + reason
};

// X(enum name, "metric name", CounterKind)
#define RELAY_DATAPLANE_COUNTERS(X)                                            \
  X(RxPackets, "rx_packets", Port)                                             \
  X(TxPackets, "tx_packets", Port)                                             \
  X(TxRefused, "tx_refused", Port)                                             \
  /* forwarded */                                                              \
  X(ClientToPeer, "client_to_peer", Forward)                                   \
  X(PeerToClient, "peer_to_client", Forward)                                   \
  X(ClientToClient, "client_to_client", Forward)                               \
  X(SendToPeer, "send_to_peer", Forward)                                       \
  X(DataToClient, "data_to_client", Forward)                                   \
  X(ToControlPlane, "to_control_plane", Forward)                               \
  X(FromControlPlane, "from_control_plane", Forward)                           \
  /* streams (TURN over TCP/TLS, ARCHITECTURE.md "Streams") */                 \
  X(ToKernel, "to_kernel", Forward)                                            \
  X(FromKernel, "from_kernel", Forward)                                        \
  X(ToStream, "to_stream", Forward)                                            \
  /* host */                                                                   \
  X(ArpReplies, "arp_replies", Host)                                           \
  X(NeighbourAdvertisements, "neighbor_advertisements", Host)                  \
  X(EchoReplies, "echo_replies", Host)                                         \
  X(ArpRequestsSent, "arp_requests_sent", Host)                                \
  X(NeighbourSolicitationsSent, "neighbor_solicitations_sent", Host)           \
  X(NeighbourUpdatesConsumed, "neighbour_updates_consumed", Host)              \
  X(TcpResetsSent, "tcp_resets_sent", Host)                                    \
  /* commands */                                                               \
  X(CommandsApplied, "commands_applied", Command)                              \
  X(CommandsRejected, "commands_rejected", Command)                            \
  X(CommandTableFull, "command_table_full", Command)                           \
  X(CommandProbeLimit, "command_probe_limit", Command)                         \
  X(AcksLost, "acks_lost", Command)                                            \
  X(CommandsDiscarded, "commands_discarded", Command)                          \
  /* drops: frame not for us */                                                \
  X(DropNotForUs, "drop_not_for_us", Drop)                                     \
  X(DropWrongVlan, "drop_wrong_vlan", Drop)                                    \
  X(DropUnknownEthertype, "drop_unknown_ethertype", Drop)                      \
  /* drops: from a source nothing may send from (parse.hpp) */                 \
  X(DropBogusSource, "drop_bogus_source", Drop)                                \
  /* drops: malformed */                                                       \
  X(DropMultiSegment, "drop_multi_segment", Drop)                              \
  X(DropTruncated, "drop_truncated", Drop)                                     \
  X(DropBadIpHeader, "drop_bad_ip_header", Drop)                               \
  X(DropBadIpChecksum, "drop_bad_ip_checksum", Drop)                           \
  X(DropIpFragment, "drop_ip_fragment", Drop)                                  \
  X(DropIpv6ExtensionHeader, "drop_ipv6_extension_header", Drop)               \
  X(DropBadUdpLength, "drop_bad_udp_length", Drop)                             \
  X(DropBadUdpChecksum, "drop_bad_udp_checksum", Drop)                         \
  X(DropBadArp, "drop_bad_arp", Drop)                                          \
  X(DropBadIcmp, "drop_bad_icmp", Drop)                                        \
  X(DropBadTcp, "drop_bad_tcp", Drop)                                          \
  /* drops: on a relay address but nothing to do */                            \
  X(DropUnsupportedProtocol, "drop_unsupported_protocol", Drop)                \
  X(DropUnhandledIcmp, "drop_unhandled_icmp", Drop)                            \
  X(DropClosedPort, "drop_closed_port", Drop)                                  \
  X(DropNotStunOrChannelData, "drop_not_stun_or_channel_data", Drop)           \
  X(DropChannelDataLength, "drop_channel_data_length", Drop)                   \
  X(DropUnknownChannel, "drop_unknown_channel", Drop)                          \
  X(DropUnknownPeer, "drop_unknown_peer", Drop)                                \
  X(DropBadIndication, "drop_bad_indication", Drop)                            \
  X(DropIndicationFingerprint, "drop_indication_fingerprint", Drop)            \
  X(DropNoAllocation, "drop_no_allocation", Drop)                              \
  X(DropNoPermission, "drop_no_permission", Drop)                              \
  X(DropDeniedPeer, "drop_denied_peer", Drop)                                  \
  X(DropExpired, "drop_expired", Drop)                                         \
  X(DropTooBig, "drop_too_big", Drop)                                          \
  X(DropNoHeadroom, "drop_no_headroom", Drop)                                  \
  X(DropEchoRateLimited, "drop_echo_rate_limited", Drop)                       \
  X(DropStunRateLimited, "drop_stun_rate_limited", Drop)                       \
  X(DropNeighbourUnresolved, "drop_neighbour_unresolved", Drop)                \
  X(DropNoRoute, "drop_no_route", Drop)                                        \
  X(DropToControlPlaneFull, "drop_to_control_plane_full", Drop)                \
  X(DropFromControlPlaneInvalid, "drop_from_control_plane_invalid", Drop)      \
  /* drops: streams */                                                         \
  X(DropTcpReset, "drop_tcp_reset", Drop)                                      \
  X(DropTcpResetRateLimited, "drop_tcp_reset_rate_limited", Drop)              \
  X(DropStreamSynRateLimited, "drop_stream_syn_rate_limited", Drop)            \
  X(DropToKernelFull, "drop_to_kernel_full", Drop)                             \
  X(DropFromKernelUnexpected, "drop_from_kernel_unexpected", Drop)             \
  X(DropToStreamFull, "drop_to_stream_full", Drop)                             \
  X(DropStreamInputInvalid, "drop_stream_input_invalid", Drop)

enum class Counter : uint16_t {
#define RELAY_X(name, text, kind) name,
  RELAY_DATAPLANE_COUNTERS(RELAY_X)
#undef RELAY_X
      Count_
};

constexpr size_t kCounterCount = static_cast<size_t>(Counter::Count_);

constexpr std::array<std::string_view, kCounterCount> kCounterNames = {
#define RELAY_X(name, text, kind) std::string_view{text},
    RELAY_DATAPLANE_COUNTERS(RELAY_X)
#undef RELAY_X
};

constexpr std::array<CounterKind, kCounterCount> kCounterKinds = {
#define RELAY_X(name, text, kind) CounterKind::kind,
    RELAY_DATAPLANE_COUNTERS(RELAY_X)
#undef RELAY_X
};

constexpr std::string_view to_string(Counter c) { return kCounterNames[static_cast<size_t>(c)]; }
constexpr CounterKind kind_of(Counter c) { return kCounterKinds[static_cast<size_t>(c)]; }

// A Drop row is exported as its reason: the name without this prefix.
constexpr std::string_view kDropNamePrefix = "drop_";
constexpr std::string_view drop_reason(Counter c) { return to_string(c).substr(kDropNamePrefix.size()); }

constexpr bool drop_names_follow_kinds() {
  for (size_t i = 0; i < kCounterCount; ++i)
    if (kCounterNames[i].starts_with(kDropNamePrefix) != (kCounterKinds[i] == CounterKind::Drop)) return false;
  return true;
}
static_assert(drop_names_follow_kinds(), "the names of Drop rows, and only theirs, start with drop_");

// Relayed traffic by direction and by the address families of the datagram
// that came in and the one that went out (RFC 8656 §6.1 lets an IPv4
// client reach an IPv6 peer and the reverse).
enum class Direction : uint8_t { ClientToPeer, PeerToClient, ClientToClient, Count_ };
constexpr size_t kDirectionCount = static_cast<size_t>(Direction::Count_);
constexpr std::array<std::string_view, kDirectionCount> kDirectionNames = {"client_to_peer", "peer_to_client",
                                                                           "client_to_client"};
constexpr std::string_view to_string(Direction d) { return kDirectionNames[static_cast<size_t>(d)]; }

// Family::V4 (1) → 0, Family::V6 (2) → 1, without a branch or a way out of
// bounds on the fast path.
constexpr size_t family_index(Family f) { return (static_cast<size_t>(f) >> 1) & 1; }
constexpr std::array<std::string_view, 2> kFamilyIndexNames = {"ipv4", "ipv6"};

struct RelayedTraffic {
  uint64_t packets = 0;
  uint64_t bytes = 0;  // UDP payload (application data), without any header
};

// What the worker's table replica holds, written after each applied command.
// Every worker receives every command, so any one worker's values describe
// the whole relay.
struct TableGauges {
  uint64_t allocations = 0;  // created and not freed (expired but unfreed ones included)
  uint64_t channels = 0;     // client → peer entries, including dead ones not yet swept
  uint64_t bindings = 0;     // peer → client entries, likewise
  uint64_t permissions = 0;  // (allocation, peer IP) entries, likewise
  // The furthest any entry has sat from its home slot (high-water, at most
  // FlatTable::kMaxProbe): how many slots a lookup may walk.
  uint64_t longest_probe = 0;
  // The replica digest (ring_abi::entry_digest) and the last acknowledged
  // command (session << 32 | seq), as of the last numbered command.
  uint64_t digest = 0;
  uint64_t last_ack = 0;
};

// Written only by its own lcore (plain stores, no atomics); readers in other
// threads and processes load each word relaxed (load_relaxed) and tolerate a
// snapshot taken between two increments. Plain data so it can be placed in
// a memzone; alignas(64) keeps two workers' counters off one cache line.
struct alignas(64) WorkerCounters {
  std::array<uint64_t, kCounterCount> values{};
  // relayed[direction][family in][family out]
  std::array<std::array<std::array<RelayedTraffic, 2>, 2>, kDirectionCount> relayed{};
  uint64_t rx_bytes = 0;      // frame bytes as received (rte_pktmbuf_pkt_len)
  uint64_t tx_bytes = 0;      // frame bytes the PMD accepted
  uint64_t busy_cycles = 0;   // TSC cycles of iterations that received or sent packets
  uint64_t total_cycles = 0;  // TSC cycles of all iterations (sleeps included)
  uint64_t sleep_cycles = 0;  // TSC cycles asleep between iterations (dataplane.idle = adaptive)
  uint64_t sleeps = 0;
  TableGauges tables;

  void add(Counter c, uint64_t n = 1) { values[static_cast<size_t>(c)] += n; }
  [[nodiscard]] uint64_t get(Counter c) const { return values[static_cast<size_t>(c)]; }
  void add_relayed(Direction d, Family in, Family out, uint64_t payload_bytes) {
    RelayedTraffic& t = relayed[static_cast<size_t>(d)][family_index(in)][family_index(out)];
    ++t.packets;
    t.bytes += payload_bytes;
  }
  [[nodiscard]] const RelayedTraffic& relayed_of(Direction d, Family in, Family out) const {
    return relayed[static_cast<size_t>(d)][family_index(in)][family_index(out)];
  }
};
static_assert(std::is_trivially_copyable_v<WorkerCounters>);
static_assert(std::is_standard_layout_v<WorkerCounters>);

// A consistent-per-word copy of counters another lcore is writing: each
// 64-bit word is loaded whole (aligned, so never torn on the CPUs DPDK
// supports) and relaxed, which is all a monotonic counter needs.
inline WorkerCounters load_relaxed(const WorkerCounters& live) {
  static_assert(sizeof(WorkerCounters) % sizeof(uint64_t) == 0);
  static_assert(offsetof(WorkerCounters, tables) + sizeof(TableGauges) <= sizeof(WorkerCounters));
  WorkerCounters copy;
  // Every member is a uint64_t (or an array/struct of them), so the object is
  // a sequence of uint64_t words up to its tail padding.
  constexpr size_t kWords = (offsetof(WorkerCounters, tables) + sizeof(TableGauges)) / sizeof(uint64_t);
  const auto* from = reinterpret_cast<const uint64_t*>(&live);
  uint64_t words[kWords];
  for (size_t i = 0; i < kWords; ++i) words[i] = __atomic_load_n(from + i, __ATOMIC_RELAXED);
  std::memcpy(static_cast<void*>(&copy), words, sizeof words);
  return copy;
}

// Counters summed over workers; table gauges from the first worker (every
// worker holds a full replica).
inline WorkerCounters sum_counters(std::span<const WorkerCounters> workers) {
  WorkerCounters total;
  for (size_t w = 0; w < workers.size(); ++w) {
    const WorkerCounters c = load_relaxed(workers[w]);
    for (size_t i = 0; i < kCounterCount; ++i) total.values[i] += c.values[i];
    for (size_t d = 0; d < kDirectionCount; ++d)
      for (size_t in = 0; in < 2; ++in)
        for (size_t out = 0; out < 2; ++out) {
          total.relayed[d][in][out].packets += c.relayed[d][in][out].packets;
          total.relayed[d][in][out].bytes += c.relayed[d][in][out].bytes;
        }
    total.rx_bytes += c.rx_bytes;
    total.tx_bytes += c.tx_bytes;
    total.busy_cycles += c.busy_cycles;
    total.total_cycles += c.total_cycles;
    total.sleep_cycles += c.sleep_cycles;
    total.sleeps += c.sleeps;
    if (w == 0) total.tables = c.tables;
  }
  return total;
}

// ---- The "<prefix>counters" memzone -------------------------------------
//
//   offset 0                     CountersZoneHeader (64-byte aligned)
//   offset sizeof(header)        WorkerCounters[worker_count]
//
// The data plane (primary) reserves it before launching workers, fills the
// header and publishes `magic` last (release); readers (control plane,
// telemetry) check magic, version and the writer's table shape before using
// a single counter, so two binaries built from different counter tables
// refuse to read each other instead of mislabelling numbers.
constexpr std::string_view kCountersMemzoneStem = "counters";
inline std::string counters_memzone_name(std::string_view prefix) {
  return std::string(prefix) + std::string(kCountersMemzoneStem);
}
constexpr uint32_t kCountersMagic = 0x544e4352;  // "RCNT" in memory
constexpr uint32_t kCountersVersion = 6;
// RTE_MAX_LCORE of Debian's DPDK 22.11 build: no more workers than lcores.
constexpr size_t kMaxCounterWorkers = 128;

struct WorkerPlacement {
  uint16_t lcore = 0;
  uint16_t port = 0;  // the ethdev port this worker receives from and sends on
  uint8_t idle_mode = 0;  // IdleMode (common/idle_mode.hpp) in force
  uint8_t reserved[3] = {};
};

struct alignas(64) CountersZoneHeader {
  uint32_t magic = 0;
  uint32_t version = 0;
  uint32_t worker_count = 0;
  uint32_t counter_count = 0;  // the writer's kCounterCount
  uint32_t worker_size = 0;    // the writer's sizeof(WorkerCounters)
  uint32_t reserved = 0;
  uint64_t tsc_hz = 0;
  std::array<WorkerPlacement, kMaxCounterWorkers> placement{};
};
static_assert(std::is_trivially_copyable_v<CountersZoneHeader>);
static_assert(sizeof(CountersZoneHeader) % alignof(WorkerCounters) == 0);

constexpr size_t counters_zone_size(size_t workers) {
  return sizeof(CountersZoneHeader) + workers * sizeof(WorkerCounters);
}

// Lays the zone out in `memory` (64-byte aligned, at least
// counters_zone_size(n) bytes) and returns the workers' counters, zeroed.
inline Result<std::span<WorkerCounters>, std::string> init_counters_zone(std::span<std::byte> memory,
                                                                          uint64_t tsc_hz,
                                                                          std::span<const WorkerPlacement> workers) {
  if (workers.empty() || workers.size() > kMaxCounterWorkers)
    return Err{"counters zone: " + std::to_string(workers.size()) + " workers, want 1.." +
               std::to_string(kMaxCounterWorkers)};
  if (reinterpret_cast<uintptr_t>(memory.data()) % alignof(CountersZoneHeader) != 0)
    return Err{std::string("counters zone: memory is not 64-byte aligned")};
  if (memory.size() < counters_zone_size(workers.size()))
    return Err{"counters zone: " + std::to_string(memory.size()) + " bytes, need " +
               std::to_string(counters_zone_size(workers.size()))};
  auto* header = new (memory.data()) CountersZoneHeader{};
  header->version = kCountersVersion;
  header->worker_count = static_cast<uint32_t>(workers.size());
  header->counter_count = static_cast<uint32_t>(kCounterCount);
  header->worker_size = static_cast<uint32_t>(sizeof(WorkerCounters));
  header->tsc_hz = tsc_hz;
  for (size_t i = 0; i < workers.size(); ++i) header->placement[i] = workers[i];
  auto* first = reinterpret_cast<WorkerCounters*>(memory.data() + sizeof(CountersZoneHeader));
  for (size_t i = 0; i < workers.size(); ++i) new (first + i) WorkerCounters{};
  __atomic_store_n(&header->magic, kCountersMagic, __ATOMIC_RELEASE);
  return std::span<WorkerCounters>(first, workers.size());
}

struct CountersZoneView {
  const CountersZoneHeader* header = nullptr;
  std::span<const WorkerCounters> workers;
};

// Checks a zone someone else wrote (another process, maybe another build)
// before trusting any number in it.
inline Result<CountersZoneView, std::string> view_counters_zone(std::span<const std::byte> memory) {
  if (memory.size() < sizeof(CountersZoneHeader) ||
      reinterpret_cast<uintptr_t>(memory.data()) % alignof(CountersZoneHeader) != 0)
    return Err{std::string("counters zone: too small or misaligned")};
  const auto* header = reinterpret_cast<const CountersZoneHeader*>(memory.data());
  if (__atomic_load_n(&header->magic, __ATOMIC_ACQUIRE) != kCountersMagic)
    return Err{std::string("counters zone: no magic (not initialised yet?)")};
  if (header->version != kCountersVersion)
    return Err{"counters zone: version " + std::to_string(header->version) + ", this build reads " +
               std::to_string(kCountersVersion)};
  if (header->counter_count != kCounterCount || header->worker_size != sizeof(WorkerCounters))
    return Err{std::string("counters zone: written by a build with another counter table")};
  if (header->worker_count == 0 || header->worker_count > kMaxCounterWorkers ||
      memory.size() < counters_zone_size(header->worker_count))
    return Err{"counters zone: bad worker count " + std::to_string(header->worker_count)};
  const auto* first = reinterpret_cast<const WorkerCounters*>(memory.data() + sizeof(CountersZoneHeader));
  return CountersZoneView{header, {first, header->worker_count}};
}

}  // namespace relay
