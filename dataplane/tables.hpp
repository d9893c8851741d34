// One worker's replica of the forwarding state: allocations (indexed by
// port), channels by (client, channel number) for client → peer, bindings
// by (allocation port, peer) for peer → client, and permissions (RFC 8656
// §9) twice over: by (client, peer IP) for Send indications and by
// (allocation port, peer IP) for Data indications. Only the owning worker
// writes it, by applying CommandMessages from its cmd ring.
//
// Every entry carries a TSC deadline and the generation of its allocation;
// the fast path refuses an entry whose deadline passed or whose allocation
// was freed (or re-created) since, so nothing stale is ever used even when
// no RemoveChannel arrives.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "common/counters_abi.hpp"
#include "common/ring_abi.hpp"
#include "dataplane/flat_table.hpp"
#include "dataplane/parse.hpp"

namespace relay::dataplane {

// Ports in keys and entries are in network byte order: the fast path copies
// them straight from the packet.
// A client is its address and its transport (relay::Transport): a TCP and
// a UDP client with the same IP:port are two clients (RFC 8656 §2). Wire
// UDP always looks up with Transport::Udp (0), which keeps the fast path's
// keys what they were.
struct ChannelKey {
  uint8_t client_ip[16];
  uint16_t client_port_be;
  uint16_t channel_be;
  uint8_t client_family;
  uint8_t client_transport;
  uint8_t zero[2];
};
struct ChannelEntry {
  uint8_t peer_ip[16];
  uint16_t peer_port_be;
  uint16_t allocation_port;  // host order: indexes the allocation array
  uint8_t peer_family;
  uint8_t zero;
  uint16_t generation;
  uint64_t deadline_tsc;
};
struct BindingKey {
  uint8_t peer_ip[16];
  uint16_t peer_port_be;
  uint16_t allocation_port_be;
  uint8_t peer_family;
  uint8_t zero[3];
};
struct BindingEntry {
  uint8_t client_ip[16];
  uint16_t client_port_be;
  uint16_t channel_be;
  uint8_t client_family;
  uint8_t client_transport;  // not Udp: a stream client, reached through the to_stream ring
  uint16_t generation;
  uint64_t deadline_tsc;
};
// A Send indication's (client, peer IP): one lookup finds both the
// client's allocation and its permission for the peer.
struct SendKey {
  uint8_t client_ip[16];
  uint8_t peer_ip[16];
  uint16_t client_port_be;
  uint8_t client_family;
  uint8_t peer_family;
  uint8_t client_transport;
  uint8_t zero[3];
};
struct SendEntry {
  uint16_t allocation_port;  // host order
  uint16_t generation;
  uint32_t zero;
  uint64_t deadline_tsc;
};
// A client's allocation, by ChannelKey with channel 0 (never a valid
// number, RFC 8656 §12): only read to tell a Send indication's "no
// allocation" from "no permission" when its SendKey is missing.
struct AllocationRef {
  uint16_t allocation_port;
  uint16_t generation;
  uint8_t zero[32];  // a slot of exactly one cache line
};
static_assert(sizeof(ChannelKey) == 24 && sizeof(BindingKey) == 24 && sizeof(SendKey) == 40);
static_assert(sizeof(ChannelEntry) == 32 && sizeof(BindingEntry) == 32 && sizeof(SendEntry) == 16);

using ChannelTable = FlatTable<ChannelKey, ChannelEntry>;
using BindingTable = FlatTable<BindingKey, BindingEntry>;
// Peer → client without a channel: a BindingKey whose peer port is 0
// (permissions are per IP, RFC 8656 §9) to a BindingEntry whose channel is
// 0, which tells the worker to send a Data indication instead of ChannelData.
using PermissionTable = FlatTable<BindingKey, BindingEntry>;
using SendTable = FlatTable<SendKey, SendEntry>;
using ClientTable = FlatTable<ChannelKey, AllocationRef>;
static_assert(sizeof(ChannelTable::Slot) == 64 && sizeof(BindingTable::Slot) == 64 && sizeof(SendTable::Slot) == 64 &&
              sizeof(ClientTable::Slot) == 64);

struct AllocationEntry {
  uint64_t deadline_tsc = 0;
  uint16_t generation = 0;
  bool live = false;
};

// Converts CLOCK_MONOTONIC deadlines to TSC deadlines at the moment a
// command is applied (tsc_now + (expiry − now) × hz / 1e9).
struct TscClock {
  uint64_t tsc_hz = 0;
  uint64_t tsc_now = 0;
  uint64_t monotonic_now_ns = 0;
  [[nodiscard]] uint64_t deadline(uint64_t expiry_ns) const;
  // The inverse, for the restart dump; 0 when the deadline has passed.
  [[nodiscard]] uint64_t expiry_ns(uint64_t deadline_tsc) const;
};

// Who an allocation belongs to: nothing the fast path reads, kept so a
// restarted control plane can be told (ForwardingTables::dump).
struct AllocationOrigin {
  ring_abi::WireSocketAddress client;
  ring_abi::WireSocketAddress listen;
  bool relay_v4 = false;
  bool relay_v6 = false;
  uint64_t owner = 0;  // CommandMessage::owner, handed back as it came
};

// Where a dump stands between two worker iterations: allocation ports
// first, then channel slots, then permission slots, then the DumpEnd marker.
class DumpCursor {
 public:
  void start(uint16_t dump_id) {
    phase_ = Phase::Allocations;
    next_ = 0;
    id_ = dump_id;
  }
  [[nodiscard]] bool active() const { return phase_ != Phase::Idle; }
  [[nodiscard]] uint16_t id() const { return id_; }

