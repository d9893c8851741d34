// Reads the TOML file, then the environment, then the flags into one Draft,
// checks what only holds between keys, and makes the RelayConfig.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "common/config.hpp"
#include "common/config/command_line.hpp"
#include "common/config/schema.hpp"
#include "common/config/values.hpp"

namespace relay {

using namespace config_detail;

namespace {

// ---------------------------------------------------------------------------
// Where each value came from, so an error line can point at it.

enum class Source : uint8_t { Default, File, Env, Flag };

struct Origin {
  Source source = Source::Default;
  std::string where;  // "FILE:LINE:COLUMN", "ENV_NAME" or "--flag"
};

std::string position(const std::string& file, const toml::source_region& r) {
  return file + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

class Loader {
 public:
  Loader(std::string file, const EnvLookup& env) : file_(std::move(file)), env_(env) {}

  Result<void, std::string> read_file();
  Result<void, std::string> read_env();
  Result<void, std::string> read_flags(
      const std::map<const Key*, std::vector<std::string>>& flags);
  Result<void, std::string> check();
  RelayConfig finish();

 private:
  Result<void, std::string> read_table(const toml::table& table, const std::string& prefix);
  Result<void, std::string> read_value(const Key& key, const toml::node& node);
  // `env`: the variable read, when it is not the key's own (an EnvAlias).
  Result<void, std::string> apply_text(const Key& key, const std::vector<std::string>& items,
                                        Source source, std::string_view env = {});
  // The start of an error line about `path`, naming where its value came from.
  std::string at(std::string_view path) const;
  // Of keys that only together are wrong, the one the operator set last.
  std::string_view blame(std::initializer_list<std::string_view> paths) const;
  Result<void, std::string> check_addresses(FamilyDraft& fam, std::string_view family);
  Result<void, std::string> check_ports_and_lifetimes();
  Result<void, std::string> check_lcores();
  Result<void, std::string> check_interface();
  Result<void, std::string> check_dataplane();
  Result<void, std::string> check_portal();
  Result<void, std::string> check_auth();

  std::string file_;
  const EnvLookup& env_;
  Draft draft_;
  std::map<std::string, Origin, std::less<>> origins_;
};

std::string Loader::at(std::string_view path) const {
  auto it = origins_.find(path);
  Origin o = it == origins_.end() ? Origin{} : it->second;
  switch (o.source) {
    case Source::File:
      return o.where + ": " + std::string(path) + ": ";
    case Source::Env:
    case Source::Flag:
      return o.where + ": ";
    case Source::Default:
      break;
  }
  return file_.empty() ? std::string(path) + ": " : file_ + ": " + std::string(path) + ": ";
}

std::string_view Loader::blame(std::initializer_list<std::string_view> paths) const {
  std::string_view chosen = *paths.begin();
  Source best = Source::Default;
  for (auto p : paths) {
    auto it = origins_.find(p);
    auto s = it == origins_.end() ? Source::Default : it->second.source;
    if (s > best) {
      best = s;
      chosen = p;
    }
  }
  return chosen;
}

Result<void, std::string> Loader::read_file() {
  if (file_.empty()) return {};
  std::ifstream in(file_, std::ios::binary);
  if (!in) return Err{file_ + ": cannot open: " + std::strerror(errno)};
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    auto table = toml::parse(text, file_);
    return read_table(table, "");
  } catch (const toml::parse_error& e) {
    return Err{position(file_, e.source()) + ": " + printable(e.description())};
  }
}

Result<void, std::string> Loader::read_table(const toml::table& table, const std::string& prefix) {
  for (auto&& [k, node] : table) {
    std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (is_table(path)) {
      if (const auto* sub = node.as_table()) {
        if (auto r = read_table(*sub, path); !r) return r;
        continue;
      }
      return Err{position(file_, node.source()) + ": " + printable(path) + ": expected a table, got " +
                 std::string(toml_type_name(node.type()))};
    }
    const Key* key = find_key(path);
    if (key == nullptr)
      return Err{position(file_, k.source()) + ": " + printable(path) + ": unknown key"};
    if (auto r = read_value(*key, node); !r) return r;
  }
  return {};
}

Result<void, std::string> Loader::read_value(const Key& key, const toml::node& node) {
  std::string path(key.path);
  auto in = input_from_toml(key.behaviour.kind, node);
  if (!in)
    return Err{position(file_, in.error().where->source()) + ": " + path + ": " + in.error().what};
  if (auto p = key.behaviour.apply(draft_, *in)) {
    const toml::node* where = &node;
    if (p->item && node.is_array()) where = node.as_array()->get(*p->item);
    return Err{position(file_, where->source()) + ": " + path + ": " + p->what};
  }
  origins_[path] = Origin{Source::File, position(file_, node.source())};
  return {};
}

Result<void, std::string> Loader::apply_text(const Key& key, const std::vector<std::string>& items,
                                              Source source, std::string_view env) {
  std::string where = source == Source::Flag ? std::string(key.flag)
                      : env.empty()            ? env_name(key.flag)
                                               : std::string(env);
  auto in = input_from_text(key.behaviour.kind, items, source == Source::Env);
  if (!in) return Err{where + ": " + in.error()};
  if (auto p = key.behaviour.apply(draft_, *in)) return Err{where + ": " + p->what};
  origins_[std::string(key.path)] = Origin{source, where};
  return {};
}

Result<void, std::string> Loader::read_env() {
  for (const auto& alias : env_aliases()) {
    auto value = env_(alias.env);
    auto translated = value ? alias.translate(*value) : std::nullopt;
    if (!translated) continue;
    if (auto r = apply_text(*find_key(alias.path), {*translated}, Source::Env, alias.env); !r) return r;
  }
  for (const auto& key : schema()) {
    auto value = env_(env_name(key.flag));
    if (!value) continue;
    if (auto r = apply_text(key, {*value}, Source::Env); !r) return r;
  }
  return {};
}

Result<void, std::string> Loader::read_flags(
    const std::map<const Key*, std::vector<std::string>>& flags) {
  for (const auto& key : schema()) {
    auto it = flags.find(&key);
    if (it == flags.end() || it->second.empty()) continue;
    if (auto r = apply_text(key, it->second, Source::Flag); !r) return r;
  }
  return {};
}

Result<void, std::string> Loader::check() {
  auto& d = draft_;
  if (!d.v4.address && !d.v6.address)
    return Err{at("relay.ipv4.address") +
               "no relay address: set relay.ipv4.address or relay.ipv6.address (or both)"};
  if (auto r = check_addresses(d.v4, "ipv4"); !r) return r;
  if (auto r = check_addresses(d.v6, "ipv6"); !r) return r;
  if (auto r = check_ports_and_lifetimes(); !r) return r;
  if (auto r = check_lcores(); !r) return r;
  if (auto r = check_interface(); !r) return r;
  if (auto r = check_dataplane(); !r) return r;
  if (auto r = check_portal(); !r) return r;
  return check_auth();
}

Result<void, std::string> Loader::check_addresses(FamilyDraft& fam, std::string_view family) {
  std::string prefix = "relay." + std::string(family) + ".";
  std::string address_key = prefix + "address";
  std::string gateway_key = prefix + "gateway";
  std::string public_key = prefix + "public_address";
  if (!fam.address) {
    if (fam.gateway) return Err{at(gateway_key) + "needs " + address_key};
    if (fam.public_address) return Err{at(public_key) + "needs " + address_key};
    return {};
  }
  if (!fam.gateway) return {};
  auto subnet = *Cidr::parse(fam.address->to_string() + "/" + std::to_string(fam.prefix_len));
  if (!subnet.contains(*fam.gateway))
    return Err{at(blame({gateway_key, address_key})) + "gateway " + fam.gateway->to_string() +
               " is not inside " + subnet.to_string() + " (" + address_key + ")"};
  if (*fam.gateway == *fam.address)
    return Err{at(blame({gateway_key, address_key})) + "gateway " + fam.gateway->to_string() +
               " is the relay's own address"};
  return {};
}

Result<void, std::string> Loader::check_ports_and_lifetimes() {
  const auto& r = draft_.cfg.relay;
  const PortRange& ports = r.allocation_ports;
  auto range = std::to_string(ports.lowest) + ".." + std::to_string(ports.highest);
  if (ports.lowest > ports.highest)
    return Err{at(blame({"relay.lowest_port", "relay.highest_port"})) + "the allocation port range " +
               range + " is empty (relay.lowest_port > relay.highest_port)"};
  if (ports.contains(r.listen_port))
    return Err{at(blame({"relay.listen_port", "relay.lowest_port", "relay.highest_port"})) +
               "relay.listen_port " + std::to_string(r.listen_port) +
               " lies inside the allocation port range " + range};
  for (const char* key : {"relay.tls_port", "relay.alternate_tls_port"}) {
    const uint16_t port = std::string_view(key) == "relay.tls_port" ? r.tls_port : r.alternate_tls_port;
    if (port == 0) continue;
    if (port == r.listen_port)
      return Err{at(blame({key, "relay.listen_port"})) + std::string(key) + " " + std::to_string(port) +
                 " is relay.listen_port, which serves TURN over TCP"};
    if (ports.contains(port))
      return Err{at(blame({key, "relay.lowest_port", "relay.highest_port"})) + std::string(key) + " " +
                 std::to_string(port) + " lies inside the allocation port range " + range};
  }
  if (r.tls_port != 0 && r.tls_port == r.alternate_tls_port)
    return Err{at(blame({"relay.alternate_tls_port", "relay.tls_port"})) + "relay.alternate_tls_port " +
               std::to_string(r.alternate_tls_port) + " is relay.tls_port already"};
  if (const uint32_t table = draft_.cfg.stream.routing_table; table >= 253 && table <= 255)
    return Err{at("stream.routing_table") + std::to_string(table) +
               " is one of the kernel's own tables (253 default, 254 main, 255 local)"};
  if (r.tls_certificate.has_value() != r.tls_private_key.has_value())
    return Err{at(blame({"relay.tls_certificate", "relay.tls_private_key"})) +
               "relay.tls_certificate and relay.tls_private_key come together"};
  if (r.allocation_lifetime > r.max_allocation_lifetime)
    return Err{at(blame({"relay.allocation_lifetime", "relay.max_allocation_lifetime"})) +
               "relay.allocation_lifetime " + std::to_string(r.allocation_lifetime.count()) +
               " exceeds relay.max_allocation_lifetime " +
               std::to_string(r.max_allocation_lifetime.count())};
  return {};
}

Result<void, std::string> Loader::check_lcores() {
  const auto& eal = draft_.cfg.eal;
  auto has = [&](uint32_t id) {
    return std::binary_search(eal.lcore_ids.begin(), eal.lcore_ids.end(), id);
  };
  if (eal.main_lcore && !has(*eal.main_lcore))
    return Err{at(blame({"eal.main_lcore", "eal.lcores"})) + "main lcore " +
               std::to_string(*eal.main_lcore) + " is not in eal.lcores \"" + eal.lcores + "\""};
  for (auto id : draft_.workers.value_or(std::vector<uint32_t>{})) {
    if (!has(id))
      return Err{at(blame({"dataplane.worker_lcores", "eal.lcores"})) + "worker lcore " +
                 std::to_string(id) + " is not in eal.lcores \"" + eal.lcores + "\""};
  }
  return {};
}

// Two drivers on one interface would both take its frames.
Result<void, std::string> Loader::check_interface() {
  const auto& eal = draft_.cfg.eal;
  if (!eal.interface) return {};
  for (const auto& vdev : eal.vdevs) {
    if (vdev_interface(vdev) == eal.interface)
      return Err{at(blame({"eal.interface", "eal.vdevs"})) + "eal.interface " + *eal.interface +
                 " is also taken by eal.vdevs " + shown(vdev) + ": keep one of them"};
  }
  return {};
}

Result<void, std::string> Loader::check_dataplane() {
  const auto& dp = draft_.cfg.dataplane;
  // A worker refills a whole burst from its cache; a smaller cache would
  // go to the shared ring on every burst.
  if (dp.mbuf_cache < dp.burst_size)
    return Err{at(blame({"dataplane.mbuf_cache", "dataplane.burst_size"})) + "dataplane.mbuf_cache " +
               std::to_string(dp.mbuf_cache) + " is smaller than dataplane.burst_size " +
               std::to_string(dp.burst_size)};
  // rte_mempool_create refuses a cache larger than n / 1.5.
  if (uint64_t{dp.mbuf_cache} * 3 > uint64_t{dp.mempool_size} * 2)
    return Err{at(blame({"dataplane.mbuf_cache", "dataplane.mempool_size"})) + "dataplane.mbuf_cache " +
               std::to_string(dp.mbuf_cache) + " exceeds dataplane.mempool_size / 1.5 (" +
               std::to_string(dp.mempool_size) + " mbufs)"};
  // Capacity is one number: the control plane grants no more channels and
  // permissions than these tables hold, so a per-allocation quota above
  // them could never be reached (0 leaves the tables the only bound).
  const auto& q = draft_.cfg.quotas;
  auto above = [&](std::string_view quota, uint32_t value, std::string_view table, uint32_t capacity) {
    return at(blame({quota, table})) + std::string(quota) + " " + std::to_string(value) + " exceeds " +
           std::string(table) + " " + std::to_string(capacity) +
           ": lower the quota or raise the table (every worker holds them all)";
  };
  if (q.channels_per_allocation > dp.channel_table_capacity)
    return Err{above("quotas.max_channels_per_allocation", q.channels_per_allocation,
                     "dataplane.channel_table_capacity", dp.channel_table_capacity)};
  if (q.permissions_per_allocation > dp.permission_table_capacity)
    return Err{above("quotas.max_permissions_per_allocation", q.permissions_per_allocation,
                     "dataplane.permission_table_capacity", dp.permission_table_capacity)};
  return {};
}

Result<void, std::string> Loader::check_portal() {
  const auto& p = draft_.cfg.portal;
  if (!p.ws_url) return {};
  if (!p.token)
    return Err{at(blame({"portal.token", "portal.ws_url"})) + "portal.ws_url needs portal.token"};
  if (p.ws_url->starts_with("ws://") && !p.allow_insecure_ws)
    return Err{at(blame({"portal.ws_url", "portal.allow_insecure_ws"})) +
               "ws:// would send the token in clear text: use wss:// or set portal.allow_insecure_ws"};
  return {};
}

// A secret file is read once, here, so both processes see the same value and a
// bad file stops the start like any other key. Bounded: a path such as
// /dev/zero must not hang the loader. The error names the file, never its
// contents.
Result<std::string, std::string> read_secret_file(const std::string& path) {
  constexpr size_t kMaxSecretBytes = 4096;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err{"cannot read " + shown(path) + ": " + std::strerror(errno)};
  std::string secret;
  std::array<char, 512> buf{};
  while (secret.size() <= kMaxSecretBytes) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return Err{"cannot read " + shown(path) + ": " + std::strerror(error)};
    }
    if (n == 0) break;
    secret.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  if (secret.size() > kMaxSecretBytes)
    return Err{shown(path) + " is longer than " + std::to_string(kMaxSecretBytes) + " bytes"};
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Err{shown(path) + " is empty"};
  return secret;
}

Result<void, std::string> Loader::check_auth() {
  auto& r = draft_.cfg.relay;
  const bool listed = origins_.contains("relay.auth.secrets");
  if (listed + draft_.auth_secret.has_value() + r.auth_secret_file.has_value() > 1)
    return Err{at(blame({"relay.auth_secret_file", "relay.auth_secret", "relay.auth.secrets"})) +
               "relay.auth.secrets, relay.auth_secret and relay.auth_secret_file each give the secrets: keep one"};
  if (listed && r.auth.secrets.empty()) return Err{at("relay.auth.secrets") + "an empty list: give at least one secret"};
  if (draft_.auth_secret) r.auth.secrets = {*draft_.auth_secret};
  if (r.auth_secret_file) {
    auto text = read_secret_file(*r.auth_secret_file);
    if (!text) return Err{at("relay.auth_secret_file") + text.error()};
    size_t line_number = 0;
    for (std::string_view rest = *text; !rest.empty();) {
      const auto line = rest.substr(0, rest.find('\n'));
      rest.remove_prefix(std::min(rest.size(), line.size() + 1));
      ++line_number;
      if (line.empty() || line == "\r") continue;
      const auto secret = line.ends_with('\r') ? line.substr(0, line.size() - 1) : line;
      if (auto p = valid_secret(secret))
        return Err{at("relay.auth_secret_file") + shown(*r.auth_secret_file) + " line " + std::to_string(line_number) +
                   ": " + p->what};
      r.auth.secrets.emplace_back(secret);
    }
  }
  const auto scheme = r.auth.scheme;
  if (scheme == AuthScheme::Rest && r.auth.secrets.empty())
    return Err{at("relay.auth.scheme") + "rest needs relay.auth.secrets (or relay.auth_secret_file)"};
  if (scheme == AuthScheme::Static && !r.auth.users_file)
    return Err{at("relay.auth.scheme") + "static needs relay.auth.users_file"};
  if (scheme != AuthScheme::Static && r.auth.users_file)
    return Err{at(blame({"relay.auth.users_file", "relay.auth.scheme"})) +
               "relay.auth.users_file is read only with relay.auth.scheme = static"};
  if (scheme != AuthScheme::Firezone && draft_.cfg.portal.ws_url)
    return Err{at(blame({"relay.auth.scheme", "portal.ws_url"})) +
               "a portal mints firezone credentials: relay.auth.scheme must be firezone"};
  return {};
}

RelayConfig Loader::finish() {
  auto& d = draft_;
  auto family = [](const FamilyDraft& f) -> std::optional<RelayAddress> {
    if (!f.address) return std::nullopt;
    return RelayAddress{*f.address, f.prefix_len, f.gateway, f.public_address};
  };
  d.cfg.relay.ipv4 = family(d.v4);
  d.cfg.relay.ipv6 = family(d.v6);
  auto main = d.cfg.eal.effective_main_lcore();
  if (d.workers) {
    d.cfg.dataplane.worker_lcores = *d.workers;
  } else {
    for (auto id : d.cfg.eal.lcore_ids)
      if (id != main) d.cfg.dataplane.worker_lcores.push_back(id);
    if (d.cfg.dataplane.worker_lcores.empty()) d.cfg.dataplane.worker_lcores.push_back(main);
  }
  d.cfg.source = file_;
  return std::move(d.cfg);
}

}  // namespace

