// The portal's and coturn's credential schemes and the RFC 8489 §9.2.2
// long-term key.
#include "controlplane/core/stun/credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <span>

namespace relay::stun {

std::string_view to_string(UsernameError e) {
  switch (e) {
    case UsernameError::MissingSeparator: return "missing-separator";
    case UsernameError::BadExpiry: return "bad-expiry";
    case UsernameError::EmptySalt: return "empty-salt";
  }
  return "unknown";
}

namespace {

// Canonical decimal only: "01" and "1" would be two usernames (two users
// for the quotas) with one expiry, and so with one Firezone password.
Result<uint64_t, UsernameError> parse_expiry(std::string_view digits) {
  if (digits.empty() || digits.size() > 20 || (digits.size() > 1 && digits.front() == '0'))
    return Err{UsernameError::BadExpiry};
  uint64_t expiry = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return Err{UsernameError::BadExpiry};
    const auto digit = static_cast<uint64_t>(c - '0');
    if (expiry > (UINT64_MAX - digit) / 10) return Err{UsernameError::BadExpiry};
    expiry = expiry * 10 + digit;
  }
  return expiry;
}

Result<Username, UsernameError> expiry_then_user(std::string_view username, size_t colon) {
  auto expiry = parse_expiry(username.substr(0, colon));
  if (!expiry) return Err{expiry.error()};
  if (colon == std::string_view::npos) return Username{*expiry, username};
  const std::string_view user = username.substr(colon + 1);
  if (user.empty()) return Err{UsernameError::EmptySalt};
  return Username{*expiry, user};
}

}  // namespace

Result<Username, UsernameError> parse_username(std::string_view username) {
  const size_t colon = username.find(':');
  if (colon == std::string_view::npos) return Err{UsernameError::MissingSeparator};
  return expiry_then_user(username, colon);
}

Result<Username, UsernameError> parse_rest_username(std::string_view username) {
  return expiry_then_user(username, username.find(':'));
}

namespace {

template <size_t N>
std::array<uint8_t, N> digest(const EVP_MD* md, std::string_view input) {
  std::array<uint8_t, N> out{};
  unsigned int written = 0;
  // EVP_Digest cannot fail for an in-memory input with a built-in digest
  // short of memory exhaustion; the zeroed output then simply never matches.
  EVP_Digest(input.data(), input.size(), out.data(), &written, md, nullptr);
  return out;
}

std::string base64(std::span<const uint8_t> bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes.data(),
                                  static_cast<int>(bytes.size()));
  text.resize(static_cast<size_t>(len));
  return text;
}

}  // namespace

std::string mint_password(std::string_view secret, uint64_t expiry_unix_seconds, std::string_view salt) {
  std::string input = std::to_string(expiry_unix_seconds);
  input.append(":").append(secret).append(":").append(salt);
  // 32 bytes -> 44 base64 characters with one '=' of padding, dropped.
  std::string password = base64(digest<32>(EVP_sha256(), input));
  while (!password.empty() && password.back() == '=') password.pop_back();
  return password;
}

std::string rest_password(std::string_view secret, std::string_view username) {
  std::array<uint8_t, 20> mac{};
  unsigned int written = 0;
  // As digest(): a failure leaves zeros, a password that never matches.
  HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const uint8_t*>(username.data()),
       username.size(), mac.data(), &written);
  return base64(mac);
}

LongTermKey long_term_key(std::string_view username, std::string_view realm, std::string_view password) {
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(":").append(realm).append(":").append(password);
  return digest<16>(EVP_md5(), input);
}

}  // namespace relay::stun
