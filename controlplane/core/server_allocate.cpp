// Allocate (RFC 8656 §7) and Refresh (RFC 8656 §8).
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

// Which relay families an Allocate asks for (RFC 8656 §7.2 steps on
// REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY), or an error code.
struct RequestedFamilies {
  RelayFamilies families;
  bool dual = false;  // both, through ADDITIONAL-ADDRESS-FAMILY: may be half served
};
Result<RequestedFamilies, uint16_t> requested_families(const stun::Message& msg, bool has_token) {
  auto requested = msg.requested_address_family();
  auto additional = msg.additional_address_family();
  if (!requested) {
    bool unknown = requested.error() == stun::AttributeError::UnknownFamily;
    return Err{unknown ? kAddressFamilyNotSupported : kBadRequest};
  }
  if (!additional) return Err{kBadRequest};
  if (*requested && (*additional || has_token)) return Err{kBadRequest};
  if (*additional && **additional != Family::V6) return Err{kBadRequest};
  if (*requested) return RequestedFamilies{{**requested == Family::V4, **requested == Family::V6}, false};
  return RequestedFamilies{{true, additional->has_value()}, additional->has_value()};
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
  if (q.allocations_total && allocations_.size() >= q.allocations_total)
    return reject(Quota::Total, kInsufficientCapacity);
  if (q.allocations_per_user && allocations_.charged_to(salt) >= q.allocations_per_user)
    return reject(Quota::PerUser, kAllocationQuotaReached);
  if (q.allocations_per_client_ip &&
      allocations_.charged_to_ip(r.client.client.value.ip) >= q.allocations_per_client_ip)
    return reject(Quota::PerClientIp, kAllocationQuotaReached);
  return std::nullopt;
}

void Server::handle_allocate(const Request& r, const Auth& auth) {
  // Retransmissions were answered from the response cache before this, so
  // an existing allocation means a second Allocate (RFC 8656 §7.2).
  if (r.allocation) return responder_.reply_error(r, kAllocationMismatch, &auth);
  auto transport = r.msg.requested_transport();
  if (!transport || !*transport) return responder_.reply_error(r, kBadRequest, &auth);
  if (**transport != stun::kTransportUdp) return responder_.reply_error(r, kUnsupportedTransportProtocol, &auth);
  auto even = r.msg.even_port();
  auto token = r.msg.reservation_token();
  auto lifetime = r.msg.lifetime();
  if (!even || !token || !lifetime || (*even && *token)) return responder_.reply_error(r, kBadRequest, &auth);
  auto families = requested_families(r.msg, token->has_value());
  if (!families) return responder_.reply_error(r, families.error(), &auth);
  const bool dual = families->dual;
  RelayFamilies want = families->families;
  // RFC 8656 §7.2: a dual request the relay can only half serve gets the
  // address it has and an ADDRESS-ERROR-CODE for the other family (IPv6
  // on an IPv4-only relay; IPv4 on an IPv6-only one, as Firezone's relay
  // answers connlib, which always asks for both).
  std::optional<Family> refused;
  if (dual && !config_.relay_v6) refused = Family::V6;
  if (dual && !config_.relay_v4) refused = Family::V4;
  if (refused == Family::V4) want.v4 = false;
  if (refused == Family::V6) want.v6 = false;
  if ((want.v4 && !config_.relay_v4) || (want.v6 && !config_.relay_v6))
    return responder_.reply_error(r, kAddressFamilyNotSupported, &auth);
  if (auto code = check_allocation_quota(r, auth.parts.user)) return responder_.reply_error(r, *code, &auth);
  auto grant = allocations_.acquire_port(r.now, *even, *token, want, rng_, timers_);
  if (!grant) {
    if (!*token) ++stats_.quota_rejections[static_cast<size_t>(Quota::Ports)];
    return responder_.reply_error(r, kInsufficientCapacity, &auth);
  }
  if (grant->reserved_families) want = *grant->reserved_families;
  Instant expiry = r.now + granted_lifetime(*lifetime, false);
  Allocation& a = create_allocation(grant->port, r.client, want.v4, want.v6, expiry, &auth);
  ++stats_.allocations_created;
  emit(creation_of(a));
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(a.expiry - r.now);
  responder_.respond(r, 0, &auth, [&](stun::Builder& b) {
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
  if (!lifetime || !family) return responder_.reply_error(r, kBadRequest, &auth);
  // RFC 8656 §8: a family the allocation does not have → 443.
  if (*family && !a->relay_for(**family)) return responder_.reply_error(r, kPeerAddressFamilyMismatch, &auth);
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
  responder_.respond(r, 0, &auth, [&](stun::Builder& b) { b.add_lifetime(seconds); },
                     deleting ? Remember::Yes : Remember::No);
}

void Server::assign_owner(Allocation& a, const Auth& auth) {
  allocations_.assign_owner(a, auth.parts.user, auth.key, auth.username, auth.parts.expiry_unix_seconds);
}

Allocation& Server::create_allocation(AllocationPort port, const ClientFiveTuple& client, bool v4, bool v6,
                                      Instant expiry, const Auth* owner) {
  std::optional<SocketAddress> relay_v4, relay_v6;
  if (v4) relay_v4 = SocketAddress{*config_.relay_v4, port.value};
  if (v6) relay_v6 = SocketAddress{*config_.relay_v6, port.value};
  Allocation& a = allocations_.create(port, client, relay_v4, relay_v6, expiry, timers_);
  if (owner) assign_owner(a, *owner);
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
  permissions_counted_ -= a.permissions.size();
  allocations_.remove(a, now, hold_until, timers_);  // `a` dies here
}

}  // namespace relay::core
