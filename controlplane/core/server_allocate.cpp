// Allocate (RFC 8656 §7) and Refresh (RFC 8656 §8).
#include <cstring>

#include "controlplane/core/server.hpp"

namespace relay::core {

namespace {
using stun::error_code::kAddressFamilyNotSupported;
using stun::error_code::kAllocationMismatch;
using stun::error_code::kAllocationQuotaReached;
using stun::error_code::kBadRequest;
using stun::error_code::kInsufficientCapacity;
using stun::error_code::kPeerAddressFamilyMismatch;
using stun::error_code::kUnsupportedTransportProtocol;

uint64_t token_value(const stun::ReservationToken& t) {
  uint64_t v;
  std::memcpy(&v, t.data(), sizeof v);
  return v;
}

// Which relay families an Allocate asks for (RFC 8656 §7.2 steps on
// REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY), or an error code.
struct Families {
  bool v4 = true;
  bool v6 = false;
  bool dual = false;
};
Result<Families, uint16_t> requested_families(const stun::Message& msg, bool has_token) {
  auto requested = msg.requested_address_family();
  auto additional = msg.additional_address_family();
  if (!requested) {
    bool unknown = requested.error() == stun::AttributeError::UnknownFamily;
    return Err{unknown ? kAddressFamilyNotSupported : kBadRequest};
  }
  if (!additional) return Err{kBadRequest};
  if (*requested && (*additional || has_token)) return Err{kBadRequest};
  if (*additional && **additional != Family::V6) return Err{kBadRequest};
  if (*requested) return Families{**requested == Family::V4, **requested == Family::V6, false};
  return Families{true, additional->has_value(), additional->has_value()};
}
}  // namespace

Duration Server::granted_lifetime(std::optional<std::chrono::seconds> requested, bool for_refresh) const {
  if (!requested) return config_.default_allocation_lifetime;
  // LIFETIME 0 deletes on Refresh (RFC 8656 §8); on Allocate it means
  // nothing useful, so it gets the default.
  if (*requested == Seconds{0} && !for_refresh) return config_.default_allocation_lifetime;
  return std::min<Duration>(*requested, config_.max_allocation_lifetime);
}

std::optional<uint16_t> Server::check_allocation_quota(const Request& r, std::string_view salt) {
  const Quotas& q = config_.quotas;
  auto reject = [&](Quota which, uint16_t code) {
    ++stats_.quota_rejections[static_cast<size_t>(which)];
    return code;
  };
  if (drain_.draining) return reject(Quota::Draining, kInsufficientCapacity);
  if (q.allocations_total && by_client_.size() >= q.allocations_total) return reject(Quota::Total, kInsufficientCapacity);
  if (q.allocations_per_user && charged_to(salt) >= q.allocations_per_user)
    return reject(Quota::PerUser, kAllocationQuotaReached);
  if (q.allocations_per_client_ip) {
    auto it = client_ips_.find(r.client.client.value.ip);
    if (it != client_ips_.end() && it->second >= q.allocations_per_client_ip)
      return reject(Quota::PerClientIp, kAllocationQuotaReached);
  }
  return std::nullopt;
}

std::optional<Server::PortGrant> Server::acquire_port(Instant now, const std::optional<stun::EvenPort>& even,
                                                      const std::optional<stun::ReservationToken>& token,
                                                      RelayFamilies families) {
  if (token) {
    // RFC 8656 §7.2: the port reserved by an earlier EVEN-PORT R=1.
    auto it = reservations_.find(token_value(*token));
    if (it == reservations_.end()) return std::nullopt;
    // RFC 8656 §7.2: the token names a relayed transport address, so the
    // allocation gets the family of the reservation (a request may not
    // carry REQUESTED-ADDRESS-FAMILY beside the token).
    PortGrant grant{it->second.port, std::nullopt, it->second.families};
    timers_.cancel(it->second.timer);
    reservations_.erase(it);
    return grant;
  }
  if (!even) {
    auto port = ports_.acquire(rng_);
    if (!port) return std::nullopt;
    return PortGrant{*port, std::nullopt, std::nullopt};
  }
  auto port = ports_.acquire_even(rng_, even->reserve_next);
  if (!port) return std::nullopt;
  if (!even->reserve_next) return PortGrant{*port, std::nullopt, std::nullopt};
  uint64_t value;
  do value = rng_.next_u64();
  while (reservations_.contains(value));
  TimerId timer = timers_.schedule(now + kReservationLifetime, TimerKey{TimerKind::Reservation, 0, 0, value});
  reservations_.emplace(value, Reservation{AllocationPort{static_cast<uint16_t>(port->value + 1)}, timer, families});
  stun::ReservationToken wire;
  std::memcpy(wire.data(), &value, sizeof value);
  return PortGrant{*port, wire, std::nullopt};
}

void Server::handle_allocate(const Request& r, const Auth& auth) {
  // Retransmissions were answered from the response cache before this, so
  // an existing allocation means a second Allocate (RFC 8656 §7.2).
  if (r.allocation) return reply_error(r, kAllocationMismatch, &auth);
  auto transport = r.msg.requested_transport();
  if (!transport || !*transport) return reply_error(r, kBadRequest, &auth);
  if (**transport != stun::kTransportUdp) return reply_error(r, kUnsupportedTransportProtocol, &auth);
  auto even = r.msg.even_port();
  auto token = r.msg.reservation_token();
  auto lifetime = r.msg.lifetime();
  if (!even || !token || !lifetime || (*even && *token)) return reply_error(r, kBadRequest, &auth);
  auto families = requested_families(r.msg, token->has_value());
  if (!families) return reply_error(r, families.error(), &auth);
  Families want = *families;
  // RFC 8656 §7.2: a dual request the relay can only half serve gets the
  // address it has and an ADDRESS-ERROR-CODE for the other family (IPv6
  // on an IPv4-only relay; IPv4 on an IPv6-only one, as Firezone's relay
  // answers connlib, which always asks for both).
  std::optional<Family> refused;
  if (want.dual && !config_.relay_v6) refused = Family::V6;
  if (want.dual && !config_.relay_v4) refused = Family::V4;
  if (refused == Family::V4) want.v4 = false;
  if (refused == Family::V6) want.v6 = false;
  if ((want.v4 && !config_.relay_v4) || (want.v6 && !config_.relay_v6))
    return reply_error(r, kAddressFamilyNotSupported, &auth);
  if (auto code = check_allocation_quota(r, auth.parts.user)) return reply_error(r, *code, &auth);
  auto grant = acquire_port(r.now, *even, *token, RelayFamilies{want.v4, want.v6});
  if (!grant) {
    if (!*token) ++stats_.quota_rejections[static_cast<size_t>(Quota::Ports)];
    return reply_error(r, kInsufficientCapacity, &auth);
  }
  if (grant->reserved_families) {
    want.v4 = grant->reserved_families->v4;
    want.v6 = grant->reserved_families->v6;
  }
  Instant expiry = r.now + granted_lifetime(*lifetime, false);
  Allocation& a = create_allocation(grant->port, r.client, want.v4, want.v6, expiry, &auth);
  ++stats_.allocations_created;
  emit(creation_of(a));
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(a.expiry - r.now);
  respond(r, 0, &auth, [&](stun::Builder& b) {
    if (a.relay_v4) b.add_xor_relayed_address({config_.advertised_v4.value_or(a.relay_v4->ip), a.relay_v4->port});
    if (a.relay_v6) b.add_xor_relayed_address({config_.advertised_v6.value_or(a.relay_v6->ip), a.relay_v6->port});
    if (refused) b.add_address_error_code(*refused, kAddressFamilyNotSupported);
    b.add_lifetime(seconds);
    if (grant->reserved_next) b.add_reservation_token(*grant->reserved_next);
    b.add_xor_mapped_address(r.client.client.value);
  }, Remember::Yes);
}

void Server::handle_refresh(const Request& r, const Auth& auth) {
  Allocation* a = owned_allocation(r, auth);
  if (!a) return;
  auto lifetime = r.msg.lifetime();
  auto family = r.msg.requested_address_family();
  if (!lifetime || !family) return reply_error(r, kBadRequest, &auth);
  // RFC 8656 §8: a family the allocation does not have → 443.
  if (*family && !a->relay_for(**family)) return reply_error(r, kPeerAddressFamilyMismatch, &auth);
  Duration granted = granted_lifetime(*lifetime, true);
  bool deleting = granted == Duration{0};
  if (deleting) {
    free_allocation(*a, r.now);
    ++stats_.allocations_deleted;
  } else {
    Instant expiry = r.now + granted;
    timers_.move(a->timer, expiry);
    a->expiry = expiry;
    emit(UpdateAllocation{a->port, expiry});
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(granted);
  respond(r, 0, &auth, [&](stun::Builder& b) { b.add_lifetime(seconds); }, deleting ? Remember::Yes : Remember::No);
}

void Server::assign_owner(Allocation& a, const Auth& auth) {
  auto it = users_.find(auth.parts.user);
  if (it == users_.end())
    it = users_.emplace(std::string(auth.parts.user), UserCharge{0, owner_id_of(auth.parts.user)}).first;
  ++it->second.allocations;
  a.owner = Owner{&it->first, auth.key, static_cast<uint16_t>(auth.username.size()), auth.parts.expiry_unix_seconds};
  a.owner_id = it->second.id;
}

uint32_t Server::charged_to(std::string_view salt) const {
  const auto user = users_.find(salt);
  uint32_t charged = user == users_.end() ? 0 : user->second.allocations;
  // Hashing the salt is paid only while restored allocations wait for their owners.
  if (!unclaimed_.empty()) {
    const OwnerId id = user == users_.end() ? owner_id_of(salt) : user->second.id;
    if (const auto restored = unclaimed_.find(id.value); restored != unclaimed_.end()) charged += restored->second;
  }
  return charged;
}

void Server::release_charge(const std::string* user, OwnerId id, const IpAddress& client_ip) {
  if (user) {
    if (auto it = users_.find(*user); it != users_.end() && --it->second.allocations == 0) users_.erase(it);
  } else if (auto it = unclaimed_.find(id.value); it != unclaimed_.end() && --it->second == 0) {
    unclaimed_.erase(it);
  }
  if (auto ip = client_ips_.find(client_ip); ip != client_ips_.end() && --ip->second == 0) client_ips_.erase(ip);
}

Allocation& Server::create_allocation(AllocationPort port, const ClientFiveTuple& client, bool v4, bool v6,
                                      Instant expiry, const Auth* owner) {
  Allocation& a = by_client_[client];
  port_slot(port) = &a;
  a.port = port;
  a.client = client;
  if (v4) a.relay_v4 = SocketAddress{*config_.relay_v4, port.value};
  if (v6) a.relay_v6 = SocketAddress{*config_.relay_v6, port.value};
  a.expiry = expiry;
  if (owner) assign_owner(a, *owner);
  ++client_ips_[client.client.value.ip];
  a.timer = timers_.schedule(expiry, TimerKey{TimerKind::Allocation, port.value});
  stats_.active_allocations_v4 += v4;
  stats_.active_allocations_v6 += v6;
  return a;
}

void Server::free_allocation(Allocation& a, Instant now) {
  // RFC 8656 §12: numbers and peers stay reserved 5 minutes after a binding
  // ends; holding the port as long keeps a late datagram from its peers
  // from reaching the port's next owner.
  Instant hold_until = now;
  for (const Channel& c : a.channels) {
    timers_.cancel(c.timer);
    if (c.bound) {
      emit(RemoveChannel{a.client, c.number, c.peer, *a.relay_for(c.peer.value.family())});
      --stats_.active_channels;
      hold_until = std::max(hold_until, now + kChannelCooldown);
    } else {
      hold_until = std::max(hold_until, c.deadline);
    }
  }
  timers_.cancel(a.timer);
  emit(FreeAllocation{a.port});
  stats_.active_allocations_v4 -= a.relay_v4.has_value();
  stats_.active_allocations_v6 -= a.relay_v6.has_value();
  permissions_counted_ -= a.permissions.size();
  if (hold_until > now) {
    hold_port(a, hold_until);  // the charges go with the hold
  } else {
    ports_.release(a.port);
    release_charge(a.owner ? a.owner->user : nullptr, a.owner_id, a.client.client.value.ip);
  }
  port_slot(a.port) = nullptr;
  ClientFiveTuple key = a.client;
  by_client_.erase(key);  // `a` dies here
}

}  // namespace relay::core
