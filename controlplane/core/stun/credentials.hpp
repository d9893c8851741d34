// TURN REST-style credentials exactly as the relay's management portal mints
// them, and the long-term key derived from them (RFC 8489 §9.2.2).
//   username = "<expiry unix seconds>:<salt>"
//   password = base64 without padding of SHA-256("<expiry>:<secret>:<salt>")
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace relay::stun {

// The realm the portal's clients use in every authenticated request.
constexpr std::string_view kRealm = "firezone";

struct Username {
  uint64_t expiry_unix_seconds = 0;
  std::string_view salt;  // points into the parsed username
};

enum class UsernameError : uint8_t {
  MissingSeparator,  // no ':'
  BadExpiry,         // not 1..20 decimal digits fitting in 64 bits
  EmptySalt,
};
std::string_view to_string(UsernameError e);

Result<Username, UsernameError> parse_username(std::string_view username);

// The password the portal handed the client for this expiry and salt.
std::string mint_password(std::string_view secret, uint64_t expiry_unix_seconds, std::string_view salt);

// RFC 8489 §9.2.2: MD5(username ":" realm ":" password), the HMAC key of
// MESSAGE-INTEGRITY for long-term credentials.
using LongTermKey = std::array<uint8_t, 16>;
LongTermKey long_term_key(std::string_view username, std::string_view realm, std::string_view password);

}  // namespace relay::stun
