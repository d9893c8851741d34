#include "controlplane/process/admin_commands.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace relay::process {

namespace {

using nlohmann::json;

constexpr std::string_view kTarget = "admin";

struct Refusal {
  std::string error;
};

json failure(std::string error) { return json{{"ok", false}, {"error", std::move(error)}}; }

int64_t seconds_until(Instant when, Instant now) {
  return std::chrono::duration_cast<std::chrono::seconds>(when - now).count();
}

std::optional<std::string> text_arg(const json& request, const char* name) {
  const auto it = request.find(name);
  if (it == request.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw Refusal{std::string(name) + " must be a string"};
  return it->get<std::string>();
}

std::optional<uint64_t> number_arg(const json& request, const char* name, uint64_t max) {
  const auto it = request.find(name);
  if (it == request.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_unsigned() || it->get<uint64_t>() > max)
    throw Refusal{std::string(name) + " must be a whole number 0.." + std::to_string(max)};
  return it->get<uint64_t>();
}

// "IP" matches every port of the address, "IP:PORT" ("[v6]:PORT") one socket.
struct ClientFilter {
  IpAddress ip;
  std::optional<uint16_t> port;
  [[nodiscard]] bool matches(const SocketAddress& a) const { return a.ip == ip && (!port || a.port == *port); }
};

std::optional<ClientFilter> client_filter(const json& request) {
  auto text = text_arg(request, "client");
  if (!text) return std::nullopt;
  if (auto socket = SocketAddress::parse(*text)) return ClientFilter{socket->ip, socket->port};
  if (auto ip = IpAddress::parse(*text)) return ClientFilter{*ip, std::nullopt};
  throw Refusal{"client: \"" + *text + "\" is neither IP nor IP:PORT"};
}

std::vector<core::AllocationView> matching(const AdminContext& ctx, const json& request) {
  const auto user = text_arg(request, "user");
  const auto client = client_filter(request);
  const auto port = number_arg(request, "port", 65535);
  auto all = ctx.server.allocations();
  std::erase_if(all, [&](const core::AllocationView& a) {
    return (user && a.user != *user) || (client && !client->matches(a.client.client.value)) ||
           (port && a.port.value != *port);
  });
  return all;
}

json view_json(const core::AllocationView& a, Instant now) {
  auto address = [](const std::optional<SocketAddress>& s) { return s ? json(s->to_string()) : json(nullptr); };
  return json{{"port", a.port.value},
              {"client", a.client.client.value.to_string()},
              {"listen", a.client.listen.value.to_string()},
              {"transport", to_string(a.client.transport)},
              {"relay_v4", address(a.relay_v4)},
              {"relay_v6", address(a.relay_v6)},
              {"user", a.user},
              {"expires_in", std::max<int64_t>(0, seconds_until(a.expiry, now))},
              {"channels", a.channels},
              {"permissions", a.permissions}};
}

json status(AdminContext& ctx) {
  const Instant now = ctx.now();
  const core::Stats s = ctx.server.stats();
  const core::DrainState& drain = ctx.server.drain_state();
  const RelayConfig& config = ctx.live.running();
  return json{{"ok", true},
              {"version", ctx.build.version},
              {"revision", ctx.build.revision},
              {"dpdk", ctx.build.dpdk},
              {"uptime_seconds", seconds_until(now, ctx.started)},
              {"config", config.source},
              {"file_prefix", config.eal.file_prefix},
              {"workers", ctx.workers},
              {"ready", ctx.not_ready().empty()},
              {"not_ready", ctx.not_ready()},
              {"draining", drain.draining},
              {"drain_deadline_in", drain.deadline ? json(seconds_until(*drain.deadline, now)) : json(nullptr)},
              {"allocations", ctx.server.allocation_count()},
              {"channels", s.active_channels},
              {"free_ports", s.free_ports},
              {"held_ports", s.held_ports},
              {"stream_connections_tcp", ctx.streams ? ctx.streams().tcp : 0},
              {"stream_connections_tls", ctx.streams ? ctx.streams().tls : 0}};
}

json allocations(AdminContext& ctx, const json& request) {
  const Instant now = ctx.now();
  json list = json::array();
  for (const auto& a : matching(ctx, request)) list.push_back(view_json(a, now));
  return json{{"ok", true}, {"allocations", std::move(list)}};
}

json kill(AdminContext& ctx, const json& request) {
  const int given = request.contains("user") + request.contains("client") + request.contains("port");
  if (given != 1) throw Refusal{"kill takes exactly one of user, client, port"};
  const Instant now = ctx.now();
  json ended = json::array();
  for (const auto& a : matching(ctx, request))
    if (ctx.server.end_allocation(a.port, now)) ended.push_back(view_json(a, now));
  log::info(kTarget, "relayctl kill ended allocations", {{"request", request.dump()}, {"ended", ended.size()}});
  return json{{"ok", true}, {"ended", std::move(ended)}};
}

json drain(AdminContext& ctx, const json& request) {
  const bool cancel = request.value("cancel", false);
  const auto deadline = number_arg(request, "deadline_seconds", 7 * 86400);
  if (cancel) {
    ctx.server.stop_draining();
    log::info(kTarget, "drain cancelled: new allocations are accepted again");
  } else {
    const Instant now = ctx.now();
    std::optional<Instant> at;
    if (deadline) at = now + std::chrono::seconds(*deadline);
    ctx.server.drain(at);
    log::info(kTarget, "draining: new allocations get 508, existing ones are served",
              {{"allocations", ctx.server.allocation_count()},
               {"deadline_seconds", deadline ? std::to_string(*deadline) : std::string("none")}});
  }
  ctx.on_drain(!cancel);
  return status(ctx);
}

json reload(AdminContext& ctx) {
  const ReloadOutcome r = ctx.live.reload(ctx.now());
  if (!r.loaded) return failure(r.error);
  return json{{"ok", true},
              {"applied", r.applied},
              {"refused", r.refused},
              {"needs_restart", r.needs_restart},
              {"channels_revoked", r.channels_revoked},
              {"permissions_revoked", r.permissions_revoked}};
}

bool valid_user(std::string_view user) {
  return !user.empty() && user.size() <= 128 && std::all_of(user.begin(), user.end(), [](char c) {
    return c > 0x20 && c < 0x7F && c != ':';
  });
}

json credentials(AdminContext& ctx, const json& request) {
  const auto user = text_arg(request, "user");
  if (!user || !valid_user(*user)) throw Refusal{"user: 1..128 printable characters, no space or ':'"};
  const auto lifetime = number_arg(request, "lifetime", kMaxCredentialLifetime.count()).value_or(3600);
  const uint64_t expiry = static_cast<uint64_t>(ctx.unix_now().count()) + lifetime;
  const auto minted = ctx.server.mint_credential(*user, expiry);
  if (!minted) throw Refusal{"relay.auth.scheme static: its users come from relay.auth.users_file"};
  const core::ServerConfig& c = ctx.server.config();
  json uris = json::array();
  for (const auto& ip : {c.advertised_v4 ? c.advertised_v4 : c.relay_v4, c.advertised_v6 ? c.advertised_v6 : c.relay_v6})
    if (ip) uris.push_back("turn:" + SocketAddress{*ip, c.listen_port}.to_string() + "?transport=udp");
  return json{{"ok", true},       {"username", minted->username}, {"password", minted->password},
              {"realm", c.realm}, {"expires_at", expiry},         {"uris", std::move(uris)}};
}

json config(AdminContext& ctx) {
  json settings = json::array();
  for (const auto& s : effective_settings(ctx.live.running()))
    settings.push_back(json{{"key", s.key}, {"value", s.value}});
  return json{{"ok", true}, {"source", ctx.live.running().source}, {"settings", std::move(settings)}};
}

json dispatch(AdminContext& ctx, const json& request) {
  if (!request.is_object()) throw Refusal{"a request is a JSON object"};
  const auto command = text_arg(request, "command").value_or("");
  if (command == "status") return status(ctx);
  if (command == "allocations") return allocations(ctx, request);
  if (command == "kill") return kill(ctx, request);
  if (command == "drain") return drain(ctx, request);
  if (command == "reload") return reload(ctx);
  if (command == "credentials") return credentials(ctx, request);
  if (command == "config") return config(ctx);
  throw Refusal{"unknown command \"" + command + "\""};
}

}  // namespace

std::string handle_admin_request(AdminContext& ctx, const std::string& request) {
  json parsed = json::parse(request, nullptr, false);
  if (parsed.is_discarded()) return failure("the request is not JSON").dump();
  try {
    return dispatch(ctx, parsed).dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (const Refusal& r) {
    return failure(r.error).dump();
  }
}

}  // namespace relay::process
