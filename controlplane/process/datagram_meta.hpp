// The PacketMeta of the mbuf private area (ring_abi.hpp) in the terms of the
// Server: who sent a to_cp datagram to which listen socket, and from which
// listen socket a from_cp datagram goes to whom.
#pragma once

#include <optional>

#include "common/net_types.hpp"
#include "common/ring_abi.hpp"
#include "controlplane/core/command.hpp"

namespace relay::process {

struct Received {
  ClientSocket from;
  ListenSocket to;
  bool operator==(const Received&) const = default;
};

// Nullopt when either address has no valid family or the two families
// differ: the caller counts the datagram and drops it.
std::optional<Received> received_from(const ring_abi::PacketMeta& meta);

// remote = the destination, local = the listen socket it leaves from;
// rx_timestamp_ns stays 0 (ring_abi: "0 on from_cp").
ring_abi::PacketMeta packet_meta_for(const core::SendMessage& message);

}  // namespace relay::process
