// What the relay answers as a host on its link: ARP requests and IPv6
// Neighbor Solicitations for its own addresses (answered in place), ICMP
// and ICMPv6 echo (rate limited per worker), and the ARP requests / NS it
// sends to resolve next hops. All rare compared to relayed traffic, so
// none of it is templated or prefetched.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "common/counters_abi.hpp"
#include "dataplane/neighbours.hpp"
#include "dataplane/parse.hpp"

namespace relay::dataplane {

// Where a packet goes after one processing step (VPP "next node").
enum class Next : uint8_t { Tx, ToControlPlane, Free };

// The outcome of one step: where the mbuf goes and which counter says why.
struct Verdict {
  Next next;
  Counter counter;
};
inline Verdict drop(Counter why) { return {Next::Free, why}; }

// Token bucket: `rate` tokens per second, at most `rate` saved up.
class RateLimiter {
 public:
  RateLimiter(uint32_t per_second, uint64_t tsc_hz)
      : per_second_(per_second), tsc_hz_(tsc_hz), tokens_(per_second) {}
  bool allow(uint64_t now_tsc);

 private:
  uint64_t per_second_;
  uint64_t tsc_hz_;
  uint64_t tokens_;
  uint64_t last_tsc_ = 0;
};

struct HostContext {
  const LocalIdentity& me;
  Neighbours& neighbours;
  RateLimiter& echo_limiter;
  uint64_t now_tsc;
};

Verdict handle_arp(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx);
// ICMP (IPv4) and ICMPv6 addressed to us: echo and Neighbor Discovery.
Verdict handle_icmp(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx);

// Turns `m` (a packet we cannot forward yet) into an ARP request or NS for
// the next hop. Returns false when the mbuf cannot hold it.
bool build_solicitation(rte_mbuf* m, const LocalIdentity& me, const NextHop& hop);

}  // namespace relay::dataplane
