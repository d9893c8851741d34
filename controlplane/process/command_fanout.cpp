#include "controlplane/process/command_fanout.hpp"

#include <type_traits>
#include <variant>

namespace relay::process {

std::optional<ring_abi::CommandMessage> to_command_message(const core::Command& command) {
  return std::visit(
      [](const auto& c) -> std::optional<ring_abi::CommandMessage> {
        using C = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<C, core::SendMessage>) {
          return std::nullopt;
        } else if constexpr (std::is_same_v<C, core::CreateAllocation>) {
          return ring_abi::make_create_allocation(c.port, c.relay_v4, c.relay_v6, c.client, c.expiry, c.owner.value);
        } else if constexpr (std::is_same_v<C, core::UpdateAllocation>) {
          return ring_abi::make_update_allocation(c.port, c.expiry);
        } else if constexpr (std::is_same_v<C, core::FreeAllocation>) {
          return ring_abi::make_free_allocation(c.port);
        } else if constexpr (std::is_same_v<C, core::InstallChannel>) {
          return ring_abi::make_install_channel(c.client, c.channel, c.peer, c.relay, c.expiry);
        } else if constexpr (std::is_same_v<C, core::RemoveChannel>) {
          return ring_abi::make_remove_channel(c.client, c.channel, c.peer, c.relay);
        } else {
          static_assert(std::is_same_v<C, core::InstallPermission>, "a new Command kind needs a ring message");
          return ring_abi::make_install_permission(c.client, c.peer, c.relay, c.expiry);
        }
      },
      command);
}

CommandFanout::CommandFanout(std::vector<std::reference_wrapper<CommandRing>> rings, size_t waiting_capacity) {
  lanes_.reserve(rings.size());
  for (auto ring : rings) lanes_.push_back(Lane{ring, Outbox<ring_abi::CommandMessage>(waiting_capacity)});
}

void CommandFanout::publish(const ring_abi::CommandMessage& message) {
  for (Lane& lane : lanes_) {
    lane.waiting.offer(message, [&](const ring_abi::CommandMessage& m) { return deliver(lane.ring, m); });
  }
}

size_t CommandFanout::flush() {
  size_t done = 0;
  for (Lane& lane : lanes_) {
    done += lane.waiting.flush([&](const ring_abi::CommandMessage& m) { return deliver(lane.ring, m); });
  }
  return done;
}

bool CommandFanout::idle() const {
  for (const Lane& lane : lanes_) {
    if (!lane.waiting.empty()) return false;
  }
  return true;
}

size_t CommandFanout::waiting() const {
  size_t n = 0;
  for (const Lane& lane : lanes_) n += lane.waiting.waiting();
  return n;
}

uint64_t CommandFanout::overflowed() const {
  uint64_t n = 0;
  for (const Lane& lane : lanes_) n += lane.waiting.stats().overflowed;
  return n;
}

}  // namespace relay::process
