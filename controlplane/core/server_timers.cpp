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
      case TimerKind::Reservation: allocations_.end_reservation(key->token); break;
      case TimerKind::PortHold: allocations_.end_hold(key->port); break;
      case TimerKind::Drain: on_drain_deadline(); break;
    }
  }
}

void Server::on_allocation_expired(uint16_t port) {
  Allocation* a = allocations_.at(port);
  if (!a) return;
  ++stats_.allocations_expired;
  a->timer = kNoTimer;  // popped already
  // The port hold counts from the expiry, not from when we got to it, so a
  // late handle_timeout neither extends it nor leaves it behind.
  free_allocation(*a, a->expiry);
}

void Server::on_channel_deadline(uint16_t port, uint16_t number) {
  Allocation* found = allocations_.at(port);
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

}  // namespace relay::core
