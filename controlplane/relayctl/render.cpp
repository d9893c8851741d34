#include "controlplane/relayctl/render.hpp"

#include <algorithm>
#include <vector>

namespace relay::relayctl {

namespace {

using nlohmann::json;

std::string text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>();
  if (v.is_array()) {
    std::string out;
    for (const auto& item : v) out += (out.empty() ? "" : ", ") + text(item);
    return out.empty() ? "-" : out;
  }
  return v.dump();
}

std::string lines(const json& answer, std::initializer_list<const char*> keys) {
  std::vector<std::vector<std::string>> rows;
  for (const char* key : keys)
    if (answer.contains(key)) rows.push_back({std::string(key) + ":", text(answer[key])});
  return table(rows);
}

std::string allocation_table(const json& list) {
  std::vector<std::vector<std::string>> rows = {
      {"PORT", "CLIENT", "TRANSPORT", "USER", "RELAY", "EXPIRES_IN", "CHANNELS", "PERMISSIONS"}};
  for (const auto& a : list) {
    std::string relay = text(a["relay_v4"]);
    if (!a["relay_v6"].is_null()) relay = a["relay_v4"].is_null() ? text(a["relay_v6"]) : relay + " " + text(a["relay_v6"]);
    // An answer of a relay older than streams has no transport: UDP.
    const std::string transport = a.contains("transport") ? text(a["transport"]) : "udp";
    rows.push_back({text(a["port"]), text(a["client"]), transport, text(a["user"]), relay, text(a["expires_in"]) + "s",
                    text(a["channels"]), text(a["permissions"])});
  }
  return table(rows);
}

std::string count(size_t n, std::string_view what) {
  return std::to_string(n) + " " + std::string(what) + (n == 1 ? "" : "s");
}

}  // namespace

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string render(std::string_view command, const json& answer) {
  if (command == "status" || command == "drain")
    return lines(answer, {"version", "revision", "dpdk", "config", "file_prefix", "uptime_seconds", "workers", "ready",
                          "not_ready", "draining", "drain_deadline_in", "allocations", "channels", "free_ports",
                          "held_ports", "stream_connections_tcp", "stream_connections_tls"});
  if (command == "allocations") {
    const json& list = answer["allocations"];
    return allocation_table(list) + count(list.size(), "allocation") + "\n";
  }
  if (command == "kill") {
    const json& ended = answer["ended"];
    if (ended.empty()) return "no allocation matches\n";
    return allocation_table(ended) + "ended " + count(ended.size(), "allocation") + "\n";
  }
  if (command == "reload")
    return lines(answer, {"applied", "refused", "needs_restart", "channels_revoked", "permissions_revoked"});
  if (command == "credentials") return lines(answer, {"username", "password", "realm", "expires_at", "uris"});
  if (command == "config") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : answer["settings"]) rows.push_back({text(s["key"]), "=", text(s["value"])});
    return "# " + text(answer["source"]) + "\n" + table(rows);
  }
  return answer.dump(2) + "\n";
}

bool succeeded(std::string_view command, const json& answer) {
  if (command == "kill") return !answer["ended"].empty();
  if (command == "reload") return answer["refused"].empty();
  return true;
}

}  // namespace relay::relayctl
