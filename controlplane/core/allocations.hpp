// The Server's allocation bookkeeping: the allocations by client 5-tuple and
// by port, the relay port range (free, reserved by EVEN-PORT R=1, held after
// an allocation ended) and what each user and client IP is charged against
// its allocation quotas. It decides nothing and emits no command: the Server
// does both. Timers and randomness come in as arguments, so nothing here
// points into the Server and a moved Server keeps working.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/net_types.hpp"
#include "common/time.hpp"
#include "controlplane/core/allocation.hpp"
#include "controlplane/core/fast_hash.hpp"
#include "controlplane/core/port_allocator.hpp"
#include "controlplane/core/rng.hpp"
#include "controlplane/core/stun/stun.hpp"
#include "controlplane/core/timer_queue.hpp"

namespace relay::core {

// RFC 8656 §7.2: a reserved port is held for the token's holder ~30 s.
constexpr Duration kReservationLifetime = std::chrono::seconds(30);

// The relay address families of an allocation.
struct RelayFamilies {
  bool v4 = true;
  bool v6 = false;
};

struct PortGrant {
  AllocationPort port;
  std::optional<stun::ReservationToken> reserved_next;  // EVEN-PORT with R
  std::optional<RelayFamilies> reserved_families;       // redeemed a RESERVATION-TOKEN
};

class Allocations {
 public:
  explicit Allocations(PortRange ports);

  [[nodiscard]] Allocation* at(uint16_t port) const {
    return ports_.in_range(port) ? by_port_[port - port_min_] : nullptr;
  }
  [[nodiscard]] Allocation* of(const ClientFiveTuple& client) {
    const auto it = by_client_.find(client);
    return it == by_client_.end() ? nullptr : &it->second;
  }
  [[nodiscard]] bool contains(const ClientFiveTuple& client) const { return by_client_.contains(client); }
  [[nodiscard]] size_t size() const { return by_client_.size(); }
  // Every allocation, in no particular order: `for (auto& [client, a] : allocations)`.
  auto begin() { return by_client_.begin(); }
  auto end() { return by_client_.end(); }
  [[nodiscard]] auto begin() const { return by_client_.begin(); }
  [[nodiscard]] auto end() const { return by_client_.end(); }

  [[nodiscard]] bool in_range(uint16_t port) const { return ports_.in_range(port); }
  // Keeps a port of the range out of use (restored, or taken by another service).
  bool take_port(AllocationPort port) { return ports_.take(port); }
  [[nodiscard]] size_t free_ports() const { return ports_.free_count(); }
  // `families` are those of the allocation being made: a port reserved
  // next to it belongs to the same relay addresses.
  std::optional<PortGrant> acquire_port(Instant now, const std::optional<stun::EvenPort>& even,
                                        const std::optional<stun::ReservationToken>& token, RelayFamilies families,
                                        Rng& rng, TimerQueue& timers);
  void end_reservation(uint64_t token);

  // Indexes a new allocation on `port`, charged to its client IP, with its
  // expiry timer; the owner comes with assign_owner or charge_unclaimed.
  Allocation& create(AllocationPort port, const ClientFiveTuple& client, std::optional<SocketAddress> relay_v4,
                     std::optional<SocketAddress> relay_v6, Instant expiry, TimerQueue& timers);
  // Forgets `a` (it dies here): its port and charges are released now, or
  // go with a hold of the port until `hold_until` when that is after `now`.
  void remove(Allocation& a, Instant now, Instant hold_until, TimerQueue& timers);
  void end_hold(uint16_t port);

  // Makes `user` (a salt, a REST or static user) the owner of `a`, charged
  // until released; the key is that of the username it authenticated with.
  void assign_owner(Allocation& a, std::string_view user, const stun::IntegrityKey& key, std::string_view username,
                    uint64_t username_expiry);
  // A restored allocation: charged to the owner the data plane recorded
  // until that owner's first request claims it.
  void charge_unclaimed(Allocation& a, OwnerId owner);
  // The restored `a` becomes `user`'s if its salt is the recorded owner's;
  // false (nothing changes) otherwise.
  bool claim(Allocation& a, std::string_view user, const stun::IntegrityKey& key, std::string_view username,
             uint64_t username_expiry);
  // Allocations and held ports charged to the user `salt` names: its own
  // and the restored ones nobody claimed yet whose owner it is.
  [[nodiscard]] uint32_t charged_to(std::string_view salt) const;
  [[nodiscard]] uint32_t charged_to_ip(const IpAddress& ip) const;

  struct Counts {
    uint64_t allocations_v4 = 0;  // a dual-family allocation counts in both
    uint64_t allocations_v6 = 0;
    uint64_t held_ports = 0;
    uint64_t holds_cut_short = 0;
  };
  [[nodiscard]] const Counts& counts() const { return counts_; }

 private:
  struct TransparentHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Keeps `a`'s port out of use until `until`, still charged (see PortHold).
  void hold_port(const Allocation& a, Instant until, TimerQueue& timers);
  // Ends one charge of an allocation or a held port: to `user` (a key of
  // users_) or, when null, to the unclaimed owner `id`; and to `client_ip`.
  void release_charge(const std::string* user, OwnerId id, const IpAddress& client_ip);

  uint16_t port_min_;
  PortAllocator ports_;
  // The allocations by client 5-tuple (nodes are stable) and an index by
  // port: one pointer per port of the range, so a timer finds its
  // allocation without hashing. Sized by the range, not by 65536, so that a
  // Server with a small range (tests, the fuzzer) is cheap to construct.
  std::unordered_map<ClientFiveTuple, Allocation, FiveTupleHash, FiveTupleEqual> by_client_;
  std::vector<Allocation*> by_port_;
  // A user's (a salt's, see Owner) allocations and held ports, against
  // quotas.allocations_per_user; its OwnerId is worked out once.
  struct UserCharge {
    uint32_t allocations = 0;
    OwnerId id;
  };
  std::unordered_map<std::string, UserCharge, TransparentHash, std::equal_to<>> users_;
  // Restored allocations and their held ports by the owner the data plane
  // recorded, until the owner's first request claims them (then in users_).
  std::unordered_map<uint64_t, uint32_t> unclaimed_;
  std::unordered_map<IpAddress, uint32_t, IpHash, IpEqual> client_ips_;  // allocations and held ports per IP
  // A port kept out of use after its allocation ended (RFC 8656 §12),
  // still charged to the allocation's user and client IP: one socket
  // looping Allocate, ChannelBind, Refresh 0 holds no more ports than its
  // user may have allocations.
  struct PortHold {
    TimerId timer;
    uint64_t sequence;        // tells this hold from an earlier one of its port in hold_order_
    const std::string* user;  // a key of users_, or null: charged in unclaimed_ by owner_id
    OwnerId owner_id;
    IpAddress client_ip;
  };
  std::unordered_map<uint16_t, PortHold> holds_;
  // (port, sequence) in the order the holds began; ended ones are dropped
  // from the front, so front() is always the oldest hold still running.
  std::deque<std::pair<uint16_t, uint64_t>> hold_order_;
  uint64_t holds_begun_ = 0;
  struct Reservation {
    AllocationPort port;
    TimerId timer;
    RelayFamilies families;
  };
  std::unordered_map<uint64_t, Reservation> reservations_;  // RFC 8656 §7.2 EVEN-PORT R=1
  Counts counts_;
};

}  // namespace relay::core
