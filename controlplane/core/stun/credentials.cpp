// The portal's credential scheme and the RFC 8489 §9.2.2 long-term key.
#include "controlplane/core/stun/credentials.hpp"

#include <openssl/evp.h>

#include <array>

namespace relay::stun {

std::string_view to_string(UsernameError e) {
  switch (e) {
    case UsernameError::MissingSeparator: return "missing-separator";
    case UsernameError::BadExpiry: return "bad-expiry";
    case UsernameError::EmptySalt: return "empty-salt";
  }
  return "unknown";
}

Result<Username, UsernameError> parse_username(std::string_view username) {
  const size_t colon = username.find(':');
  if (colon == std::string_view::npos) return Err{UsernameError::MissingSeparator};
  const std::string_view digits = username.substr(0, colon);
  if (digits.empty() || digits.size() > 20) return Err{UsernameError::BadExpiry};
  uint64_t expiry = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return Err{UsernameError::BadExpiry};
    const auto digit = static_cast<uint64_t>(c - '0');
    if (expiry > (UINT64_MAX - digit) / 10) return Err{UsernameError::BadExpiry};
    expiry = expiry * 10 + digit;
  }
  const std::string_view salt = username.substr(colon + 1);
  if (salt.empty()) return Err{UsernameError::EmptySalt};
  return Username{expiry, salt};
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

}  // namespace

std::string mint_password(std::string_view secret, uint64_t expiry_unix_seconds, std::string_view salt) {
  std::string input = std::to_string(expiry_unix_seconds);
  input.append(":").append(secret).append(":").append(salt);
  const auto hash = digest<32>(EVP_sha256(), input);
  // 32 bytes -> 44 base64 characters with one '=' of padding, dropped.
  std::array<unsigned char, 45> text{};
  const int len = EVP_EncodeBlock(text.data(), hash.data(), static_cast<int>(hash.size()));
  std::string password(reinterpret_cast<const char*>(text.data()), static_cast<size_t>(len));
  while (!password.empty() && password.back() == '=') password.pop_back();
  return password;
}

LongTermKey long_term_key(std::string_view username, std::string_view realm, std::string_view password) {
  std::string input;
  input.reserve(username.size() + realm.size() + password.size() + 2);
  input.append(username).append(":").append(realm).append(":").append(password);
  return digest<16>(EVP_md5(), input);
}

}  // namespace relay::stun
