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
      case TimerKind::PortHold:
        ports_.release(AllocationPort{key->port});
        --stats_.held_ports;
        break;
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
  emit(RemoveChannel{a.client, c->number, c->peer, *a.relay_for(c->peer.value.family())});
  c->bound = false;
  c->deadline = c->deadline + kChannelCooldown;
  c->timer = timers_.schedule(c->deadline, TimerKey{TimerKind::Channel, a.port.value, number});
  --stats_.active_channels;
  ++stats_.channels_expired;
}

void Server::on_reservation_expired(uint64_t token) {
  auto it = reservations_.find(token);
  if (it == reservations_.end()) return;
  ports_.release(it->second.port);
  reservations_.erase(it);
}

}  // namespace relay::core
