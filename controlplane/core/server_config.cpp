#include "controlplane/core/server_config.hpp"

#include <algorithm>

namespace relay::core {

std::string_view to_string(ConfigError e) {
  switch (e) {
    case ConfigError::NoRelayAddress: return "no_relay_address";
    case ConfigError::RelayAddressFamilyMismatch: return "relay_address_family_mismatch";
    case ConfigError::EmptyPortRange: return "empty_port_range";
    case ConfigError::PortRangeHasListenPort: return "port_range_has_listen_port";
    case ConfigError::EmptyRealm: return "empty_realm";
    case ConfigError::EmptySecret: return "empty_secret";
    case ConfigError::LifetimeOrder: return "lifetime_order";
    case ConfigError::ZeroCapacity: return "zero_capacity";
    case ConfigError::ZeroNonceUses: return "zero_nonce_uses";
    case ConfigError::QuotaAboveTotal: return "quota_above_total";
  }
  return "unknown";
}

Result<void, ConfigError> validate(const ServerConfig& c) {
  if (!c.relay_v4 && !c.relay_v6) return Err{ConfigError::NoRelayAddress};
  if ((c.relay_v4 && !c.relay_v4->is_v4()) || (c.relay_v6 && !c.relay_v6->is_v6()) ||
      (c.advertised_v4 && (!c.relay_v4 || !c.advertised_v4->is_v4())) ||
      (c.advertised_v6 && (!c.relay_v6 || !c.advertised_v6->is_v6())))
    return Err{ConfigError::RelayAddressFamilyMismatch};
  const PortRange& ports = c.allocation_ports;
  if (ports.lowest == 0 || ports.lowest > ports.highest) return Err{ConfigError::EmptyPortRange};
  if (ports.contains(c.listen_port)) return Err{ConfigError::PortRangeHasListenPort};
  if (c.realm.empty()) return Err{ConfigError::EmptyRealm};
  if (c.auth_scheme != AuthScheme::Static &&
      (c.auth_secrets.empty() || std::any_of(c.auth_secrets.begin(), c.auth_secrets.end(),
                                             [](const std::string& s) { return s.empty(); })))
    return Err{ConfigError::EmptySecret};
  if (c.default_allocation_lifetime <= Seconds{0} || c.channel_lifetime <= Seconds{0} ||
      c.permission_lifetime <= Seconds{0} || c.default_allocation_lifetime > c.max_allocation_lifetime)
    return Err{ConfigError::LifetimeOrder};
  if (c.nonce_capacity == 0 || c.key_cache_capacity == 0 || c.response_cache_capacity == 0)
    return Err{ConfigError::ZeroCapacity};
  if (c.nonce_uses == 0) return Err{ConfigError::ZeroNonceUses};
  const Quotas& q = c.quotas;
  if ((q.channels_total && q.channels_per_allocation > q.channels_total) ||
      (q.permissions_total && q.permissions_per_allocation > q.permissions_total))
    return Err{ConfigError::QuotaAboveTotal};
  return {};
}

}  // namespace relay::core
