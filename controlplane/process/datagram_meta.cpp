#include "controlplane/process/datagram_meta.hpp"

namespace relay::process {

std::optional<Received> received_from(const ring_abi::PacketMeta& meta) {
  auto remote = ring_abi::from_wire(meta.remote);
  auto local = ring_abi::from_wire(meta.local);
  if (!remote || !local || remote->family() != local->family()) return std::nullopt;
  return Received{ClientSocket{*remote}, ListenSocket{*local}};
}

ring_abi::PacketMeta packet_meta_for(const core::SendMessage& message) {
  ring_abi::PacketMeta meta;
  meta.remote = ring_abi::to_wire(message.to.value);
  meta.local = ring_abi::to_wire(message.from.value);
  return meta;
}

}  // namespace relay::process
