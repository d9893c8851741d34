// The message ABI on the rte_rings between relay-controlplane (DPDK secondary)
// and relay-dataplane (DPDK primary). Everything here is a fixed-layout,
// trivially copyable struct because it crosses a process boundary through
// shared memory: no pointers (except rte_mbuf* on the packet rings, which are
// valid in every process of the DPDK memory domain), no std types with
// implementation-defined layout.
//
// Rings and the mempool (all names are prefixed with the deployment's
// `<prefix>`, e.g. "relay0."):
//   "<prefix>cmd.<lcore>"  one per worker lcore, rte_ring_create_elem with
//                          element size sizeof(CommandMessage); single
//                          producer (control plane), single consumer (that
//                          worker). Every worker receives every command,
//                          because RSS may put the two directions of one
//                          channel on different workers.
//   "<prefix>to_cp"        rte_mbuf* of received STUN datagrams, multi
//                          producer (workers), single consumer.
//   "<prefix>from_cp"      rte_mbuf* of datagrams the control plane wants
//                          sent, and of what stream clients relay
//                          (PacketMeta::kind); single producer, single
//                          consumer (the first worker, which owns the
//                          exception path).
//   "<prefix>to_stream"    rte_mbuf* of what peers relay to stream clients:
//                          the ChannelData (padded to 4, RFC 8656 §12.5) or
//                          Data indication to write to the client's stream;
//                          multi producer (workers), single consumer (the
//                          control plane). Full: the worker drops and counts.
//   "<prefix>dump"         CommandMessage elements, single producer (the first
//                          worker), single consumer (the control plane): the
//                          answer to DumpState, see "Control-plane restart"
//                          in ARCHITECTURE.md.
//   "<prefix>acks"         AckMessage elements, multi producer (workers),
//                          single consumer (the control plane): one per
//                          command that carries a sequence number, saying
//                          how it was applied (ARCHITECTURE.md,
//                          "Reconciliation").
//   "<prefix>mbufs"        the data plane's mbuf pool; the control plane looks
//                          it up by name and allocates from_cp mbufs there.
//
// Packet metadata on to_cp / from_cp lives in the mbuf private area
// (rte_mbuf_to_priv), not in the headroom: the headroom is rewritten when the
// worker prepends Ethernet/IP/UDP, the private area never is. The pool is
// created with priv_size = kMbufPrivSize. The mbuf data (rte_pktmbuf_mtod,
// data_len == pkt_len, one segment) is exactly the UDP payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/mix.hpp"
#include "common/net_types.hpp"
#include "common/time.hpp"

