// Per-lcore counters: every outcome and every drop reason of the worker,
// declared once. Logs, metrics, the pcap checker and the tests all use the
// snake_case names from this table.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace relay::dataplane {

// X(enum name, "metric name")
#define RELAY_DATAPLANE_COUNTERS(X)                                            \
  X(RxPackets, "rx_packets")                                                   \
  X(TxPackets, "tx_packets")                                                   \
  X(TxRefused, "tx_refused")                                                   \
  /* forwarded */                                                              \
  X(ClientToPeer, "client_to_peer")                                            \
  X(PeerToClient, "peer_to_client")                                            \
  X(ClientToClient, "client_to_client")                                        \
  X(ToControlPlane, "to_control_plane")                                        \
  X(FromControlPlane, "from_control_plane")                                    \
  X(ArpReplies, "arp_replies")                                                 \
  X(NeighborAdvertisements, "neighbor_advertisements")                         \
  X(EchoReplies, "echo_replies")                                               \
  X(ArpRequestsSent, "arp_requests_sent")                                      \
  X(NeighborSolicitationsSent, "neighbor_solicitations_sent")                  \
  X(NeighbourUpdatesConsumed, "neighbour_updates_consumed")                   \
  /* commands */                                                               \
  X(CommandsApplied, "commands_applied")                                       \
  X(CommandsRejected, "commands_rejected")                                     \
  X(CommandTableFull, "command_table_full")                                    \
  /* drops: frame not for us */                                                \
  X(DropNotForUs, "drop_not_for_us")                                           \
  X(DropWrongVlan, "drop_wrong_vlan")                                          \
  X(DropUnknownEthertype, "drop_unknown_ethertype")                            \
  /* drops: malformed */                                                       \
  X(DropMultiSegment, "drop_multi_segment")                                    \
  X(DropTruncated, "drop_truncated")                                           \
  X(DropBadIpHeader, "drop_bad_ip_header")                                     \
  X(DropBadIpChecksum, "drop_bad_ip_checksum")                                 \
  X(DropIpFragment, "drop_ip_fragment")                                        \
  X(DropIpv6ExtensionHeader, "drop_ipv6_extension_header")                     \
  X(DropBadUdpLength, "drop_bad_udp_length")                                   \
  X(DropBadUdpChecksum, "drop_bad_udp_checksum")                               \
  X(DropBadArp, "drop_bad_arp")                                                \
  X(DropBadIcmp, "drop_bad_icmp")                                              \
  /* drops: on a relay address but nothing to do */                            \
  X(DropUnsupportedProtocol, "drop_unsupported_protocol")                      \
  X(DropUnhandledIcmp, "drop_unhandled_icmp")                                  \
  X(DropClosedPort, "drop_closed_port")                                        \
  X(DropNotStunOrChannelData, "drop_not_stun_or_channel_data")                 \
  X(DropChannelDataLength, "drop_channel_data_length")                         \
  X(DropUnknownChannel, "drop_unknown_channel")                                \
  X(DropUnknownPeer, "drop_unknown_peer")                                      \
  X(DropExpired, "drop_expired")                                               \
  X(DropNoRelayAddress, "drop_no_relay_address")                               \
  X(DropTooBig, "drop_too_big")                                                \
  X(DropNoHeadroom, "drop_no_headroom")                                        \
  X(DropEchoRateLimited, "drop_echo_rate_limited")                             \
  X(DropNeighbourUnresolved, "drop_neighbour_unresolved")                      \
  X(DropNoRoute, "drop_no_route")                                              \
  X(DropToControlPlaneFull, "drop_to_control_plane_full")                      \
  X(DropFromControlPlaneInvalid, "drop_from_control_plane_invalid")

enum class Counter : uint16_t {
#define RELAY_X(name, text) name,
  RELAY_DATAPLANE_COUNTERS(RELAY_X)
#undef RELAY_X
      Count_
};

constexpr size_t kCounterCount = static_cast<size_t>(Counter::Count_);

constexpr std::array<std::string_view, kCounterCount> kCounterNames = {
#define RELAY_X(name, text) std::string_view{text},
    RELAY_DATAPLANE_COUNTERS(RELAY_X)
#undef RELAY_X
};

constexpr std::string_view to_string(Counter c) { return kCounterNames[static_cast<size_t>(c)]; }

// Written only by its own lcore (plain stores, no atomics); readers in other
// processes (telemetry) tolerate torn snapshots of a monotonic counter. Plain
// data so it can be placed in a memzone; alignas(64) keeps two workers'
// counters off one cache line.
struct alignas(64) WorkerCounters {
  std::array<uint64_t, kCounterCount> values{};
  uint64_t busy_cycles = 0;   // TSC cycles of iterations that received packets
  uint64_t total_cycles = 0;  // TSC cycles since the loop started

  void add(Counter c, uint64_t n = 1) { values[static_cast<size_t>(c)] += n; }
  [[nodiscard]] uint64_t get(Counter c) const { return values[static_cast<size_t>(c)]; }
};
static_assert(std::is_trivially_copyable_v<WorkerCounters>);

}  // namespace relay::dataplane
