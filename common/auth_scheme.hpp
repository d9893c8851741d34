// relay.auth.scheme: how a username and its password are checked. The
// configuration loader reads it and the control plane's Server applies it,
// so it is one type for both.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace relay {

enum class AuthScheme : uint8_t {
  // The Firezone portal's: "<expiry>:<salt>", base64(SHA-256("<expiry>:<secret>:<salt>")).
  Firezone,
  // coturn's use-auth-secret (draft-uberti-behave-turn-rest §2):
  // "<expiry>[:<user>]", base64(HMAC-SHA1(secret, username)).
  Rest,
  // Users from a file (relay.auth.users_file), re-read on SIGHUP.
  Static,
};

constexpr std::string_view to_string(AuthScheme s) {
  switch (s) {
    case AuthScheme::Firezone: return "firezone";
    case AuthScheme::Rest: return "rest";
    case AuthScheme::Static: return "static";
  }
  return "unknown";
}

constexpr std::optional<AuthScheme> parse_auth_scheme(std::string_view s) {
  for (auto scheme : {AuthScheme::Firezone, AuthScheme::Rest, AuthScheme::Static})
    if (to_string(scheme) == s) return scheme;
  return std::nullopt;
}

}  // namespace relay