namespace relay::ring_abi {

constexpr std::string_view kCommandRingStem = "cmd.";
constexpr std::string_view kToControlPlaneRing = "to_cp";
constexpr std::string_view kFromControlPlaneRing = "from_cp";
constexpr std::string_view kToStreamRing = "to_stream";
constexpr std::string_view kMbufPool = "mbufs";
constexpr std::string_view kDumpRing = "dump";
constexpr std::string_view kAckRing = "acks";

inline std::string command_ring_name(std::string_view prefix, unsigned lcore) {
  return std::string(prefix) + std::string(kCommandRingStem) + std::to_string(lcore);
}
inline std::string ring_name(std::string_view prefix, std::string_view stem) {
  return std::string(prefix) + std::string(stem);
}

// Default ring sizes (power of two, as rte_ring needs); the relay takes
// dataplane.command_ring_size and exception_ring_size. The command rings
// absorb a burst of channel installs while a worker is busy; to_cp/from_cp
// absorb one control-plane scheduling hiccup worth of STUN traffic.
constexpr unsigned kCommandRingSize = 16384;
constexpr unsigned kPacketRingSize = 4096;
constexpr size_t kPacketRingElementSize = sizeof(void*);  // rte_mbuf*
// The dump ring only needs to cover the control plane's polling interval;
// the worker writes no more than the ring has room for.
constexpr unsigned kDumpRingSize = 4096;
// Acks outstanding at once are bounded by what the command rings hold and
// what one control-plane turn adds to them, twice a ring per worker; the
// data plane sizes the ring from its command ring size and worker count
// (ack_ring_size). A full ack ring loses the ack, which the control plane
// sees as a gap in the sequence and repairs like a lost command.
inline unsigned ack_ring_size(unsigned command_ring_size, unsigned workers) {
  unsigned size = 1;
  while (size < 2u * command_ring_size * workers) size <<= 1;
  return size;
}

// An address as it travels on the rings: family code as in STUN (RFC 8489
// §14.1; 0 = absent), port in host byte order, IP in network byte order
// (IPv4 in ip[0..3], rest zero). `transport` (a relay::Transport) is the
// client's for a client address, 0 (UDP) for every other.
struct WireSocketAddress {
  uint8_t family = 0;
  uint8_t transport = 0;
  uint16_t port = 0;
  uint8_t ip[16] = {};
};
static_assert(std::is_trivially_copyable_v<WireSocketAddress>);
static_assert(sizeof(WireSocketAddress) == 20);

inline WireSocketAddress to_wire(const SocketAddress& a) {
  WireSocketAddress w;
  w.family = static_cast<uint8_t>(a.ip.family);
  w.port = a.port;
  std::memcpy(w.ip, a.ip.bytes.data(), 16);
  return w;
}
inline WireSocketAddress to_wire(const std::optional<SocketAddress>& a) {
  return a ? to_wire(*a) : WireSocketAddress{};
}
inline WireSocketAddress to_wire(ClientSocket client, Transport transport) {
  WireSocketAddress w = to_wire(client.value);
  w.transport = static_cast<uint8_t>(transport);
  return w;
}
// A known Transport, or nullopt.
inline std::optional<Transport> transport_of(const WireSocketAddress& w) {
  if (w.transport > static_cast<uint8_t>(Transport::Tls)) return std::nullopt;
  return static_cast<Transport>(w.transport);
}
// Absent or unknown family → nullopt; the receiver counts and ignores it.
inline std::optional<SocketAddress> from_wire(const WireSocketAddress& w) {
  if (w.family != static_cast<uint8_t>(Family::V4) && w.family != static_cast<uint8_t>(Family::V6))
    return std::nullopt;
  SocketAddress a;
  a.ip.family = static_cast<Family>(w.family);
  std::memcpy(a.ip.bytes.data(), w.ip, 16);
  if (a.ip.is_v4()) std::memset(a.ip.bytes.data() + 4, 0, 12);
  a.port = w.port;
  return a;
}

enum class CommandKind : uint8_t {
  CreateAllocation = 1,
  UpdateAllocation = 2,
  FreeAllocation = 3,
  InstallChannel = 4,  // re-install of the same (client, channel) = refresh
  RemoveChannel = 5,
  // Control-plane restart: DumpState (cmd ring of the first worker) asks
  // for every live allocation and channel on the dump ring, as
  // CreateAllocation / InstallChannel messages, followed by DumpEnd. Every
  // one of them carries the request's dump_id.
  DumpState = 6,
  DumpEnd = 7,
  // RFC 8656 §9: the allocation may exchange Send/Data indications with
  // `peer`'s IP (any port) until expiry_ns; re-install = refresh. A
  // permission ends at its expiry or with its allocation, or by
  // RemovePermission when a worker refused it for a full table.
  InstallPermission = 8,
  RemovePermission = 9,
};

// One element of a "cmd.<lcore>" ring. Which address fields mean what
// depends on `kind` (see the make_* helpers, the only way to build one):
//   CreateAllocation: port, expiry_ns, relay_v4, relay_v6, client, listen, owner
//   UpdateAllocation: port, expiry_ns
//   FreeAllocation:   port
//   InstallChannel:   channel, expiry_ns, client, listen, peer, relay
//   RemoveChannel:    channel, client, listen, peer, relay
//   InstallPermission: expiry_ns, client, listen, peer (port 0), relay
//   RemovePermission:  client, listen, peer (port 0), relay
//   DumpState, DumpEnd: dump_id
// dump_id is 0 except on the dump ring and in DumpState: it tells a new
// control plane's dump from what a crashed one left behind.
// expiry_ns is CLOCK_MONOTONIC nanoseconds (common/time.hpp Instant).
// seq numbers the messages of one cmd ring within one control-plane
// `session` (1, 2, ... as they enter the ring; 0 = not acknowledged); the
// worker answers each numbered message with an AckMessage. group_rest > 0
// says that many following messages belong to the same group, which the
// worker applies without a packet burst in between (a resynchronised
// allocation is re-created and gets its channels back atomically).
struct CommandMessage {
  CommandKind kind{};
  uint8_t reserved0 = 0;
  uint16_t port = 0;     // AllocationPort
  uint16_t channel = 0;  // ChannelNumber
  uint16_t dump_id = 0;
  uint64_t expiry_ns = 0;
  WireSocketAddress relay_v4;
  WireSocketAddress relay_v6;
  WireSocketAddress client;
  WireSocketAddress listen;
  WireSocketAddress peer;
  WireSocketAddress relay;
  // Who owns the allocation (core::OwnerId: a hash of the owner's salt;
  // 0 = unknown). The data plane never reads it; it keeps it so that a
  // restarted control plane knows whom a dumped allocation belongs to.
  uint64_t owner = 0;
  uint32_t seq = 0;
  uint16_t group_rest = 0;
  uint16_t session = 0;
};
static_assert(std::is_trivially_copyable_v<CommandMessage>);
static_assert(std::is_standard_layout_v<CommandMessage>);
static_assert(sizeof(CommandMessage) == 152);
static_assert(sizeof(CommandMessage) % 4 == 0, "rte_ring_create_elem needs a multiple of 4");
static_assert(offsetof(CommandMessage, expiry_ns) == 8);
static_assert(offsetof(CommandMessage, dump_id) == 6);
static_assert(offsetof(CommandMessage, owner) == 136);
static_assert(offsetof(CommandMessage, seq) == 144);
constexpr size_t kCommandElementSize = sizeof(CommandMessage);

// How a worker applied one numbered CommandMessage. Values of
// dataplane::Applied.
enum class AckResult : uint8_t { Ok = 0, Rejected = 1, TableFull = 2, ProbeLimit = 3 };

// One element of "<prefix>acks". `digest` is the worker's replica digest
// right after applying the message (the XOR of entry_digest below over
// its allocations and channels).
struct AckMessage {
  uint32_t seq = 0;
  uint16_t session = 0;
  uint8_t worker = 0;  // index of the worker (its cmd ring), not the lcore id
  AckResult result = AckResult::Ok;
  uint64_t digest = 0;
};
static_assert(std::is_trivially_copyable_v<AckMessage>);
static_assert(sizeof(AckMessage) == 16);

// The replica digest: the XOR of one hash per allocation and per channel
// a replica holds, so two replicas with the same allocations and channels
// have the same digest whatever order they were built in. Expiry is left
// out (the two processes convert it through different clocks), and so are
// permissions: they end by expiring on both sides without a command, at
// moments that differ by microseconds. `m` is the CreateAllocation or
// InstallChannel message that installs the entry (or one built from it).
namespace detail {
inline uint64_t digest_address(uint64_t h, const WireSocketAddress& a) {
  uint64_t words[2] = {};
  std::memcpy(words, a.ip, a.family == static_cast<uint8_t>(Family::V4) ? 4 : 16);
  h = mix64(h ^ (uint64_t{a.transport} << 24 | uint64_t{a.family} << 16 | a.port));
  h = mix64(h ^ words[0]);
  return mix64(h ^ words[1]);
}
}  // namespace detail
inline uint64_t entry_digest(const CommandMessage& m) {
  if (m.kind == CommandKind::CreateAllocation) {
    uint64_t h = mix64(uint64_t{static_cast<uint8_t>(m.kind)} << 32 | m.port);
    h = detail::digest_address(h, m.client);
    h = mix64(h ^ m.owner);
    return mix64(h ^ (uint64_t{m.relay_v4.family != 0} | uint64_t{m.relay_v6.family != 0} << 1));
  }
  uint64_t h = mix64(uint64_t{static_cast<uint8_t>(m.kind)} << 32 | uint64_t{m.port} << 16 | m.channel);
  h = detail::digest_address(h, m.client);
  return detail::digest_address(h, m.peer);
}

inline CommandMessage make_create_allocation(AllocationPort port, const std::optional<SocketAddress>& relay_v4,
                                             const std::optional<SocketAddress>& relay_v6,
                                             const ClientFiveTuple& client, Instant expiry, uint64_t owner = 0) {
  CommandMessage m;
  m.kind = CommandKind::CreateAllocation;
  m.port = port.value;
  m.expiry_ns = expiry.ns();
  m.relay_v4 = to_wire(relay_v4);
  m.relay_v6 = to_wire(relay_v6);
  m.client = to_wire(client.client, client.transport);
  m.listen = to_wire(client.listen.value);
  m.owner = owner;
  return m;
}
inline CommandMessage make_update_allocation(AllocationPort port, Instant expiry) {
  CommandMessage m;
  m.kind = CommandKind::UpdateAllocation;
  m.port = port.value;
  m.expiry_ns = expiry.ns();
  return m;
}
inline CommandMessage make_free_allocation(AllocationPort port) {
  CommandMessage m;
  m.kind = CommandKind::FreeAllocation;
  m.port = port.value;
  return m;
}
// `relay` is the allocation's relay address of the peer's family and the
// allocation port: it names the allocation the channel belongs to.
inline CommandMessage make_install_channel(const ClientFiveTuple& client, ChannelNumber channel,
                                           const PeerSocket& peer, const SocketAddress& relay, Instant expiry) {
  CommandMessage m;
  m.kind = CommandKind::InstallChannel;
  m.port = relay.port;
  m.channel = channel.value;
  m.expiry_ns = expiry.ns();
  m.client = to_wire(client.client, client.transport);
  m.listen = to_wire(client.listen.value);
  m.peer = to_wire(peer.value);
  m.relay = to_wire(relay);
  return m;
}
inline CommandMessage make_remove_channel(const ClientFiveTuple& client, ChannelNumber channel,
                                          const PeerSocket& peer, const SocketAddress& relay) {
  CommandMessage m = make_install_channel(client, channel, peer, relay, Instant{});
  m.kind = CommandKind::RemoveChannel;
  return m;
}

// `relay` as for a channel: the allocation's relay address of the peer's
// family and the allocation port.
inline CommandMessage make_install_permission(const ClientFiveTuple& client, const IpAddress& peer,
                                              const SocketAddress& relay, Instant expiry) {
  CommandMessage m;
  m.kind = CommandKind::InstallPermission;
  m.port = relay.port;
  m.expiry_ns = expiry.ns();
  m.client = to_wire(client.client, client.transport);
  m.listen = to_wire(client.listen.value);
  m.peer = to_wire(SocketAddress{peer, 0});
  m.relay = to_wire(relay);
  return m;
}

inline CommandMessage make_remove_permission(const ClientFiveTuple& client, const IpAddress& peer,
                                             const SocketAddress& relay) {
  CommandMessage m = make_install_permission(client, peer, relay, Instant{});
  m.kind = CommandKind::RemovePermission;
  return m;
}

inline CommandMessage make_dump_state(uint16_t dump_id) {
  CommandMessage m;
  m.kind = CommandKind::DumpState;
  m.dump_id = dump_id;
  return m;
}
inline CommandMessage make_dump_end(uint16_t dump_id) {
  CommandMessage m;
  m.kind = CommandKind::DumpEnd;
  m.dump_id = dump_id;
  return m;
}

// What an mbuf on "from_cp" asks of the data plane.
enum class PacketKind : uint8_t {
  // Send the payload as a UDP datagram from `local` to `remote`.
  Datagram = 0,
  // A stream client's ChannelData or Send indication, unframed: relay it
  // exactly as if it had arrived from `remote` (remote.transport says over
  // what) on `local`, through the same tables and checks.
  StreamInput = 1,
};

// Metadata of an mbuf on "to_cp" (remote = the client that sent it, local =
// our listen socket it arrived on), on "from_cp" (remote = destination,
// local = source, which must be one of our listen sockets; or, for
// StreamInput, the stream client and the listen socket it spoke to) and on
// "to_stream" (remote = the stream client with its transport, local = the
// listen socket of its stream).
struct PacketMeta {
  WireSocketAddress remote;
  WireSocketAddress local;
  uint64_t rx_timestamp_ns = 0;  // CLOCK_MONOTONIC; 0 on from_cp
  PacketKind kind = PacketKind::Datagram;  // from_cp only
  uint8_t reserved[7] = {};
};
static_assert(std::is_trivially_copyable_v<PacketMeta>);
static_assert(sizeof(PacketMeta) == 56);

// Private area size of every mbuf of "<prefix>mbufs" (a multiple of
// RTE_MBUF_PRIV_ALIGN = 8, checked where the pool is created).
constexpr uint16_t kMbufPrivSize = 64;
static_assert(sizeof(PacketMeta) <= kMbufPrivSize);

}  // namespace relay::ring_abi