 private:
  friend class ForwardingTables;
  enum class Phase : uint8_t { Idle, Allocations, Channels, Permissions, End };
  Phase phase_ = Phase::Idle;
  uint64_t next_ = 0;  // allocation index or channel slot
  uint16_t id_ = 0;
};

// ProbeLimit: a table refused the entry as too far from its home slot
// (flat_table.hpp), which only colliding keys can cause.
enum class Applied : uint8_t { Ok, Rejected, TableFull, ProbeLimit };

class ForwardingTables {
 public:
  // Every table hashes with `secret` (random per worker in production).
  ForwardingTables(const InterfaceConfig& config, const LocalIdentity& me, const HashSecret& secret);

  Applied apply(const ring_abi::CommandMessage& m, const TscClock& clock);

  // Fast-path views: entries are usable only when live(…) says so.
  ChannelTable& channels() { return channels_; }
  BindingTable& bindings() { return bindings_; }
  PermissionTable& permissions() { return permissions_; }
  SendTable& sends() { return sends_; }
  // Whether a client 5-tuple has a live allocation (cold path).
  [[nodiscard]] bool has_allocation(Family family, const uint8_t* ip, uint16_t port_be, uint64_t now_tsc,
                                    Transport transport = Transport::Udp);
  [[nodiscard]] bool live(uint16_t allocation_port, uint16_t generation, uint64_t entry_deadline,
                          uint64_t now_tsc) const {
    const AllocationEntry& a = allocations_[allocation_port - me_.min_allocation_port];
    return entry_deadline > now_tsc && a.live && a.generation == generation && a.deadline_tsc > now_tsc;
  }

  void prefetch_allocation(uint16_t allocation_port) const {
    __builtin_prefetch(&allocations_[allocation_port - me_.min_allocation_port]);
  }

  // Continues `cursor`'s dump: writes at most out.size() messages (live
  // allocations as CreateAllocation, live channels as InstallChannel, live
  // permissions as InstallPermission, then DumpEnd, all tagged with the
  // cursor's id) and looks at no more than
  // `visits` allocation ports or channel slots, so one call is bounded
  // however large the replica. Returns how many messages it wrote.
  size_t dump(DumpCursor& cursor, std::span<ring_abi::CommandMessage> out, uint64_t visits,
              const TscClock& clock) const;

  // Bytes of table memory per channel when the replica is full.
  [[nodiscard]] double bytes_per_channel() const;
  // The furthest any entry of the four packet-path tables has sat from its
  // home slot (high-water), for the table gauges.
  [[nodiscard]] uint64_t longest_probe() const;
  // ring_abi's replica digest of the allocations and channels held now
  // (expired ones included until freed, removed or swept).
  [[nodiscard]] uint64_t digest() const { return digest_; }

 private:
  Applied create_allocation(const ring_abi::CommandMessage& m, const TscClock& clock);
  Applied install_channel(const ring_abi::CommandMessage& m, const TscClock& clock);
  Applied remove_channel(const ring_abi::CommandMessage& m);
  Applied install_permission(const ring_abi::CommandMessage& m, const TscClock& clock);
  Applied remove_permission(const ring_abi::CommandMessage& m);
  // The checks InstallChannel and InstallPermission share: client, peer,
  // listen and relay sockets are valid and ours, and the allocation is live.
  AllocationEntry* live_target(const ring_abi::CommandMessage& m);
  bool is_our_relay(const ring_abi::WireSocketAddress& a) const;
  [[nodiscard]] ring_abi::WireSocketAddress ours(Family f, uint16_t port) const;
  [[nodiscard]] std::optional<ring_abi::CommandMessage> allocation_message(uint64_t index,
                                                                           const TscClock& clock) const;
  // The InstallChannel that made (k, e), without its expiry.
  [[nodiscard]] ring_abi::CommandMessage channel_identity(const ChannelKey& k, const ChannelEntry& e) const;
  [[nodiscard]] std::optional<ring_abi::CommandMessage> channel_message(const ChannelKey& k, const ChannelEntry& e,
                                                                        const TscClock& clock) const;
  [[nodiscard]] std::optional<ring_abi::CommandMessage> permission_message(const BindingKey& k, const BindingEntry& e,
                                                                           const TscClock& clock) const;
  AllocationEntry* allocation(uint16_t port);
  // Points the allocation's client (origins_) at `port`, or forgets it.
  void index_client(uint16_t port, bool live);
  // Drops entries that are expired or whose allocation is gone; runs when
  // an insert finds the replica full, at most once a second (a full scan of
  // a 1M replica takes milliseconds).
  void sweep(const TscClock& clock);
  // Bindings and permissions: entries keyed by (peer, allocation port).
  void sweep_peer_side(BindingTable& table, uint64_t now_tsc);
  // Whether the replica digest counts channel entry `e`: it belongs to
  // the current generation of a created allocation.
  [[nodiscard]] bool counted(const ChannelEntry& e) const;
  // XORs `h` into (or out of) the digest and the allocation's share of it.
  void toggle_digest(uint16_t allocation_port, uint64_t h);

