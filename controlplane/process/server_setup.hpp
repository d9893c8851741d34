// From the operator's RelayConfig to what the sans-IO Server is told once:
// a pure translation, so every field has a unit test and main() stays IO
// (the one log line here is about the secret, so that a test can show it
// never holds it).
#pragma once

#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/result.hpp"
#include "controlplane/core/server_config.hpp"

namespace relay::process {

// The TURN REST shared secret (draft-uberti-behave-turn-rest §2), and whether
// this process made it up. No secret is ever logged, a generated one
// neither: a log line travels further than the process's memory.
struct AuthSecret {
  std::string value;
  bool generated = false;
};

// The configured secret, else one from generate_auth_secret (the CSPRNG, or
// derived from relay.rng_seed). Fails only when getrandom(2) fails.
Result<AuthSecret, std::string> resolve_auth_secret(const RelaySection& relay);

// Warns the operator when nobody can mint credentials: the secret was
// generated and no portal is configured (with a portal, the portal mints
// them). The warning never holds the secret.
void warn_if_generated_without_portal(const AuthSecret& secret, const RelayConfig& config);

// The Server's configuration. The relay addresses are the interface
// addresses, which the data plane matches install commands against;
// relay.ipv*.public_address becomes the advertised (XOR-RELAYED) address.
core::ServerConfig server_config_from(const RelayConfig& config, std::string auth_secret);

}  // namespace relay::process
