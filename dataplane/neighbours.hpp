// The worker's neighbour table (IPv4 ARP, RFC 826; IPv6 ND, RFC 4861):
// which MAC to put on a frame for a destination. On-link destinations are
// looked up directly, everything else goes to the configured gateway, whose
// MAC is cached so the common (off-link) case costs one compare.
//
// Where a MAC may come from, so that nobody on the link can make us send to
// an address we never asked about, nor fill the table with them:
//  - learn(): an ARP request or NS that targets our address creates or
//    updates its sender's entry (RFC 826 "am I the target?", RFC 4861
//    §7.2.3): that host is about to talk to us.
//  - learn_from_reply(): an ARP reply or NA fills the entry we solicited,
//    or updates one we know (a failover's gratuitous ARP), or the
//    configured gateway's; it never creates another (RFC 4861 §7.2.5 says
//    the same of NAs).
//  - confirm(): any other received frame only extends a resolved entry of
//    its source address with the same MAC: a spoofed frame can keep an
//    entry alive, never change or create one.
// Resolved entries live kNeighbourLifetimeSeconds after the last sign of
// life. A missing or expired entry makes the caller drop the packet and (at
// most once per second per next hop) send an ARP request / NS instead; that
// leaves a pending entry, evictable kPendingLifetimeSeconds after its last
// request, and at most a quarter of the table is pending, so a flood of
// datagrams to unresolvable addresses cannot crowd out resolved ones.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>

#include "dataplane/config.hpp"
#include "dataplane/flat_table.hpp"

namespace relay::dataplane {

constexpr uint64_t kNeighbourLifetimeSeconds = 300;
// RFC 4861 §7.3.3 gives up on an INCOMPLETE entry after 3 unanswered
// solicitations, one a second.
constexpr uint64_t kPendingLifetimeSeconds = 3;

struct NeighbourKey {
  uint8_t ip[16];
  uint8_t family;
  uint8_t zero[7];
};
struct NeighbourEntry {
  MacAddress mac;
  bool resolved;
  uint8_t zero;
  uint64_t deadline_tsc;      // resolved: trusted until then; pending: evictable after
  uint64_t last_request_tsc;  // rate limit of our ARP requests / NS
};

struct NextHop {
  Family family = Family::V4;
  uint8_t ip[16] = {};
};

// Where a frame for a destination goes.
struct Resolution {
  const uint8_t* mac = nullptr;    // resolved: the destination's MAC, or the gateway's
  std::optional<NextHop> solicit;  // unresolved: whom to ask (ARP request / NS); unset: no route
};

class Neighbours {
 public:
  Neighbours(const InterfaceConfig& config, uint64_t tsc_hz, const HashSecret& secret = HashSecret::random());

  [[nodiscard]] bool on_link(Family f, const uint8_t* ip) const;
  // The MAC for `dst`; else the next hop to solicit, or none when there is
  // no route (off-link and no gateway).
  Resolution resolve(Family f, const uint8_t* dst, uint64_t now_tsc);
  // Returns true when the entry was new or changed. (See the rules above.)
  bool learn(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc);
  bool learn_from_reply(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc);
  void confirm(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc);
  // True (and remembers the time) when a request for `hop` may go out now;
  // false also when too many requests are pending.
  bool may_solicit(const NextHop& hop, uint64_t now_tsc);

 private:
  struct Subnet {
    bool present = false;
    uint8_t ip[16] = {};
    uint8_t mask[16] = {};
    bool has_gateway = false;
    uint8_t gateway[16] = {};
    MacAddress gateway_mac{};
    uint64_t gateway_deadline_tsc = 0;
  };
  Subnet& subnet(Family f) { return f == Family::V4 ? v4_ : v6_; }
  [[nodiscard]] const Subnet& subnet(Family f) const { return f == Family::V4 ? v4_ : v6_; }
  static NeighbourKey key(Family f, const uint8_t* ip);
  [[nodiscard]] bool is_gateway(Family f, const uint8_t* ip) const;
  bool insert(const NeighbourKey& k, const NeighbourEntry& e, uint64_t now_tsc);
  // Evicts expired entries, resolved or pending; at most once a second,
  // so a full table costs one scan a second, not one per packet.
  void sweep(uint64_t now_tsc);

  Subnet v4_;
  Subnet v6_;
  uint64_t lifetime_tsc_;
  uint64_t pending_lifetime_tsc_;
  uint64_t retry_tsc_;
  uint64_t last_sweep_tsc_ = 0;
  uint32_t pending_ = 0;
  uint32_t max_pending_;
  FlatTable<NeighbourKey, NeighbourEntry> table_;
};

}  // namespace relay::dataplane
