// What a loaded configuration says beyond its fields: each key's effective
// value, the operator's reference table, and the defaults derived from it.
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/config/schema.hpp"

namespace relay {

using namespace config_detail;

Cidr RelayAddress::subnet() const {
  return *Cidr::parse(address.to_string() + "/" + std::to_string(prefix_len));
}

std::string admin_socket_path(const RelayConfig& config) {
  return config.admin.socket.value_or("/run/turn-relay/" + config.eal.file_prefix + ".sock");
}

std::vector<Setting> effective_settings(const RelayConfig& config, bool reveal_secrets) {
  Draft d;
  d.cfg = config;
  auto family = [](const std::optional<RelayAddress>& a) {
    if (!a) return FamilyDraft{};
    return FamilyDraft{a->address, a->prefix_len, a->gateway, a->public_address};
  };
  d.v4 = family(config.relay.ipv4);
  d.v6 = family(config.relay.ipv6);
  d.workers = config.dataplane.worker_lcores;
  std::vector<Setting> out;
  out.reserve(schema().size());
  for (const auto& key : schema()) {
    std::string value = key.behaviour.show(d);
    if (key.secret && !value.empty() && !reveal_secrets) value = log::kRedacted;
    out.push_back({std::string(key.path), std::move(value)});
  }
  return out;
}

std::string config_reference_markdown() {
  auto cell = [](std::string_view s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string md =
      "| TOML key | flag | env variable | default | meaning |\n"
      "|---|---|---|---|---|\n"
      "| — | `--config` | `CONFIG` | — | The TOML file to read. Without it, flags, environment "
      "and defaults alone. |\n";
  for (const auto& key : schema()) {
    auto def = default_text(key);
    md += "| `" + std::string(key.path) + "` | `" + std::string(key.flag) + "` | `" + env_names(key, "`, `") +
          "` | " + (def.empty() ? "—" : "`" + cell(def) + "`") + " | " +
          cell(key.help) + " |\n";
  }
  return md;
}

StreamPorts stream_ports(const RelayConfig& config) {
  StreamPorts ports;
  if (!config.stream.enabled) return ports;
  ports.tcp = config.relay.listen_port;
  if (config.relay.tls_certificate) {
    for (uint16_t p : {config.relay.tls_port, config.relay.alternate_tls_port})
      if (p != 0) ports.tls.push_back(p);
  }
  return ports;
}

}  // namespace relay
