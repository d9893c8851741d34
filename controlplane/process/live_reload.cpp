#include "controlplane/process/live_reload.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "common/log.hpp"
#include "controlplane/portal/portal_client.hpp"
#include "controlplane/process/server_setup.hpp"

namespace relay::process {

namespace {
constexpr std::string_view kTarget = "reload";

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : " ") + item;
  return out.empty() ? "-" : out;
}
}  // namespace

bool is_live_key(std::string_view key) {
  static constexpr std::array<std::string_view, 12> kLive = {
      "log.format",           "log.level",          "relay.peer_allow", "relay.peer_deny",
      "relay.deny_on_link",   "relay.auth_secret",  "relay.auth_secret_file", "relay.auth.secrets",
      "relay.auth.users_file", "portal.token",      "relay.tls_certificate",  "relay.tls_private_key"};
  return key.starts_with("quotas.") || std::find(kLive.begin(), kLive.end(), key) != kLive.end();
}

void LiveConfig::reload_tls(const RelayConfig& fresh, ReloadOutcome& out) {
  const RelaySection& now = fresh.relay;
  const bool changed = now.tls_certificate != running_.relay.tls_certificate ||
                       now.tls_private_key != running_.relay.tls_private_key;
  if (!reload_tls_ || !now.tls_certificate) {
    // No TLS listener to give it to, or none to take it away from: the
    // listeners follow the certificate at the next start.
    if (changed) out.needs_restart.push_back("relay.tls_certificate");
    return;
  }
  if (auto loaded = reload_tls_(now); !loaded) {
    out.refused.push_back(loaded.error());
    return;
  }
  running_.relay.tls_certificate = now.tls_certificate;
  running_.relay.tls_private_key = now.tls_private_key;
  out.applied.push_back("tls_certificate");  // for new connections
}

ReloadOutcome LiveConfig::reload(Instant now) {
  ReloadOutcome out;
  auto fresh = load_();
  if (!fresh) {
    out.error = fresh.error().message;
    log::warn(kTarget, "the configuration does not load: keeping the running one", {{"error", out.error}});
    return out;
  }
  out.loaded = true;
  const auto before = effective_settings(running_, true);
  const auto after = effective_settings(fresh.value(), true);
  for (size_t i = 0; i < before.size(); ++i)
    if (before[i].value != after[i].value && !is_live_key(before[i].key)) out.needs_restart.push_back(before[i].key);

  auto next = live_server_config(server_.config(), fresh.value());
  if (next) {
    const core::ReconfigureReport r = server_.reconfigure(next.value(), now);
    running_.quotas = fresh->quotas;
    running_.relay.peer_allow = fresh->relay.peer_allow;
    running_.relay.peer_deny = fresh->relay.peer_deny;
    running_.relay.deny_on_link = fresh->relay.deny_on_link;
    if (!fresh->relay.auth.secrets.empty()) {
      running_.relay.auth.secrets = fresh->relay.auth.secrets;
      running_.relay.auth_secret_file = fresh->relay.auth_secret_file;
    }
    if (r.quotas_changed) out.applied.push_back("quotas");
    if (r.peer_policy_changed) out.applied.push_back("peer_policy");
    if (r.secrets_changed) out.applied.push_back("secrets");
    out.channels_revoked = r.channels_revoked;
    out.permissions_revoked = r.permissions_revoked;
    if (r.secrets_changed && portal_ != nullptr)
      log::warn(kTarget, "the portal keeps minting with the first secret it was told at start until a restart");
  } else {
    out.refused.push_back("quotas, peer policy and secrets: " + next.error());
  }

  if (running_.relay.auth.scheme == AuthScheme::Static) {
    RelaySection relay = running_.relay;  // the realm is not live
    relay.auth.users_file = fresh->relay.auth.users_file;
    if (auto users = load_static_users(relay)) {
      server_.set_static_users(std::move(users.value()));
      running_.relay.auth.users_file = fresh->relay.auth.users_file;
      out.applied.push_back("users_file");
    } else {
      out.refused.push_back(users.error());
    }
  }
  if (portal_ != nullptr && fresh->portal.token != running_.portal.token) {
    portal_->set_token(fresh->portal.token.value_or(""));
    running_.portal.token = fresh->portal.token;
    out.applied.push_back("portal_token");  // from the next connection on
  }

  reload_tls(fresh.value(), out);

  out.applied.push_back("log");
  // Said before the new level applies, so that raising it hides nothing.
  auto report = out.refused.empty() ? &log::info : &log::warn;
  report(kTarget, "applied the live keys; the others wait for a restart",
         {{"log_level", log::to_string(fresh->log.level)},
          {"quotas", next ? "applied" : "refused"},
          {"applied", joined(out.applied)},
          {"refused", joined(out.refused)},
          {"needs_restart", joined(out.needs_restart)},
          {"channels_revoked", out.channels_revoked},
          {"permissions_revoked", out.permissions_revoked}});
  running_.log = fresh->log;
  configure_logger(fresh->log);
  return out;
}

}  // namespace relay::process
