// From the operator's RelayConfig to what the sans-IO Server is told once:
// a pure translation, so every field has a unit test and main() stays IO
// (the one log line here is about the secret, so that a test can show it
// never holds it).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "controlplane/core/server_config.hpp"
#include "controlplane/core/static_users.hpp"

namespace relay::process {

// The TURN REST shared secrets (draft-uberti-behave-turn-rest §2), and
// whether this process made them up. No secret is ever logged, a generated
// one neither: a log line travels further than the process's memory.
struct AuthSecret {
  // Any of them verifies a credential; the portal mints with the first.
  std::vector<std::string> values;
  bool generated = false;

  [[nodiscard]] const std::string& stamp() const { return values.front(); }
};

// The configured secrets (relay.auth.secrets, or relay.auth_secret[_file]),
// else one from generate_auth_secret (the CSPRNG, or derived from
// relay.rng_seed). Fails only when getrandom(2) fails.
Result<AuthSecret, std::string> resolve_auth_secret(const RelaySection& relay);

// Warns the operator when nobody can mint credentials: the secret was
// generated and no portal is configured (with a portal, the portal mints
// them). The warning never holds the secret.
void warn_if_generated_without_portal(const AuthSecret& secret, const RelayConfig& config);

// The Server's configuration. The relay addresses are the interface
// addresses, which the data plane matches install commands against;
// relay.ipv*.public_address becomes the advertised (XOR-RELAYED) address.
core::ServerConfig server_config_from(const RelayConfig& config, std::vector<std::string> auth_secrets);

// What a reload (SIGHUP, relayctl reload) hands Server::reconfigure: the
// running configuration with `fresh`'s live keys - the per-user,
// per-client-IP, total and per-allocation quotas (with the table totals the
// Server started with: the data plane's tables change size only when it
// restarts), the peer policy (peer_allow, peer_deny, deny_on_link) and the
// configured secrets (a generated secret stays: only a restart changes
// where secrets come from); or why the Server would refuse it.
Result<core::ServerConfig, std::string> live_server_config(const core::ServerConfig& running,
                                                           const RelayConfig& fresh);

// relay.auth.users_file read and parsed for relay.realm (at start and on
// SIGHUP), or one line naming the file, the line and what is wrong.
Result<core::StaticUsers, std::string> load_static_users(const RelaySection& relay);

}  // namespace relay::process
