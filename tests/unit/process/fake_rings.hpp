// Rings the tests control: they take messages until `room` runs out, and
// refuse from then on until the test makes room again, like a worker that
// stalls and catches up.
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "controlplane/process/command_fanout.hpp"
#include "controlplane/process/dispatcher.hpp"

namespace relay::process::testing {

class FakeCommandRing final : public CommandRing {
 public:
  bool try_enqueue(const ring_abi::CommandMessage& message) override {
    if (room == 0) return false;
    --room;
    taken.push_back(message);
    return true;
  }
  bool try_enqueue_group(std::span<const ring_abi::CommandMessage> messages) override {
    if (room < messages.size()) return false;
    room -= messages.size();
    taken.insert(taken.end(), messages.begin(), messages.end());
    ++groups;
    return true;
  }
  size_t groups = 0;
  size_t room = std::numeric_limits<size_t>::max();
  std::vector<ring_abi::CommandMessage> taken;
};

// Keeps what it took as the SendMessage it came from, with its PacketMeta.
class FakeDatagramRing final : public DatagramRing {
 public:
  Delivery try_send(std::span<const uint8_t> payload, const ring_abi::PacketMeta& meta) override {
    if (payload.size() > max_size) return Delivery::Refused;
    if (room == 0) return Delivery::Busy;
    --room;
    const auto to = ring_abi::from_wire(meta.remote);
    const auto from = ring_abi::from_wire(meta.local);
    sent.push_back({{payload.begin(), payload.end()}, ClientSocket{to.value_or(SocketAddress{})},
                    ListenSocket{from.value_or(SocketAddress{})}});
    metas.push_back(meta);
    return Delivery::Accepted;
  }
  size_t room = std::numeric_limits<size_t>::max();
  size_t max_size = 2048;
  std::vector<core::SendMessage> sent;
  std::vector<ring_abi::PacketMeta> metas;
};

inline SocketAddress sa(const char* text) { return SocketAddress::parse(text).value(); }
inline Instant at(int64_t seconds) { return Instant{std::chrono::seconds(seconds)}; }

}  // namespace relay::process::testing
