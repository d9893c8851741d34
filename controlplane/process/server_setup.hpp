// From the operator's RelayConfig to what the sans-IO Server is told once:
// a pure translation, so every field has a unit test and main() stays IO.
#pragma once

#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/result.hpp"
#include "controlplane/core/server_config.hpp"

namespace relay::process {

// The TURN REST shared secret (draft-uberti-behave-turn-rest §2), and whether
// this process made it up: a generated secret is the only one ever logged,
// and only when no portal will hand credentials out for us.
struct AuthSecret {
  std::string value;
  bool generated = false;
};

// The configured secret, else one from generate_auth_secret (the CSPRNG, or
// derived from relay.rng_seed). Fails only when getrandom(2) fails.
Result<AuthSecret, std::string> resolve_auth_secret(const RelaySection& relay);

// Whether main() must print the secret for the operator: generated, and no
// portal configured (with a portal, the portal mints credentials).
bool should_announce_secret(const AuthSecret& secret, const RelayConfig& config);

// The Server's configuration. The relay addresses are the interface
// addresses, which the data plane matches install commands against;
// relay.ipv*.public_address becomes the advertised (XOR-RELAYED) address.
core::ServerConfig server_config_from(const RelayConfig& config, std::string auth_secret);

}  // namespace relay::process
