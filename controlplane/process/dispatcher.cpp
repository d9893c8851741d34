#include "controlplane/process/dispatcher.hpp"

#include <utility>
#include <variant>

namespace relay::process {

Dispatcher::Dispatcher(DatagramRing& datagrams, std::vector<std::reference_wrapper<CommandRing>> command_rings,
                       size_t datagram_capacity, size_t command_capacity, ReplicaSource* replicas,
                       uint16_t session)
    : ring_(datagrams),
      fanout_(std::move(command_rings), command_capacity, replicas, session),
      datagrams_(datagram_capacity) {}

void Dispatcher::perform(core::Command command) {
  if (auto* message = std::get_if<core::SendMessage>(&command)) {
    datagrams_.offer(std::move(*message), [this](const core::SendMessage& m) { return send(m); }, fanout_.idle());
    return;
  }
  if (auto message = to_command_message(command)) {
    fanout_.publish(*message);
    ++commands_;
  }
}

size_t Dispatcher::flush(Instant now) {
  size_t done = fanout_.flush(now);
  if (fanout_.idle()) done += datagrams_.flush([this](const core::SendMessage& m) { return send(m); });
  return done;
}

DispatchStats Dispatcher::stats() const {
  DispatchStats s;
  s.datagrams = datagrams_.stats();
  s.reconcile = fanout_.reconcile_stats();
  s.commands = commands_;
  s.command_overflows = fanout_.overflowed();
  s.commands_waiting = fanout_.waiting();
  s.datagrams_waiting = datagrams_.waiting();
  return s;
}

}  // namespace relay::process
