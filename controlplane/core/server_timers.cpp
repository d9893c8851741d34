// Expiry of allocations (RFC 8656 §7 time-to-expiry), channel bindings and
// their cool-down (RFC 8656 §12), EVEN-PORT reservations (§7.2), held ports.
#include "controlplane/core/server.hpp"

namespace relay::core {

void Server::run_timers(Instant now) {
  // Due entries run in deadline order, so a channel that outlives its
  // allocation's expiry is removed by the allocation, not after it.
  while (auto key = timers_.pop_due(now)) {
    switch (key->kind) {
      case TimerKind::Allocation: on_allocation_expired(key->port); break;
      case TimerKind::Channel: on_channel_deadline(key->port, key->channel); break;
      case TimerKind::Reservation: on_reservation_expired(key->token); break;
      case TimerKind::PortHold: end_hold(key->port); break;
      case TimerKind::Drain: on_drain_deadline(); break;
    }
  }
}

void Server::on_allocation_expired(uint16_t port) {
  Allocation* a = allocation_at(port);
  if (!a) return;
  ++stats_.allocations_expired;
  a->timer = kNoTimer;  // popped already
  // The port hold counts from the expiry, not from when we got to it, so a
  // late handle_timeout neither extends it nor leaves it behind.
  free_allocation(*a, a->expiry);
}

void Server::on_channel_deadline(uint16_t port, uint16_t number) {
  Allocation* found = allocation_at(port);
  if (!found) return;
  Allocation& a = *found;
  Channel* c = a.channel_by_number(ChannelNumber{number});
  if (!c) return;
  if (!c->bound) {  // cool-down over: number and peer are free again
    std::erase_if(a.channels, [&](const Channel& ch) { return ch.number.value == number; });
    return;
  }
  c->timer = kNoTimer;  // popped already
  unbind_channel(a, *c, c->deadline);
  ++stats_.channels_expired;
}

void Server::unbind_channel(Allocation& a, Channel& c, Instant ended) {
  emit(RemoveChannel{a.client, c.number, c.peer, *a.relay_for(c.peer.value.family())});
  timers_.cancel(c.timer);
  c.bound = false;
  c.deadline = ended + kChannelCooldown;
  c.timer = timers_.schedule(c.deadline, TimerKey{TimerKind::Channel, a.port.value, c.number.value});
  --stats_.active_channels;
}

void Server::hold_port(const Allocation& a, Instant until) {
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
    timers_.cancel(oldest.timer);
    end_hold(hold_order_.front().first);
    ++stats_.port_holds_cut_short;
  }
  const TimerId timer = timers_.schedule(until, TimerKey{TimerKind::PortHold, a.port.value});
  holds_.emplace(a.port.value, PortHold{timer, ++holds_begun_, user, a.owner_id, client_ip});
  hold_order_.emplace_back(a.port.value, holds_begun_);
  ++stats_.held_ports;
}

void Server::end_hold(uint16_t port) {
  const auto it = holds_.find(port);
  if (it == holds_.end()) return;
  const PortHold hold = it->second;
  holds_.erase(it);
  release_charge(hold.user, hold.owner_id, hold.client_ip);
  ports_.release(AllocationPort{port});
  --stats_.held_ports;
  // Holds end about in the order they began (a hold lasts 5 minutes, or
  // less when only cooling channels remained), so this stays short.
  auto running = [&](const std::pair<uint16_t, uint64_t>& h) {
    const auto found = holds_.find(h.first);
    return found != holds_.end() && found->second.sequence == h.second;
  };
  while (!hold_order_.empty() && !running(hold_order_.front())) hold_order_.pop_front();
}

void Server::on_reservation_expired(uint64_t token) {
  auto it = reservations_.find(token);
  if (it == reservations_.end()) return;
  ports_.release(it->second.port);
  reservations_.erase(it);
}

}  // namespace relay::core
