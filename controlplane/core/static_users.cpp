#include "controlplane/core/static_users.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>

#include "controlplane/core/stun/credentials.hpp"

namespace relay::core {

namespace {

// "0x" and 32 hex digits: turnadmin -k's output.
std::optional<stun::LongTermKey> parse_hex_key(std::string_view text) {
  stun::LongTermKey key{};
  if (text.size() != 2 + 2 * key.size() || !text.starts_with("0x")) return std::nullopt;
  for (size_t i = 0; i < key.size(); ++i) {
    const char* first = text.data() + 2 + 2 * i;
    auto [end, ec] = std::from_chars(first, first + 2, key[i], 16);
    if (ec != std::errc{} || end != first + 2) return std::nullopt;
  }
  return key;
}

}  // namespace

Result<StaticUsers, std::string> parse_static_users(std::string_view text, std::string_view file,
                                                    std::string_view realm) {
  StaticUsers users;
  std::unordered_map<std::string_view, size_t> first_line;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.starts_with('#')) continue;
    auto bad = [&](size_t offset, std::string_view what) {
      return Err{std::string(file) + ":" + std::to_string(line_number) + ":" + std::to_string(offset + 1) +
                 ": relay.auth.users_file: " + std::string(what)};
    };
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return bad(0, "not user:password or user:realm:0xKEY");
    const std::string_view user = line.substr(0, colon);
    if (user.empty()) return bad(0, "an empty user name");
    const std::string_view rest = line.substr(colon + 1);
    const size_t second = rest.find(':');
    std::optional<stun::LongTermKey> key;
    if (second == std::string_view::npos) {
      if (rest.empty()) return bad(colon + 1, "an empty password");
      if (parse_hex_key(rest)) return bad(colon + 1, "a key needs its realm: user:realm:0xKEY");
      key = stun::long_term_key(user, realm, rest);
    } else {
      const std::string_view line_realm = rest.substr(0, second);
      if (line_realm != realm)
        return bad(colon + 1, "the realm is not relay.realm \"" + std::string(realm) + "\"");
      key = parse_hex_key(rest.substr(second + 1));
      if (!key) return bad(colon + 2 + second, "the key is not 0x and 32 hex digits (turnadmin -k)");
    }
    if (auto [it, fresh] = first_line.emplace(user, line_number); !fresh)
      return bad(0, "the user is listed before, on line " + std::to_string(it->second));
    users.keys.insert_or_assign(std::string(user), stun::IntegrityKey(std::span<const uint8_t>(*key)));
  }
  return users;
}

}  // namespace relay::core
