#include "controlplane/process/dispatcher.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include "controlplane/process/ring_codec.hpp"

namespace relay::process {

Dispatcher::Dispatcher(DatagramRing& datagrams, std::vector<std::reference_wrapper<CommandRing>> command_rings,
                       size_t datagram_capacity, size_t command_capacity, ReplicaSource* replicas,
                       uint16_t session, RefusedInstall on_refused_install)
    : ring_(datagrams),
      fanout_(std::move(command_rings), command_capacity, replicas, session),
      datagrams_(datagram_capacity),
      on_refused_install_(std::move(on_refused_install)) {}

void Dispatcher::perform(core::Command command) {
  if (auto* message = std::get_if<core::SendMessage>(&command)) {
    Outgoing o{std::move(*message), 0, {}};
    if (!o.message.if_refused.empty()) {
      o.ticket = next_ticket_++;
      o.installs = std::move(installs_);
    }
    installs_.clear();
    datagrams_.offer(std::move(o), [this](const Outgoing& m) { return send(m); }, fanout_.idle());
    return;
  }
  if (auto message = to_command_message(command)) {
    const bool install =
        std::holds_alternative<core::InstallChannel>(command) || std::holds_alternative<core::InstallPermission>(command);
    fanout_.publish(*message, install ? next_ticket_ : 0);
    if (install) installs_.push_back(std::move(command));
    ++commands_;
  }
}

// The Server built each response once, into the SendMessage's own bytes;
// the ring copies them into the mbuf, the only copy on their way out.
Delivery Dispatcher::deliver(const core::SendMessage& m, std::span<const uint8_t> bytes) {
  if (m.transport != Transport::Udp) {
    if (streams_ == nullptr) return Delivery::Gone;
    return streams_->send_response(ClientFiveTuple{m.to, m.from, m.transport}, bytes);
  }
  return ring_.get().try_send(bytes, packet_meta_for(m.to, m.from));
}

Delivery Dispatcher::send(const Outgoing& o) {
  if (o.ticket == 0) return deliver(o.message, o.message.bytes);
  if (fanout_.awaiting(o.ticket)) return Delivery::Busy;
  if (fanout_.take_refusal(o.ticket)) {
    for (const core::Command& install : o.installs)
      if (on_refused_install_) on_refused_install_(install);
    refused_.push_back(o.ticket);
  }
  if (std::find(refused_.begin(), refused_.end(), o.ticket) == refused_.end())
    return deliver(o.message, o.message.bytes);
  const Delivery d = deliver(o.message, o.message.if_refused);
  if (d != Delivery::Busy) {
    std::erase(refused_, o.ticket);
    ++refusals_answered_;
  }
  return d;
}

size_t Dispatcher::flush(Instant now) {
  size_t done = fanout_.flush(now);
  if (fanout_.idle()) done += datagrams_.flush([this](const Outgoing& m) { return send(m); });
  return done;
}

DispatchStats Dispatcher::stats() const {
  DispatchStats s;
  s.datagrams = datagrams_.stats();
  s.reconcile = fanout_.reconcile_stats();
  s.commands = commands_;
  s.refusals_answered = refusals_answered_;
  s.command_overflows = fanout_.overflowed();
  s.commands_waiting = fanout_.waiting();
  s.datagrams_waiting = datagrams_.waiting();
  return s;
}

}  // namespace relay::process
