// The schema: every configuration key with its flag, environment names,
// default, meaning and the behaviour that reads, checks and shows its value.
// --help, the reference table and effective_settings are printed from it.
// Internal to the loader (common/config/): the public API is common/config.hpp.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/config/values.hpp"

namespace relay::config_detail {

// ---------------------------------------------------------------------------
// The configuration being assembled, with the parts that only become a
// RelayConfig field once every source has been read.

struct FamilyDraft {
  std::optional<IpAddress> address;
  uint8_t prefix_len = 0;
  std::optional<IpAddress> gateway;
  std::optional<IpAddress> public_address;
};

struct Draft {
  RelayConfig cfg;
  FamilyDraft v4;
  FamilyDraft v6;
  std::optional<std::vector<uint32_t>> workers;
  // relay.auth_secret: one secret, which loading puts in relay.auth.secrets.
  std::optional<std::string> auth_secret;
};

using Apply = std::function<Check(Draft&, const Input&)>;
using Show = std::function<std::string(Draft&)>;  // "" = unset

struct Behaviour {
  Kind kind;
  Apply apply;
  Show show;
};

struct Key {
  std::string_view path;  // "relay.listen_port"
  std::string_view flag;  // "--listen-port"; the env name is derived from it
  std::string_view help;
  Behaviour behaviour;
  bool secret = false;
};

// Order is the order of --help and of the reference table.
const std::vector<Key>& schema();
const Key* find_key(std::string_view path);
// Whether `path` names a table of the schema ("relay", "relay.ipv4").
bool is_table(std::string_view path);

// "--listen-port" -> "LISTEN_PORT".
std::string env_name(std::string_view flag);

#undef FIELD

// Names Firezone's relay reads, so an operator can swap this relay in and
// keep its environment. Each feeds one key, after translating the value into
// that key's form (nullopt: nothing in it for us); the key's own variable and
// flag win over it.
struct EnvAlias {
  std::string_view env;
  std::string_view path;
  std::optional<std::string> (*translate)(std::string_view value);
};

const std::vector<EnvAlias>& env_aliases();

// "PORTAL_TOKEN" or "PORTAL_TOKEN, FIREZONE_TOKEN": what --help and the
// reference table name.
std::string env_names(const Key& key, std::string_view separator = ", ");

// The key's default as --help and the reference show it; "" for a secret.
std::string default_text(const Key& key);

// A secret is any text of at least 16 bytes (128 bits if random), which
// coturn's documentation asks of static-auth-secret too. Never quoted.
Check valid_secret(std::string_view s);

}  // namespace relay::config_detail
