#include "controlplane/process/ring_codec.hpp"

#include <type_traits>
#include <variant>

namespace relay::process {

using ring_abi::CommandMessage;

std::optional<CommandMessage> to_command_message(const core::Command& command) {
  return std::visit(
      [](const auto& c) -> std::optional<CommandMessage> {
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
        } else if constexpr (std::is_same_v<C, core::InstallPermission>) {
          return ring_abi::make_install_permission(c.client, c.peer, c.relay, c.expiry);
        } else {
          static_assert(std::is_same_v<C, core::RemovePermission>, "a new Command kind needs a ring message");
          return ring_abi::make_remove_permission(c.client, c.peer, c.relay);
        }
      },
      command);
}

namespace {

std::optional<ClientFiveTuple> client_of(const CommandMessage& m) {
  auto client = ring_abi::from_wire(m.client);
  auto listen = ring_abi::from_wire(m.listen);
  auto transport = ring_abi::transport_of(m.client);
  if (!client || !listen || !transport) return std::nullopt;
  return ClientFiveTuple{ClientSocket{*client}, ListenSocket{*listen}, *transport};
}

// What every channel and permission message names: the client, the peer
// and the allocation's relay address of the peer's family.
struct PeerEntry {
  ClientFiveTuple client;
  SocketAddress peer;
  SocketAddress relay;
};
std::optional<PeerEntry> peer_entry_of(const CommandMessage& m) {
  const auto client = client_of(m);
  const auto peer = ring_abi::from_wire(m.peer);
  const auto relay = ring_abi::from_wire(m.relay);
  if (!client || !peer || !relay) return std::nullopt;
  return PeerEntry{*client, *peer, *relay};
}

}  // namespace

std::optional<core::CreateAllocation> installed_allocation(const CommandMessage& m) {
  const auto client = client_of(m);
  const bool has_v4 = m.relay_v4.family != 0, has_v6 = m.relay_v6.family != 0;
  const auto relay_v4 = ring_abi::from_wire(m.relay_v4);
  const auto relay_v6 = ring_abi::from_wire(m.relay_v6);
  if (!client || has_v4 != relay_v4.has_value() || has_v6 != relay_v6.has_value()) return std::nullopt;
  return core::CreateAllocation{AllocationPort{m.port}, relay_v4, relay_v6, *client, Instant::from_ns(m.expiry_ns),
                                core::OwnerId{m.owner}};
}

std::optional<core::InstallChannel> installed_channel(const CommandMessage& m) {
  const auto e = peer_entry_of(m);
  if (!e) return std::nullopt;
  return core::InstallChannel{e->client, ChannelNumber{m.channel}, PeerSocket{e->peer}, e->relay,
                              Instant::from_ns(m.expiry_ns)};
}

std::optional<core::InstallPermission> installed_permission(const CommandMessage& m) {
  const auto e = peer_entry_of(m);
  if (!e) return std::nullopt;
  return core::InstallPermission{e->client, e->peer.ip, e->relay, Instant::from_ns(m.expiry_ns)};
}

std::optional<Received> received_from(const ring_abi::PacketMeta& meta) {
  auto remote = ring_abi::from_wire(meta.remote);
  auto local = ring_abi::from_wire(meta.local);
  if (!remote || !local || remote->family() != local->family()) return std::nullopt;
  return Received{ClientSocket{*remote}, ListenSocket{*local}};
}

ring_abi::PacketMeta packet_meta_for(ClientSocket to, ListenSocket from) {
  ring_abi::PacketMeta meta;
  meta.remote = ring_abi::to_wire(to.value);
  meta.local = ring_abi::to_wire(from.value);
  return meta;
}

ring_abi::PacketMeta stream_input_meta(const ClientFiveTuple& client) {
  ring_abi::PacketMeta meta = packet_meta_for(client.client, client.listen);
  meta.remote = ring_abi::to_wire(client.client, client.transport);
  meta.kind = ring_abi::PacketKind::StreamInput;
  return meta;
}

std::optional<ClientFiveTuple> stream_client_of(const ring_abi::PacketMeta& meta) {
  const auto received = received_from(meta);
  const auto transport = ring_abi::transport_of(meta.remote);
  if (!received || !transport || *transport == Transport::Udp) return std::nullopt;
  return ClientFiveTuple{received->from, received->to, *transport};
}

}  // namespace relay::process
