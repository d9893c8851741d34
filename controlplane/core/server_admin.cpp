// What the operator does to a running Server (relayctl, SIGHUP): list and
// end allocations, drain, reload the live keys, mint a test credential.
#include <algorithm>
#include <cassert>

#include "controlplane/core/server.hpp"

namespace relay::core {

std::vector<AllocationView> Server::allocations() const {
  std::vector<AllocationView> out;
  out.reserve(allocations_.size());
  for (const auto& [client, a] : allocations_) {
    AllocationView v{a.port, a.client, a.relay_v4, a.relay_v6, a.expiry, a.owner ? *a.owner->user : std::string()};
    v.channels = static_cast<uint32_t>(std::count_if(a.channels.begin(), a.channels.end(),
                                                     [](const Channel& c) { return c.bound; }));
    v.permissions = static_cast<uint32_t>(a.permissions.size());
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const AllocationView& x, const AllocationView& y) { return x.port.value < y.port.value; });
  return out;
}

bool Server::end_allocation(AllocationPort port, Instant now) {
  Allocation* a = allocations_.at(port.value);
  if (!a) return false;
  free_allocation(*a, now);
  ++stats_.allocations_ended;
  return true;
}

bool Server::end_client(const ClientFiveTuple& client, Instant now) {
  Allocation* a = allocations_.of(client);
  if (a == nullptr) return false;
  free_allocation(*a, now);  // not allocations_ended: that counts the operator's
  return true;
}

void Server::drain(std::optional<Instant> deadline) {
  timers_.cancel(drain_.timer);
  drain_ = DrainState{true, deadline, kNoTimer};
  if (deadline) drain_.timer = timers_.schedule(*deadline, TimerKey{TimerKind::Drain});
}

void Server::stop_draining() {
  timers_.cancel(drain_.timer);
  drain_ = DrainState{};
}

void Server::on_drain_deadline() {
  drain_.timer = kNoTimer;  // popped already
  const Instant deadline = *drain_.deadline;
  std::vector<AllocationPort> ports;
  ports.reserve(allocations_.size());
  for (const auto& [client, a] : allocations_) ports.push_back(a.port);
  for (AllocationPort port : ports) end_allocation(port, deadline);
}

std::optional<MintedCredential> Server::mint_credential(std::string_view user, uint64_t expiry_unix_seconds) const {
  if (config_.auth_scheme == AuthScheme::Static || config_.auth_secrets.empty()) return std::nullopt;
  MintedCredential c;
  c.username = std::to_string(expiry_unix_seconds) + ":" + std::string(user);
  const std::string& secret = config_.auth_secrets.front();
  c.password = config_.auth_scheme == AuthScheme::Rest ? stun::rest_password(secret, c.username)
                                                       : stun::mint_password(secret, expiry_unix_seconds, user);
  return c;
}

ReconfigureReport Server::reconfigure(const ServerConfig& next, Instant now) {
  assert(validate(next).ok());
  ReconfigureReport report;
  // The table totals never change while running (live_server_config).
  report.quotas_changed = static_cast<const QuotaLimits&>(config_.quotas) != next.quotas;
  config_.quotas = next.quotas;

  report.peer_policy_changed = config_.peer_allow != next.peer_allow || config_.peer_deny != next.peer_deny ||
                               config_.local_networks != next.local_networks;
  if (report.peer_policy_changed) {
    config_.peer_allow = next.peer_allow;
    config_.peer_deny = next.peer_deny;
    config_.local_networks = next.local_networks;
    policy_ = policy_for(config_);
    revoke_denied_peers(now, report);
  }

  report.secrets_changed = config_.auth_secrets != next.auth_secrets;
  if (report.secrets_changed) {
    config_.auth_secrets = next.auth_secrets;
    // Every key known so far was derived from some secret: derive again.
    keys_.clear();
    for (auto& [client, a] : allocations_)
      if (a.owner) a.owner->username_size = 0;  // no username is empty: key_is_for fails
  }
  return report;
}

void Server::revoke_denied_peers(Instant now, ReconfigureReport& report) {
  for (auto& entry : allocations_) {
    Allocation& a = entry.second;  // a structured binding cannot be captured below
    for (Channel& c : a.channels) {
      if (!c.bound || !check_peer(a, c.peer.value)) continue;
      unbind_channel(a, c, now);
      ++report.channels_revoked;
    }
    // A permission is for an IP, judged as CreatePermission judged it (see
    // restore_permission).
    const size_t removed = std::erase_if(a.permissions, [&](const Permission& p) {
      if (!check_peer(a, SocketAddress{p.peer, config_.allocation_ports.lowest})) return false;
      emit(RemovePermission{a.client, p.peer, *a.relay_for(p.peer.family)});
      return true;
    });
    permissions_counted_ -= removed;
    report.permissions_revoked += static_cast<uint32_t>(removed);
  }
  stats_.channels_revoked += report.channels_revoked;
  stats_.permissions_revoked += report.permissions_revoked;
}

}  // namespace relay::core
