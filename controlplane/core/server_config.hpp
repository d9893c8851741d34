// Everything the Server is told once, at construction. Values that change
// while running (the wall clock, portal readiness) come in through Server
// methods instead, so this struct stays a plain, copyable description.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth_scheme.hpp"
#include "common/net_types.hpp"
#include "common/quotas.hpp"
#include "common/result.hpp"

namespace relay::core {

using Seconds = std::chrono::seconds;

// The configured limits ([quotas], the same type) and the table totals the
// process adds.
struct Quotas : QuotaLimits {
  // What the data plane's tables hold (the process sets them to
  // dataplane.channel_table_capacity and permission_table_capacity): a
  // request granted beyond would be answered but not forwarded, so 508.
  uint32_t channels_total = 0;
  uint32_t permissions_total = 0;
};

struct ServerConfig {
  // The interface addresses: what the data plane forwards from and what
  // table commands carry.
  std::optional<IpAddress> relay_v4;
  std::optional<IpAddress> relay_v6;
  // Behind a 1:1 NAT, the public addresses clients are told in
  // XOR-RELAYED-ADDRESS; each needs the interface address of its family.
  std::optional<IpAddress> advertised_v4;
  std::optional<IpAddress> advertised_v6;
  uint16_t listen_port = 3478;          // RFC 8489 §18.1 default STUN/TURN port
  PortRange allocation_ports;
  std::string realm = "firezone";
  AuthScheme auth_scheme = AuthScheme::Firezone;
  // Firezone and REST: a username verifies if its password is minted with
  // any of these, so a rotation adds the new secret, waits the credential
  // lifetime and removes the old one. Firezone's portal mints with the
  // first (its stamp secret). Static: unused (the users come through
  // Server::set_static_users).
  std::vector<std::string> auth_secrets;
  Seconds default_allocation_lifetime{600};  // RFC 8656 §3.6 "10 minutes"
  Seconds max_allocation_lifetime{3600};     // RFC 8656 §7.2 "at least 1 hour" cap
  Seconds channel_lifetime{600};             // RFC 8656 §12 "10 minutes"
  Seconds permission_lifetime{300};          // RFC 8656 §9 "5 minutes"
  std::vector<Cidr> peer_allow;
  std::vector<Cidr> peer_deny;
  // The relay's gateways and on-link subnets: the operator's own network,
  // denied as peers like the built-in special-purpose ranges (the relay's
  // own addresses stay reachable on allocation ports).
  std::vector<Cidr> local_networks;
  std::string software = "relay/" RELAY_VERSION;
  // Without a portal nobody announces readiness, so the server serves at once.
  bool has_portal = true;
  Quotas quotas;
  // Bounded stores (see nonce_store.hpp, key_cache.hpp, response_cache.hpp).
  uint32_t nonce_capacity = 1u << 18;
  uint32_t key_cache_capacity = 1u << 14;
  uint32_t response_cache_capacity = 1u << 16;
  // Authenticated requests per NONCE before 438 Stale Nonce (RFC 8489 §9.2
  // leaves the policy to the server; 10 is Firezone's original relay's).
  uint8_t nonce_uses = 10;
};

enum class ConfigError : uint8_t {
  NoRelayAddress,
  RelayAddressFamilyMismatch,  // relay_v4 holds an IPv6 address or vice versa, or an advertised
                               // address lacks its family's relay address
  EmptyPortRange,
  PortRangeHasListenPort,
  EmptyRealm,
  EmptySecret,  // firezone and rest: no secret, or an empty one
  LifetimeOrder,  // default > max, or a zero lifetime
  ZeroCapacity,
  ZeroNonceUses,
  QuotaAboveTotal,  // a per-allocation channel or permission quota above its total
};
std::string_view to_string(ConfigError e);

Result<void, ConfigError> validate(const ServerConfig& config);

}  // namespace relay::core
