#include "controlplane/process/server_setup.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "common/log.hpp"

namespace relay::process {

Result<AuthSecret, std::string> resolve_auth_secret(const RelaySection& relay) {
  if (!relay.auth.secrets.empty()) return AuthSecret{relay.auth.secrets, false};
  auto generated = generate_auth_secret(relay.rng_seed);
  if (!generated) return Err{generated.error()};
  return AuthSecret{{std::move(generated.value())}, true};
}

void warn_if_generated_without_portal(const AuthSecret& secret, const RelayConfig& config) {
  if (!secret.generated || config.portal.ws_url.has_value()) return;
  log::warn("auth",
            "no relay.auth_secret and no portal: serving with a generated secret that is never logged; "
            "set relay.auth_secret_file to mint TURN REST credentials",
            {{"from_rng_seed", config.relay.rng_seed.has_value()}});
}

namespace {
// The operator's own network around the relay (RFC 8656 §21.4): its next
// hops always, its on-link subnets unless relay.deny_on_link is off.
std::vector<Cidr> local_networks(const RelaySection& relay) {
  std::vector<Cidr> out;
  for (const auto& family : {relay.ipv4, relay.ipv6}) {
    if (!family) continue;
    if (family->gateway) out.push_back(Cidr{*family->gateway, family->gateway->is_v4() ? uint8_t{32} : uint8_t{128}});
    if (relay.deny_on_link) out.push_back(family->subnet());
  }
  return out;
}
}  // namespace

core::ServerConfig server_config_from(const RelayConfig& config, std::vector<std::string> auth_secrets) {
  const RelaySection& r = config.relay;
  core::ServerConfig c;
  if (r.ipv4) {
    c.relay_v4 = r.ipv4->address;
    c.advertised_v4 = r.ipv4->public_address;
  }
  if (r.ipv6) {
    c.relay_v6 = r.ipv6->address;
    c.advertised_v6 = r.ipv6->public_address;
  }
  c.listen_port = r.listen_port;
  c.allocation_ports = r.allocation_ports;
  c.realm = r.realm;
  c.auth_scheme = r.auth.scheme;
  c.auth_secrets = std::move(auth_secrets);
  c.default_allocation_lifetime = r.allocation_lifetime;
  c.max_allocation_lifetime = r.max_allocation_lifetime;
  c.channel_lifetime = r.channel_lifetime;
  c.permission_lifetime = r.permission_lifetime;
  c.nonce_uses = r.nonce_uses;
  c.peer_allow = r.peer_allow;
  c.peer_deny = r.peer_deny;
  c.local_networks = local_networks(r);
  c.has_portal = config.portal.ws_url.has_value();
  static_cast<QuotaLimits&>(c.quotas) = config.quotas;
  // Capacity is one number end to end: every worker holds the whole
  // replica, so the Server grants no channel or permission the tables
  // could not hold (the loader refuses per-allocation quotas above them).
  c.quotas.channels_total = config.dataplane.channel_table_capacity;
  c.quotas.permissions_total = config.dataplane.permission_table_capacity;
  return c;
}

Result<core::ServerConfig, std::string> live_server_config(const core::ServerConfig& running,
                                                           const RelayConfig& fresh) {
  const core::ServerConfig wanted = server_config_from(fresh, fresh.relay.auth.secrets);
  core::ServerConfig next = running;
  next.quotas = wanted.quotas;
  next.quotas.channels_total = running.quotas.channels_total;
  next.quotas.permissions_total = running.quotas.permissions_total;
  next.peer_allow = wanted.peer_allow;
  next.peer_deny = wanted.peer_deny;
  next.local_networks = wanted.local_networks;
  if (!wanted.auth_secrets.empty()) next.auth_secrets = wanted.auth_secrets;
  if (auto valid = core::validate(next); !valid) return Err{std::string(core::to_string(valid.error()))};
  return next;
}

Result<core::StaticUsers, std::string> load_static_users(const RelaySection& relay) {
  const std::string& path = relay.auth.users_file.value_or("");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err{path + ": relay.auth.users_file: cannot open: " + std::strerror(errno)};
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Err{path + ": relay.auth.users_file: cannot read: " + std::strerror(errno)};
  return core::parse_static_users(text, path, relay.realm);
}

}  // namespace relay::process