  LocalIdentity me_;
  std::vector<AllocationEntry> allocations_;
  std::vector<AllocationOrigin> origins_;  // same index as allocations_
  // Same index: the digest of the allocation and its counted channels,
  // kept apart from allocations_, which the fast path reads per packet.
  std::vector<uint64_t> allocation_digests_;
  uint64_t digest_ = 0;
  ChannelTable channels_;
  BindingTable bindings_;
  PermissionTable permissions_;
  SendTable sends_;
  ClientTable clients_;
  uint64_t last_sweep_tsc_ = 0;
};

// Keys are assembled in 64-bit words (address, address, ports and
// family) and stored whole: building them field by field and hashing them
// right after costs a store-forwarding stall per field on the fast path.
namespace detail {
static_assert(std::endian::native == std::endian::little, "word layout below");
// An address as two words: IPv4 in the low half of the first, the rest zero.
inline void address_words(Family family, const uint8_t* ip, uint64_t* w) {
  if (family == Family::V4) {
    uint32_t v4;
    std::memcpy(&v4, ip, 4);
    w[0] = v4;
    w[1] = 0;
  } else {
    std::memcpy(w, ip, 16);
  }
}
template <class Key>
inline Key key_from_words(Family family, const uint8_t* ip, uint64_t tail, uint8_t byte_after_family = 0) {
  static_assert(sizeof(Key) == 24);
  uint64_t w[3] = {0, 0, tail | uint64_t{static_cast<uint8_t>(family)} << 32 | uint64_t{byte_after_family} << 40};
  address_words(family, ip, w);
  Key k;
  std::memcpy(&k, w, sizeof w);
  return k;
}
}  // namespace detail

inline ChannelKey make_channel_key(Family client_family, const uint8_t* client_ip, uint16_t client_port_be,
                                   uint16_t channel_be, Transport client_transport = Transport::Udp) {
  static_assert(offsetof(ChannelKey, client_port_be) == 16 && offsetof(ChannelKey, channel_be) == 18 &&
                offsetof(ChannelKey, client_family) == 20 && offsetof(ChannelKey, client_transport) == 21);
  return detail::key_from_words<ChannelKey>(client_family, client_ip,
                                            uint64_t{client_port_be} | uint64_t{channel_be} << 16,
                                            static_cast<uint8_t>(client_transport));
}
inline BindingKey make_binding_key(Family peer_family, const uint8_t* peer_ip, uint16_t peer_port_be,
                                   uint16_t allocation_port_be) {
  static_assert(offsetof(BindingKey, peer_port_be) == 16 && offsetof(BindingKey, allocation_port_be) == 18 &&
                offsetof(BindingKey, peer_family) == 20);
  return detail::key_from_words<BindingKey>(peer_family, peer_ip,
                                            uint64_t{peer_port_be} | uint64_t{allocation_port_be} << 16);
}

inline BindingKey make_permission_key(Family peer_family, const uint8_t* peer_ip, uint16_t allocation_port_be) {
  return make_binding_key(peer_family, peer_ip, 0, allocation_port_be);
}
inline SendKey make_send_key(Family client_family, const uint8_t* client_ip, uint16_t client_port_be,
                             Family peer_family, const uint8_t* peer_ip, Transport client_transport = Transport::Udp) {
  static_assert(offsetof(SendKey, peer_ip) == 16 && offsetof(SendKey, client_port_be) == 32 &&
                offsetof(SendKey, client_family) == 34 && offsetof(SendKey, peer_family) == 35 &&
                offsetof(SendKey, client_transport) == 36);
  uint64_t w[5];
  detail::address_words(client_family, client_ip, w);
  detail::address_words(peer_family, peer_ip, w + 2);
  w[4] = uint64_t{client_port_be} | uint64_t{static_cast<uint8_t>(client_family)} << 16 |
         uint64_t{static_cast<uint8_t>(peer_family)} << 24 | uint64_t{static_cast<uint8_t>(client_transport)} << 32;
  SendKey k;
  std::memcpy(&k, w, sizeof w);
  return k;
}

}  // namespace relay::dataplane
