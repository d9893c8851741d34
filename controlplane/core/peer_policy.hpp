// Which peers an allocation may reach (RFC 8656 §21.4 "Relaying to internal
// addresses"; §9 lets the server refuse a permission with 403). Without this a
// relay is an open door into the operator's own networks.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/net_types.hpp"

namespace relay::core {

enum class PeerVerdict : uint8_t { Allow, Deny };

class PeerPolicy {
 public:
  // `relay_addresses` are the relay's own addresses; `allocation_ports`
  // the allocation range. `allow`/`deny` come from the configuration and sit
  // on top of the built-in deny list of special-purpose ranges, to which
  // `local_networks` (the relay's gateways and on-link subnets) are added.
  PeerPolicy(std::vector<IpAddress> relay_addresses, PortRange allocation_ports,
             const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
             const std::vector<Cidr>& local_networks = {});

  [[nodiscard]] PeerVerdict check(const SocketAddress& peer) const;

 private:
  enum class Origin : uint8_t { Builtin, ConfigAllow, ConfigDeny };
  struct Rule {
    Cidr net;
    PeerVerdict verdict;
    Origin origin;
    // net as two words of address and of mask: a match is two ANDs where
    // Cidr::contains() calls memcmp (24 built-in rules per check).
    std::array<uint64_t, 2> base{};
    std::array<uint64_t, 2> mask{};
    [[nodiscard]] bool contains(const IpAddress& ip) const;
  };
  [[nodiscard]] const Rule* match(const IpAddress& ip) const;  // the most specific; null: none
  // One IPv4 or IPv6 address at `port`: the own-address rule, then the rules.
  [[nodiscard]] PeerVerdict judge(const IpAddress& ip, uint16_t port) const;

  std::vector<IpAddress> relay_addresses_;
  PortRange allocation_ports_;
  std::vector<Rule> rules_;  // most specific first; ties: config deny, config allow, builtin
};

}  // namespace relay::core
