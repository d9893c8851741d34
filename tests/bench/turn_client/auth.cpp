#include "tests/bench/turn_client/auth.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace relay::loadgen {

std::string rest_api_password(std::string_view secret, std::string_view username) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(username.data()),
       username.size(), mac.data(), &mac_len);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
  const int n = EVP_EncodeBlock(text.data(), mac.data(), static_cast<int>(mac_len));
  return {reinterpret_cast<const char*>(text.data()), static_cast<size_t>(n)};
}

Credentials mint_credentials(const Options& o, uint64_t expiry_unix_seconds, std::string_view salt) {
  Credentials c;
  if (o.auth == AuthScheme::Firezone) {
    c.username = std::to_string(expiry_unix_seconds) + ":" + std::string(salt);
    c.password = stun::mint_password(o.secret, expiry_unix_seconds, salt);
  } else {
    c.username = std::to_string(expiry_unix_seconds) + ":" + o.rest_user;
    c.password = rest_api_password(o.secret, c.username);
  }
  c.key = stun::long_term_key(c.username, o.realm, c.password);
  return c;
}

}  // namespace relay::loadgen
