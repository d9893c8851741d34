// Long-term credentials for the relay under test, in either scheme.
#pragma once

#include <cstdint>
#include <string>

#include "controlplane/core/stun/credentials.hpp"
#include "tests/bench/turn_client/options.hpp"

namespace relay::loadgen {

struct Credentials {
  std::string username;
  std::string password;
  stun::LongTermKey key;  // RFC 8489 §9.2.2, for MESSAGE-INTEGRITY
};

// Credentials valid until `expiry_unix_seconds`; `salt` tells clients apart
// in the Firezone scheme (a relay quota counts allocations per username).
Credentials mint_credentials(const Options& o, uint64_t expiry_unix_seconds, std::string_view salt);

// TURN REST API (draft-uberti-behave-turn-rest-00 §2.2), coturn's
// use-auth-secret: base64 with padding of HMAC-SHA1(secret, username).
std::string rest_api_password(std::string_view secret, std::string_view username);

}  // namespace relay::loadgen
