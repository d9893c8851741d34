// The worker's neighbour table (IPv4 ARP, RFC 826; IPv6 ND, RFC 4861):
// which MAC to put on a frame for a destination. On-link destinations are
// looked up directly, everything else goes to the configured gateway, whose
// MAC is cached so the common (off-link) case costs one compare.
//
// Entries are learned from ARP, NS/NA and from received packets of on-link
// sources, and live kNeighbourLifetimeSeconds after the last sign of life.
// A missing or expired entry makes the caller drop the packet and (at most
// once per second per next hop) send an ARP request / NS instead.
#pragma once

#include <cstdint>
#include <cstring>

#include "dataplane/config.hpp"
#include "dataplane/flat_table.hpp"

namespace relay::dataplane {

constexpr uint64_t kNeighbourLifetimeSeconds = 300;

struct NeighbourKey {
  uint8_t ip[16];
  uint8_t family;
  uint8_t zero[7];
};
struct NeighbourEntry {
  MacAddress mac;
  bool resolved;
  uint8_t zero;
  uint64_t deadline_tsc;      // resolved entries only
  uint64_t last_request_tsc;  // rate limit of our ARP requests / NS
};

struct NextHop {
  Family family = Family::V4;
  uint8_t ip[16] = {};
};

class Neighbours {
 public:
  Neighbours(const InterfaceConfig& config, uint64_t tsc_hz, const HashSecret& secret = HashSecret::random());

  [[nodiscard]] bool on_link(Family f, const uint8_t* ip) const;
  // The MAC for `dst`, or nullptr with `hop` set to the address to solicit
  // (or hop.family unset when there is no route: off-link and no gateway).
  const uint8_t* resolve(Family f, const uint8_t* dst, uint64_t now_tsc, NextHop& hop, bool& routable);
  // Returns true when the entry was new or changed.
  bool learn(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc);
  // True (and remembers the time) when a request for `hop` may go out now.
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

  Subnet v4_;
  Subnet v6_;
  uint64_t lifetime_tsc_;
  uint64_t retry_tsc_;
  FlatTable<NeighbourKey, NeighbourEntry> table_;
};

}  // namespace relay::dataplane
