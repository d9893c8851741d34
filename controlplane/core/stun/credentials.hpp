// TURN REST-style credentials as the relay's management portal mints them
// and as coturn's use-auth-secret takes them, and the long-term key derived
// from them (RFC 8489 §9.2.2).
//   Firezone: username = "<expiry unix seconds>:<salt>"
//             password = base64 without padding of SHA-256("<expiry>:<secret>:<salt>")
//   REST:     username = "<expiry unix seconds>[:<user>]"
//             password = base64 of HMAC-SHA1(secret, username)
// An expiry is canonical decimal (no sign, no leading zero, at most 20
// digits): two spellings of one expiry would be two users for the quotas
// under one password.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace relay::stun {

// The realm the portal's clients use in every authenticated request.
constexpr std::string_view kRealm = "firezone";

// The expiry of a username that has none (relay.auth.scheme static).
constexpr uint64_t kNeverExpires = UINT64_MAX;

struct Username {
  uint64_t expiry_unix_seconds = 0;
  // Who owns allocations and carries the per-user quota: Firezone's salt,
  // the REST user (the whole username when it has no ':'), a static
  // username. Points into the parsed username.
  std::string_view user;
};

enum class UsernameError : uint8_t {
  MissingSeparator,  // no ':'
  BadExpiry,         // not canonical decimal of at most 20 digits fitting in 64 bits
  EmptySalt,         // nothing after the ':'
};
std::string_view to_string(UsernameError e);

// Firezone's "<expiry>:<salt>"; the salt is the user.
Result<Username, UsernameError> parse_username(std::string_view username);
// coturn's "<expiry>[:<user>]".
Result<Username, UsernameError> parse_rest_username(std::string_view username);

// The password the portal handed the client for this expiry and salt.
std::string mint_password(std::string_view secret, uint64_t expiry_unix_seconds, std::string_view salt);

// The password coturn's use-auth-secret expects (and Synapse, Nextcloud
// Talk... mint): base64 of HMAC-SHA1(secret, username), with padding.
std::string rest_password(std::string_view secret, std::string_view username);

// RFC 8489 §9.2.2: MD5(username ":" realm ":" password), the HMAC key of
// MESSAGE-INTEGRITY for long-term credentials.
using LongTermKey = std::array<uint8_t, 16>;
LongTermKey long_term_key(std::string_view username, std::string_view realm, std::string_view password);

}  // namespace relay::stun