Result<RelayConfig, ConfigError> load_config(int argc, const char* const* argv,
                                             std::string_view program, const EnvLookup& env,
                                             Validation validation) {
  auto line = parse_command_line(argc, argv, program);
  if (!line) return Err{line.error()};
  if (line->version) return Err{ConfigError{ConfigError::Kind::VersionRequested, std::string(program)}};
  auto file = line->config ? line->config : env("CONFIG");
  if (file && file->empty()) file.reset();
  Loader loader(file.value_or(""), env);
  auto invalid = [](std::string message) {
    return Err{ConfigError{ConfigError::Kind::Invalid, std::move(message)}};
  };
  if (auto r = loader.read_file(); !r) return invalid(r.error());
  if (auto r = loader.read_env(); !r) return invalid(r.error());
  if (auto r = loader.read_flags(line->values); !r) return invalid(r.error());
  if (validation == Validation::Full) {
    if (auto r = loader.check(); !r) return invalid(r.error());
  }
  RelayConfig config = loader.finish();
  config.check_only = line->check;
  return config;
}

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

int report(const ConfigError& error, const BuildInfo& build) {
  if (error.kind == ConfigError::Kind::HelpRequested) {
    std::fputs(error.message.c_str(), stdout);
  } else if (error.kind == ConfigError::Kind::VersionRequested) {
    std::printf("%s\n", version_line(error.message, build).c_str());
  } else {
    std::fprintf(stderr, "%s\n", error.message.c_str());
  }
  return error.exit_status();
}

int report_checked(const RelayConfig& config) {
  std::printf("%s: ok\n", config.source.empty() ? "flags and environment" : config.source.c_str());
  return 0;
}

}  // namespace relay
