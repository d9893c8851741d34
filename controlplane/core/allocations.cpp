// Allocation bookkeeping: indexes, ports, reservations (RFC 8656 §7.2),
// port holds (RFC 8656 §12) and the charges against allocation quotas.
#include "controlplane/core/allocations.hpp"

#include <cstring>

namespace relay::core {

namespace {
uint64_t token_value(const stun::ReservationToken& t) {
  uint64_t v;
  std::memcpy(&v, t.data(), sizeof v);
  return v;
}
}  // namespace

Allocations::Allocations(PortRange ports)
    : port_min_(ports.lowest), ports_(ports.lowest, ports.highest), by_port_(ports.highest - ports.lowest + 1u, nullptr) {}

std::optional<PortGrant> Allocations::acquire_port(Instant now, const std::optional<stun::EvenPort>& even,
                                                   const std::optional<stun::ReservationToken>& token,
                                                   RelayFamilies families, Rng& rng, TimerQueue& timers) {
  if (token) {
    // RFC 8656 §7.2: the port reserved by an earlier EVEN-PORT R=1.
    auto it = reservations_.find(token_value(*token));
    if (it == reservations_.end()) return std::nullopt;
    // RFC 8656 §7.2: the token names a relayed transport address, so the
    // allocation gets the family of the reservation (a request may not
    // carry REQUESTED-ADDRESS-FAMILY beside the token).
    PortGrant grant{it->second.port, std::nullopt, it->second.families};
    timers.cancel(it->second.timer);
    reservations_.erase(it);
    return grant;
  }
  if (!even) {
    auto port = ports_.acquire(rng);
    if (!port) return std::nullopt;
    return PortGrant{*port, std::nullopt, std::nullopt};
  }
  auto port = ports_.acquire_even(rng, even->reserve_next);
  if (!port) return std::nullopt;
  if (!even->reserve_next) return PortGrant{*port, std::nullopt, std::nullopt};
  uint64_t value;
  do value = rng.next_u64();
  while (reservations_.contains(value));
  TimerId timer = timers.schedule(now + kReservationLifetime, TimerKey{TimerKind::Reservation, 0, 0, value});
  reservations_.emplace(value, Reservation{AllocationPort{static_cast<uint16_t>(port->value + 1)}, timer, families});
  stun::ReservationToken wire;
  std::memcpy(wire.data(), &value, sizeof value);
  return PortGrant{*port, wire, std::nullopt};
}

void Allocations::end_reservation(uint64_t token) {
  auto it = reservations_.find(token);
  if (it == reservations_.end()) return;
  ports_.release(it->second.port);
  reservations_.erase(it);
}

Allocation& Allocations::create(AllocationPort port, const ClientFiveTuple& client,
                                std::optional<SocketAddress> relay_v4, std::optional<SocketAddress> relay_v6,
                                Instant expiry, TimerQueue& timers) {
  Allocation& a = by_client_[client];
  by_port_[port.value - port_min_] = &a;
  a.port = port;
  a.client = client;
  a.relay_v4 = relay_v4;
  a.relay_v6 = relay_v6;
  a.expiry = expiry;
  ++client_ips_[client.client.value.ip];
  a.timer = timers.schedule(expiry, TimerKey{TimerKind::Allocation, port.value});
  counts_.allocations_v4 += relay_v4.has_value();
  counts_.allocations_v6 += relay_v6.has_value();
  return a;
}

void Allocations::remove(Allocation& a, Instant now, Instant hold_until, TimerQueue& timers) {
  counts_.allocations_v4 -= a.relay_v4.has_value();
  counts_.allocations_v6 -= a.relay_v6.has_value();
  if (hold_until > now) {
    hold_port(a, hold_until, timers);  // the charges go with the hold
  } else {
    ports_.release(a.port);
    release_charge(a.owner ? a.owner->user : nullptr, a.owner_id, a.client.client.value.ip);
  }
  by_port_[a.port.value - port_min_] = nullptr;
  ClientFiveTuple key = a.client;
  by_client_.erase(key);  // `a` dies here
}

void Allocations::hold_port(const Allocation& a, Instant until, TimerQueue& timers) {
  // Holds are charged to their users, but users are cheap to come by, so at
  // most half the range is held and the other half always allocatable.
  // Past that, the oldest hold ends early rather than this one not
  // beginning: a port just freed is the likeliest to still draw its peers'
  // late datagrams, the oldest has served most of its 5 minutes. Ending one
  // early is cheap anyway: FreeAllocation retired the old allocation's
  // channels and permissions in the data plane (the generation moved on),
  // so a late datagram reaches a next owner only if it permitted that very
  // peer itself.
  const size_t cap = by_port_.size() / 2;
  const std::string* user = a.owner ? a.owner->user : nullptr;
  const IpAddress& client_ip = a.client.client.value.ip;
  if (cap == 0) {  // a one-port range
    ports_.release(a.port);
    release_charge(user, a.owner_id, client_ip);
    return;
  }
  while (holds_.size() >= cap) {
    const PortHold& oldest = holds_.at(hold_order_.front().first);
    timers.cancel(oldest.timer);
    end_hold(hold_order_.front().first);
    ++counts_.holds_cut_short;
  }
  const TimerId timer = timers.schedule(until, TimerKey{TimerKind::PortHold, a.port.value});
  holds_.emplace(a.port.value, PortHold{timer, ++holds_begun_, user, a.owner_id, client_ip});
  hold_order_.emplace_back(a.port.value, holds_begun_);
  ++counts_.held_ports;
}

void Allocations::end_hold(uint16_t port) {
  const auto it = holds_.find(port);
  if (it == holds_.end()) return;
  const PortHold hold = it->second;
  holds_.erase(it);
  release_charge(hold.user, hold.owner_id, hold.client_ip);
  ports_.release(AllocationPort{port});
  --counts_.held_ports;
  // Holds end about in the order they began (a hold lasts 5 minutes, or
  // less when only cooling channels remained), so this stays short.
  auto running = [&](const std::pair<uint16_t, uint64_t>& h) {
    const auto found = holds_.find(h.first);
    return found != holds_.end() && found->second.sequence == h.second;
  };
  while (!hold_order_.empty() && !running(hold_order_.front())) hold_order_.pop_front();
}

void Allocations::assign_owner(Allocation& a, std::string_view user, const stun::IntegrityKey& key,
                               std::string_view username, uint64_t username_expiry) {
  auto it = users_.find(user);
  if (it == users_.end()) it = users_.emplace(std::string(user), UserCharge{0, owner_id_of(user)}).first;
  ++it->second.allocations;
  a.owner = Owner{&it->first, key, static_cast<uint16_t>(username.size()), username_expiry};
  a.owner_id = it->second.id;
}

void Allocations::charge_unclaimed(Allocation& a, OwnerId owner) {
  a.owner_id = owner;
  ++unclaimed_[owner.value];
}

bool Allocations::claim(Allocation& a, std::string_view user, const stun::IntegrityKey& key,
                        std::string_view username, uint64_t username_expiry) {
  if (owner_id_of(user) != a.owner_id) return false;
  assign_owner(a, user, key, username, username_expiry);
  if (auto it = unclaimed_.find(a.owner_id.value); it != unclaimed_.end() && --it->second == 0) unclaimed_.erase(it);
  return true;
}

uint32_t Allocations::charged_to(std::string_view salt) const {
  const auto user = users_.find(salt);
  uint32_t charged = user == users_.end() ? 0 : user->second.allocations;
  // Hashing the salt is paid only while restored allocations wait for their owners.
  if (!unclaimed_.empty()) {
    const OwnerId id = user == users_.end() ? owner_id_of(salt) : user->second.id;
    if (const auto restored = unclaimed_.find(id.value); restored != unclaimed_.end()) charged += restored->second;
  }
  return charged;
}

uint32_t Allocations::charged_to_ip(const IpAddress& ip) const {
  const auto it = client_ips_.find(ip);
  return it == client_ips_.end() ? 0 : it->second;
}

void Allocations::release_charge(const std::string* user, OwnerId id, const IpAddress& client_ip) {
  if (user) {
    if (auto it = users_.find(*user); it != users_.end() && --it->second.allocations == 0) users_.erase(it);
  } else if (auto it = unclaimed_.find(id.value); it != unclaimed_.end() && --it->second == 0) {
    unclaimed_.erase(it);
  }
  if (auto ip = client_ips_.find(client_ip); ip != client_ips_.end() && --ip->second == 0) client_ips_.erase(ip);
}

}  // namespace relay::core
