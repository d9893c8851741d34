// Table commands from the Server to every worker: each "cmd.<lcore>" ring
// gets every command (RSS may put the two directions of one channel on
// different workers, ring_abi.hpp), in the order the Server emitted them.
// A worker that falls behind gets its own waiting queue, so one slow ring
// neither blocks nor reorders the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/ring_abi.hpp"
#include "controlplane/core/command.hpp"
#include "controlplane/process/outbox.hpp"

namespace relay::process {

// The ring_abi message of a table command; nullopt for SendMessage, which
// travels as a datagram on from_cp instead.
std::optional<ring_abi::CommandMessage> to_command_message(const core::Command& command);

// One "cmd.<lcore>" ring, as the fan-out sees it (rte_ring in the process,
// a fake in tests).
class CommandRing {
 public:
  virtual ~CommandRing() = default;
  // False when the ring is full; the message was not taken.
  virtual bool try_enqueue(const ring_abi::CommandMessage& message) = 0;
};

class CommandFanout {
 public:
  // Sized for a burst of installs while a worker is stalled: 16 Ki messages
  // of 144 bytes is ~2.3 MiB per ring, the same as ring_abi::kCommandRingSize.
  static constexpr size_t kDefaultWaitingCapacity = 16384;

  explicit CommandFanout(std::vector<std::reference_wrapper<CommandRing>> rings,
                         size_t waiting_capacity = kDefaultWaitingCapacity);

  void publish(const ring_abi::CommandMessage& message);
  // Retries what waits; returns how many ring entries left a waiting queue.
  size_t flush();
  // Nothing waits for any ring: every published command is on every ring.
  [[nodiscard]] bool idle() const;
  [[nodiscard]] size_t waiting() const;   // summed over the rings
  [[nodiscard]] uint64_t overflowed() const;  // lost ring entries, summed
  [[nodiscard]] size_t ring_count() const { return lanes_.size(); }

 private:
  struct Lane {
    std::reference_wrapper<CommandRing> ring;
    Outbox<ring_abi::CommandMessage> waiting;
  };
  static Delivery deliver(CommandRing& ring, const ring_abi::CommandMessage& m) {
    return ring.try_enqueue(m) ? Delivery::Accepted : Delivery::Busy;
  }

  std::vector<Lane> lanes_;
};

}  // namespace relay::process
