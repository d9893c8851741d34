// The one seam between the Server's vocabulary (core::Command, sockets)
// and the ring ABI (common/ring_abi.hpp): table commands become
// CommandMessages for the "cmd.<lcore>" rings, the data plane's dump becomes
// the entries the Server restores, and a datagram's addressing becomes or
// comes from the PacketMeta of its mbuf's private area. Nothing else in the
// control plane converts between the two.
#pragma once

#include <optional>

#include "common/net_types.hpp"
#include "common/ring_abi.hpp"
#include "controlplane/core/command.hpp"

namespace relay::process {

// The ring_abi message of a table command; nullopt for SendMessage, which
// travels as a datagram on from_cp instead.
std::optional<ring_abi::CommandMessage> to_command_message(const core::Command& command);

// What a dump message (CreateAllocation, InstallChannel, InstallPermission)
// says the data plane holds; nullopt when an address it must name is
// absent or of an unknown family (the caller counts it malformed).
std::optional<core::CreateAllocation> installed_allocation(const ring_abi::CommandMessage& m);
std::optional<core::InstallChannel> installed_channel(const ring_abi::CommandMessage& m);
std::optional<core::InstallPermission> installed_permission(const ring_abi::CommandMessage& m);

// Who sent a to_cp datagram to which listen socket.
struct Received {
  ClientSocket from;
  ListenSocket to;
  bool operator==(const Received&) const = default;
};

// Nullopt when either address has no valid family or the two families
// differ: the caller counts the datagram and drops it.
std::optional<Received> received_from(const ring_abi::PacketMeta& meta);

// A from_cp datagram's: remote = the destination, local = the listen socket
// it leaves from; rx_timestamp_ns stays 0 (ring_abi: "0 on from_cp").
ring_abi::PacketMeta packet_meta_for(ClientSocket to, ListenSocket from);

// What a stream client sent that the data plane relays (ChannelData, a
// Send indication): PacketKind::StreamInput, remote = the client with its
// transport, local = the listen socket of its stream.
ring_abi::PacketMeta stream_input_meta(const ClientFiveTuple& client);

// The stream client a to_stream payload is for; nullopt as received_from
// says, or when the transport is UDP or unknown.
std::optional<ClientFiveTuple> stream_client_of(const ring_abi::PacketMeta& meta);

}  // namespace relay::process
