// Server lifecycle, input dispatch and state rebuild.
#include "controlplane/core/server.hpp"

#include <cassert>

namespace relay::core {

namespace {
bool is_turn_method(stun::Method m) {
  return m == stun::Method::Allocate || m == stun::Method::Refresh || m == stun::Method::ChannelBind ||
         m == stun::Method::CreatePermission;
}
}  // namespace

std::string_view to_string(RestoreError e) {
  switch (e) {
    case RestoreError::Expired: return "expired";
    case RestoreError::PortOutOfRange: return "port_out_of_range";
    case RestoreError::PortTaken: return "port_taken";
    case RestoreError::ClientHasAllocation: return "client_has_allocation";
    case RestoreError::RelayMismatch: return "relay_mismatch";
    case RestoreError::NoAllocation: return "no_allocation";
    case RestoreError::InvalidChannel: return "invalid_channel";
    case RestoreError::ChannelConflict: return "channel_conflict";
    case RestoreError::PeerDenied: return "peer_denied";
  }
  return "unknown";
}

Server::Server(ServerConfig config, std::optional<uint64_t> rng_seed)
    : config_(std::move(config)),
      rng_(rng_seed),
      ready_(!config_.has_portal),
      policy_(policy_for(config_)),
      nonces_(config_.nonce_capacity, config_.nonce_uses),
      keys_(config_.key_cache_capacity) {
  assert(validate(config_).ok());
}

PeerPolicy Server::policy_for(const ServerConfig& c) {
  // Ours: the interface addresses and, behind a NAT, the public ones, which
  // a hairpinning NAT would bring back to us.
  std::vector<IpAddress> relay_addresses;
  for (const auto& a : {c.relay_v4, c.relay_v6, c.advertised_v4, c.advertised_v6})
    if (a) relay_addresses.push_back(*a);
  return PeerPolicy(std::move(relay_addresses), c.allocation_ports, c.peer_allow, c.peer_deny, c.local_networks);
}

void Server::set_wall_clock(Instant now, std::chrono::seconds unix_time) {
  unix_offset_ = unix_time - std::chrono::duration_cast<std::chrono::seconds>(now.since_boot);
}

void Server::handle_portal_init() { ready_ = true; }

std::optional<Command> Server::next_command() { return responder_.next_command(); }

void Server::handle_timeout(Instant now) {
  run_timers(now);
  responder_.expire(now);
}

void Server::handle_client_input(std::span<const uint8_t> bytes, ClientSocket from, ListenSocket to, Instant now,
                                 Transport transport) {
  // Due expiries first, so a request never sees (or a command never names)
  // an entry whose time has passed.
  handle_timeout(now);
  const ClientFiveTuple client{from, to, transport};
  // Before the portal's init only what the relay already holds is served:
  // the allocations a restarted control plane adopted keep refreshing.
  Allocation* allocation = allocations_.of(client);
  if (!ready_ && allocation == nullptr) return drop(DropReason::NotReady);
  if (!looks_like_stun(bytes)) return drop(DropReason::NotStun);
  auto parsed = stun::parse(bytes);
  if (!parsed) {
    bool crc = parsed.error().error == stun::ParseError::FingerprintMismatch;
    return drop(crc ? DropReason::BadFingerprint : DropReason::Malformed);
  }
  const stun::Message& msg = *parsed;
  switch (msg.message_class()) {
    case stun::MessageClass::Request: break;
    case stun::MessageClass::Indication:
      // RFC 8656 §11: Send indications would relay without a channel; this
      // relay forwards channels only, so they are dropped (and counted).
      return drop(msg.method() == stun::Method::Send ? DropReason::SendIndication : DropReason::IndicationFromClient);
    default: return drop(DropReason::ResponseFromClient);
  }
  Request r{msg, client, now, allocation};
  // Only these outcomes are remembered (see Remember): a successful
  // Allocate, and a Refresh that deleted, whose 5-tuple has no allocation
  // any more; so a live allocation's Refresh skips the lookup. Both were
  // authenticated, and a retransmission carries the same MESSAGE-INTEGRITY,
  // so a request without one (every client's first Allocate) skips it too.
  bool may_be_cached = msg.has_message_integrity() &&
                       (msg.method() == stun::Method::Allocate ||
                        (msg.method() == stun::Method::Refresh && r.allocation == nullptr));
  if (may_be_cached && responder_.resend_remembered(r.client, msg.transaction_id())) {
    ++stats_.retransmissions;
    return;
  }
  handle_request(r);
}

void Server::handle_request(const Request& r) {
  // RFC 8489 §6.3.1.1: unknown comprehension-required attributes → 420.
  if (auto unknown = r.msg.unknown_comprehension_required(); !unknown.empty()) {
    responder_.respond(r, stun::error_code::kUnknownAttribute, nullptr,
            [&](stun::Builder& b) { b.add_unknown_attributes(unknown.view()); });
    return;
  }
  stun::Method method = r.msg.method();
  if (method == stun::Method::Binding) {
    // RFC 8489 §6.3.1.1: the reflexive address, no authentication.
    responder_.respond(r, 0, nullptr, [&](stun::Builder& b) { b.add_xor_mapped_address(r.client.client.value); });
    return;
  }
  if (!is_turn_method(method)) return responder_.reply_error(r, stun::error_code::kBadRequest, nullptr);
  auto auth = authenticate(r);
  if (!auth) return;
  switch (method) {
    case stun::Method::Allocate: return handle_allocate(r, *auth);
    case stun::Method::Refresh: return handle_refresh(r, *auth);
    case stun::Method::ChannelBind: return handle_channel_bind(r, *auth);
    default: return handle_create_permission(r, *auth);
  }
}

std::optional<RestoreError> Server::restore_allocation(const CreateAllocation& c, Instant now) {
  if (c.expiry <= now) return RestoreError::Expired;
  if (!allocations_.in_range(c.port.value)) return RestoreError::PortOutOfRange;
  auto ours = [&](const std::optional<SocketAddress>& relay, const std::optional<IpAddress>& configured) {
    return !relay || (configured && relay->ip == *configured && relay->port == c.port.value);
  };
  if ((!c.relay_v4 && !c.relay_v6) || !ours(c.relay_v4, config_.relay_v4) || !ours(c.relay_v6, config_.relay_v6))
    return RestoreError::RelayMismatch;
  if (allocations_.contains(c.client)) return RestoreError::ClientHasAllocation;
  if (!allocations_.take_port(c.port)) return RestoreError::PortTaken;
  Instant expiry = std::min(c.expiry, now + config_.max_allocation_lifetime);
  Allocation& a = create_allocation(c.port, c.client, c.relay_v4.has_value(), c.relay_v6.has_value(), expiry, nullptr);
  // Charged to its owner at once (whose next Allocate sees it in its quota);
  // only a request of that owner claims it (owned_allocation).
  allocations_.charge_unclaimed(a, c.owner);
  ++stats_.allocations_restored;
  return std::nullopt;
}

std::optional<RestoreError> Server::restore_channel(const InstallChannel& c, Instant now) {
  if (c.expiry <= now) return RestoreError::Expired;
  if (!is_valid_channel(c.channel.value)) return RestoreError::InvalidChannel;
  Allocation* found = allocations_.of(c.client);
  if (!found) return RestoreError::NoAllocation;
  Allocation& a = *found;
  const auto& relay = a.relay_for(c.peer.value.family());
  if (!relay || *relay != c.relay) return RestoreError::RelayMismatch;
  Channel* by_number = a.channel_by_number(c.channel);
  if (by_number != a.channel_by_peer(c.peer)) return RestoreError::ChannelConflict;
  if (check_peer(a, c.peer.value)) return RestoreError::PeerDenied;
  bind_channel(a, by_number, c.channel, c.peer, std::min(c.expiry, now + config_.channel_lifetime));
  grant_permission(a, c.peer.value.ip, now, now + config_.permission_lifetime, false);
  return std::nullopt;
}

std::optional<RestoreError> Server::restore_permission(const InstallPermission& p, Instant now) {
  if (p.expiry <= now) return RestoreError::Expired;
  Allocation* a = allocations_.of(p.client);
  if (!a) return RestoreError::NoAllocation;
  const auto& relay = a->relay_for(p.peer.family);
  if (!relay || *relay != p.relay) return RestoreError::RelayMismatch;
  // The policy judges a socket; a permission is for an IP, judged as
  // CreatePermission judged it (at the port it named, any allocation port
  // standing in for the relay's own addresses).
  if (check_peer(*a, SocketAddress{p.peer, config_.allocation_ports.lowest})) return RestoreError::PeerDenied;
  grant_permission(*a, p.peer, now, std::min(p.expiry, now + config_.permission_lifetime), false);
  return std::nullopt;
}

CreateAllocation Server::creation_of(const Allocation& a) {
  return CreateAllocation{a.port, a.relay_v4, a.relay_v6, a.client, a.expiry, a.owner_id};
}

InstallChannel Server::installation_of(const Allocation& a, const Channel& c) {
  return InstallChannel{a.client, c.number, c.peer, *a.relay_for(c.peer.value.family()), c.deadline};
}

InstallPermission Server::permission_of(const Allocation& a, const Permission& p) {
  return InstallPermission{a.client, p.peer, *a.relay_for(p.peer.family), p.expiry};
}

std::vector<Command> Server::replica_of(AllocationPort port, Instant now) const {
  const Allocation* a = allocations_.at(port.value);
  if (a == nullptr) return {FreeAllocation{port}};
  std::vector<Command> commands;
  commands.reserve(1 + a->channels.size() + a->permissions.size());
  commands.emplace_back(creation_of(*a));
  for (const Channel& c : a->channels)
    if (c.bound) commands.emplace_back(installation_of(*a, c));
  for (const Permission& p : a->permissions)
    if (p.expiry > now) commands.emplace_back(permission_of(*a, p));
  return commands;
}

}  // namespace relay::core
