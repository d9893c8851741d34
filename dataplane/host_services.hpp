// What the relay answers as a host on its link: ARP requests and IPv6
// Neighbour Solicitations for its own addresses (answered in place), ICMP
// and ICMPv6 echo (rate limited per worker), and the ARP requests / NS it
// sends to resolve next hops. All rare compared to relayed traffic, so
// none of it is templated or prefetched.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "common/counters_abi.hpp"
#include "dataplane/neighbours.hpp"
#include "dataplane/parse.hpp"
#include "dataplane/token_bucket.hpp"
#include "dataplane/verdict.hpp"

namespace relay::dataplane {

struct HostContext {
  const LocalIdentity& me;
  Neighbours& neighbours;
  TokenBucket& echo_limiter;  // echo_replies_per_second, as many saved up
  uint64_t now_tsc;
};

Verdict handle_arp(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx);
// ICMP (IPv4) and ICMPv6 addressed to us: echo and Neighbour Discovery.
Verdict handle_icmp(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx);

// A TCP segment to a relay address that no stream listener takes: answered
// in place with a RST (RFC 9293 §3.10.7.1), never in answer to a RST, at
// most as often as `limiter` allows. Checksums in software (a rare path).
Verdict reset_tcp(rte_mbuf* m, const ParsedFrame& p, const LocalIdentity& me, TokenBucket& limiter,
                  uint64_t now_tsc);

// Turns `m` (a packet we cannot forward yet) into an ARP request or NS for
// the next hop. Returns false when the mbuf cannot hold it.
bool build_solicitation(rte_mbuf* m, const LocalIdentity& me, const NextHop& hop);

}  // namespace relay::dataplane
