// What the sans-IO Server wants done. The IO shell performs each Command in
// the order next_command() yields them; state-changing commands for a request
// always come before the response that announces them, so the data plane has
// the entry installed by the time the client can use it.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "common/net_types.hpp"
#include "common/time.hpp"

namespace relay::core {

struct SendMessage {
  std::vector<uint8_t> bytes;
  ClientSocket to;
  ListenSocket from;
  // A success that announces installs (ChannelBind, CreatePermission): the
  // 508 to send instead should the data plane refuse one of them for a
  // full table, after Server::undo_install of each (process/dispatcher.hpp).
  // Empty for every other response.
  std::vector<uint8_t> if_refused = {};
  // UDP: a datagram through the data plane; TCP/TLS: written to the client's
  // stream (the control plane's stream server), framed as it is.
  Transport transport = Transport::Udp;
  bool operator==(const SendMessage&) const = default;
};

// Who owns an allocation, in 64 bits: the first 8 bytes of SHA-256 of the
// owner's salt (owner_id_of in allocation.hpp; the salt names the user, see
// Owner). The data plane keeps it with the allocation, so a restarted
// control plane knows whose an adopted allocation is before anyone asks.
// 0 = unknown: nobody can claim such an allocation.
struct OwnerId {
  uint64_t value = 0;
  bool operator==(const OwnerId&) const = default;
};

struct CreateAllocation {
  AllocationPort port;
  std::optional<SocketAddress> relay_v4;  // relay IPv4 address : port
  std::optional<SocketAddress> relay_v6;  // relay IPv6 address : port
  ClientFiveTuple client;
  Instant expiry;
  OwnerId owner{};
  bool operator==(const CreateAllocation&) const = default;
};

// A Refresh moved the expiry (RFC 8656 §8).
struct UpdateAllocation {
  AllocationPort port;
  Instant expiry;
  bool operator==(const UpdateAllocation&) const = default;
};

struct FreeAllocation {
  AllocationPort port;
  bool operator==(const FreeAllocation&) const = default;
};

// Also emitted again, with the new expiry, when a binding is refreshed.
struct InstallChannel {
  ClientFiveTuple client;
  ChannelNumber channel;
  PeerSocket peer;
  SocketAddress relay;  // relay address of the peer's family : allocation port
  Instant expiry;
  bool operator==(const InstallChannel&) const = default;
};

struct RemoveChannel {
  ClientFiveTuple client;
  ChannelNumber channel;
  PeerSocket peer;
  SocketAddress relay;
  bool operator==(const RemoveChannel&) const = default;
};

// RFC 8656 §9: the allocation may exchange Send/Data indications with
// `peer` (any port) until `expiry`. Emitted again to refresh; it ends by
// itself (or with the allocation).
struct InstallPermission {
  ClientFiveTuple client;
  IpAddress peer;
  SocketAddress relay;  // relay address of the peer's family : allocation port
  Instant expiry;
  bool operator==(const InstallPermission&) const = default;
};

// Only to take back a permission a worker refused for a full table
// (Server::undo_install): the others may have installed it.
struct RemovePermission {
  ClientFiveTuple client;
  IpAddress peer;
  SocketAddress relay;
  bool operator==(const RemovePermission&) const = default;
};

using Command = std::variant<SendMessage, CreateAllocation, UpdateAllocation, FreeAllocation, InstallChannel,
                             RemoveChannel, InstallPermission, RemovePermission>;

}  // namespace relay::core
