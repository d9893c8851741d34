// What one worker needs to know about the interface it serves. The process
// fills it from the TOML configuration; validate() runs before any worker
// is launched, so the fast path never re-checks it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "dataplane/idle_backoff.hpp"
#include "dataplane/source_limiter.hpp"

namespace relay::dataplane {

// One address family of the interface: our relay address, the on-link
// prefix length and the default gateway for everything off-link.
struct InterfaceAddress {
  IpAddress address;
  uint8_t prefix_len = 0;
  std::optional<IpAddress> gateway;
};

struct InterfaceConfig {
  MacAddress mac{};
  std::optional<uint16_t> vlan;  // 802.1Q id; frames with another tag are not ours
  std::optional<InterfaceAddress> ipv4;
  std::optional<InterfaceAddress> ipv6;
  uint16_t listen_port = 3478;  // RFC 8489 §18.6 default STUN/TURN port
  // RFC 8656 §7.2 suggests 49152-65535 for relayed transport addresses.
  PortRange allocation_ports;
  uint32_t max_channels = 65536;  // per worker replica; sizes both channel tables
  uint32_t max_permissions = 65536;  // per worker replica; sizes both permission tables
  // RFC 8656 §11.5 lets a Data indication carry FINGERPRINT; no browser
  // needs it, and it costs a CRC over every relayed datagram.
  bool data_indication_fingerprint = false;
  uint32_t neighbour_capacity = 1024;
  uint16_t burst_size = 32;
  uint16_t mtu = 1500;  // largest IP packet we send; bigger rewrites are dropped, not fragmented
  uint32_t echo_replies_per_second = 100;  // per worker
  // TCP destination ports steered to the kernel's TCP stack through the
  // stream TAP (relay::stream_ports: the listen port and the TLS ports),
  // 0 = unused. All zero: streams are off, and TCP to a relay address is
  // answered with a RST (RFC 9293 §3.10.7.1).
  std::array<uint16_t, 3> stream_ports{};
  uint32_t tcp_resets_per_second = 100;  // per worker, like echo replies
  // New connections (a SYN without ACK) a worker passes to the stream TAP
  // per second, and their burst: each crossing is a write() system call,
  // so a SYN flood must not take the worker's core from relayed UDP. The
  // control plane's TLS handshakes (~1 ms of its one thread each) are the
  // tighter bound on real clients anyway.
  uint32_t stream_syns_per_second = 10000;
  uint32_t stream_syn_burst = 1000;
  // STUN to the control plane per source (IPv4 address or IPv6 /64), per
  // worker; 0: unlimited. A client needs a handful per allocation and
  // refresh interval; ICE agents pace Binding checks at 50/s (RFC 8445 §14.2).
  uint32_t stun_rate_per_source = 200;
  uint32_t stun_burst_per_source = 100;
  // How many sources the limit remembers: two per set. The fuzzer uses one
  // set, so that building a worker per input is cheap and set choice (seeded
  // from the TSC) cannot make a run irreproducible.
  uint32_t stun_limiter_sets = SourceRateLimiter::kDefaultSets;
  // What the worker does when it finds nothing to do (idle_backoff.hpp).
  IdleMode idle = IdleMode::Adaptive;
  uint32_t max_idle_sleep_us = 200;
  uint32_t tx_hold_us = 0;  // tx_hold.hpp; 0: every turn sends what it has
};

constexpr uint16_t kMaxBurst = 64;

// Returns a human-readable reason on the first problem found.
Result<void, std::string> validate(const InterfaceConfig& c);

}  // namespace relay::dataplane
