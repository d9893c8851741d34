// ChannelBind (RFC 8656 §11) and CreatePermission (RFC 8656 §9).
#include <algorithm>

#include "controlplane/core/server.hpp"

namespace relay::core {

namespace {
using stun::error_code::kBadRequest;
using stun::error_code::kForbidden;
using stun::error_code::kInsufficientCapacity;
using stun::error_code::kPeerAddressFamilyMismatch;
}  // namespace

std::optional<uint16_t> Server::check_peer(const Allocation& a, const SocketAddress& peer) const {
  if (!a.relay_for(peer.family())) return kPeerAddressFamilyMismatch;  // RFC 8656 §9.1, §11.2
  if (policy_.check(peer) == PeerVerdict::Deny) return kForbidden;     // RFC 8656 §21.4
  return std::nullopt;
}

const Permission* Server::grant_permission(Allocation& a, const IpAddress& peer, Instant now, Instant expiry,
                                           bool enforce_quota) {
  auto it = std::find_if(a.permissions.begin(), a.permissions.end(),
                         [&](const Permission& p) { return same_ip(p.peer, peer); });
  if (it != a.permissions.end()) {
    it->expiry = expiry;
    return &*it;
  }
  forget_expired_permissions(a, now);
  uint32_t limit = config_.quotas.permissions_per_allocation;
  if (enforce_quota && limit && a.permissions.size() >= limit) return nullptr;
  a.permissions.push_back({peer, expiry});
  ++permissions_counted_;
  ++stats_.permissions_created;
  return &a.permissions.back();
}

void Server::forget_expired_permissions(Allocation& a, Instant now) {
  // The data plane's entries expire by themselves (ring_abi
  // InstallPermission), so these expire lazily here instead of through a timer.
  permissions_counted_ -= std::erase_if(a.permissions, [&](const Permission& p) { return p.expiry <= now; });
}

bool Server::permission_room(size_t wanted, Instant now) {
  const uint32_t total = config_.quotas.permissions_total;
  if (total == 0 || permissions_counted_ + wanted <= total) return true;
  // Expired permissions linger until their allocation adds one. At the cap
  // they are looked for in every allocation, at most once a second (as
  // often as the data plane sweeps its tables), so that a flood of refused
  // requests does not walk them all each time.
  if (!last_reclaim_ || now - *last_reclaim_ >= std::chrono::seconds(1)) {
    last_reclaim_ = now;
    for (auto& [client, a] : allocations_) forget_expired_permissions(a, now);
  }
  return permissions_counted_ + wanted <= total;
}

void Server::announce_permission(const Allocation& a, const Permission& p) { emit(permission_of(a, p)); }

Channel& Server::bind_channel(Allocation& a, Channel* existing, ChannelNumber number, const PeerSocket& peer,
                              Instant deadline) {
  if (!existing) {
    TimerId timer = timers_.schedule(deadline, TimerKey{TimerKind::Channel, a.port.value, number.value});
    a.channels.push_back({number, peer, deadline, timer, false});
    existing = &a.channels.back();
  } else {
    timers_.move(existing->timer, deadline);
    existing->deadline = deadline;
  }
  if (!existing->bound) {
    existing->bound = true;
    ++stats_.active_channels;
    ++stats_.channels_bound;
  }
  return *existing;
}

void Server::handle_channel_bind(const Request& r, const Auth& auth) {
  Allocation* a = owned_allocation(r, auth);
  if (!a) return;
  auto number = r.msg.channel_number();
  auto peers = r.msg.xor_peer_addresses();
  if (!number || !*number || !peers || peers->size() != 1) return responder_.reply_error(r, kBadRequest, &auth);
  ChannelNumber channel = **number;
  if (!is_valid_channel(channel.value)) return responder_.reply_error(r, kBadRequest, &auth);  // RFC 8656 §11.2
  PeerSocket peer{(*peers)[0]};
  if (auto code = check_peer(*a, peer.value)) return responder_.reply_error(r, *code, &auth);
  // RFC 8656 §11.2: one number ↔ one peer, also during the 5-minute
  // cool-down after expiry; re-binding the same pair refreshes it.
  Channel* existing = a->channel_by_number(channel);
  if (existing != a->channel_by_peer(peer)) return responder_.reply_error(r, kBadRequest, &auth);
  auto refuse = [&](Quota which) {
    ++stats_.quota_rejections[static_cast<size_t>(which)];
    responder_.reply_error(r, kInsufficientCapacity, &auth);
  };
  uint32_t limit = config_.quotas.channels_per_allocation;
  if (!existing && limit && a->channels.size() >= limit) return refuse(Quota::Channels);
  // A new or revived binding takes a slot of the data plane's channel
  // table; a peer IP the allocation has no permission entry for, one of
  // its permission table (an expired entry is refreshed in place).
  const uint32_t channels_total = config_.quotas.channels_total;
  if ((!existing || !existing->bound) && channels_total && stats_.active_channels >= channels_total)
    return refuse(Quota::ChannelTable);
  const bool new_permission = std::none_of(a->permissions.begin(), a->permissions.end(),
                                           [&](const Permission& p) { return same_ip(p.peer, peer.value.ip); });
  if (new_permission && !permission_room(1, r.now)) return refuse(Quota::PermissionTable);
  Instant deadline = r.now + config_.channel_lifetime;
  const Channel& bound = bind_channel(*a, existing, channel, peer, deadline);
  // RFC 8656 §11.2: a binding installs or refreshes the peer's permission.
  const Permission* implied =
      grant_permission(*a, peer.value.ip, r.now, r.now + config_.permission_lifetime, false);
  emit(installation_of(*a, bound));
  announce_permission(*a, *implied);
  responder_.respond_installed(r, auth);
}

void Server::handle_create_permission(const Request& r, const Auth& auth) {
  Allocation* a = owned_allocation(r, auth);
  if (!a) return;
  auto peers = r.msg.xor_peer_addresses();
  if (!peers || peers->empty()) return responder_.reply_error(r, kBadRequest, &auth);
  // RFC 8656 §9.2: all peers are acceptable or none is installed.
  for (const SocketAddress& peer : *peers)
    if (auto code = check_peer(*a, peer)) return responder_.reply_error(r, *code, &auth);
  size_t fresh = 0;
  for (const SocketAddress& peer : *peers)
    fresh += std::none_of(a->permissions.begin(), a->permissions.end(),
                          [&](const Permission& p) { return same_ip(p.peer, peer.ip) && p.expiry > r.now; });
  forget_expired_permissions(*a, r.now);
  uint32_t limit = config_.quotas.permissions_per_allocation;
  if (limit && a->permissions.size() + fresh > limit) {
    ++stats_.quota_rejections[static_cast<size_t>(Quota::Permissions)];
    return responder_.reply_error(r, kInsufficientCapacity, &auth);
  }
  if (!permission_room(fresh, r.now)) {
    ++stats_.quota_rejections[static_cast<size_t>(Quota::PermissionTable)];
    return responder_.reply_error(r, kInsufficientCapacity, &auth);
  }
  const Instant expiry = r.now + config_.permission_lifetime;
  for (const SocketAddress& peer : *peers) announce_permission(*a, *grant_permission(*a, peer.ip, r.now, expiry, false));
  responder_.respond_installed(r, auth);
}

void Server::undo_install(const Command& install) {
  if (const auto* c = std::get_if<InstallChannel>(&install)) {
    Allocation* a = allocations_.of(c->client);
    const Channel* ch = a ? a->channel_by_number(c->channel) : nullptr;
    if (!ch || !ch->bound || !same_socket(ch->peer.value, c->peer.value)) return;
    emit(RemoveChannel{a->client, ch->number, ch->peer, c->relay});
    timers_.cancel(ch->timer);
    std::erase_if(a->channels, [&](const Channel& x) { return x.number == c->channel; });
    --stats_.active_channels;
    ++stats_.quota_rejections[static_cast<size_t>(Quota::ChannelTable)];
  } else if (const auto* p = std::get_if<InstallPermission>(&install)) {
    Allocation* a = allocations_.of(p->client);
    if (!a) return;
    const size_t removed = std::erase_if(a->permissions, [&](const Permission& q) { return same_ip(q.peer, p->peer); });
    if (removed == 0) return;
    permissions_counted_ -= removed;
    emit(RemovePermission{a->client, p->peer, p->relay});
    ++stats_.quota_rejections[static_cast<size_t>(Quota::PermissionTable)];
  }
}

}  // namespace relay::core
