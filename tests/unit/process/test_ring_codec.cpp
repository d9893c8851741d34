// The one seam between core Commands and the ring ABI: each table command
// becomes the ring_abi message the data plane decodes, a dump message
// becomes the entry the Server restores, and a datagram's addresses travel
// in its PacketMeta.
#include <gtest/gtest.h>

#include "controlplane/process/ring_codec.hpp"
#include "tests/unit/process/fake_rings.hpp"

namespace relay::process::testing {
namespace {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;
using ring_abi::from_wire;

const ClientFiveTuple kClient{ClientSocket{sa("198.51.100.10:40000")}, ListenSocket{sa("203.0.113.1:3478")}};
const SocketAddress kRelay4 = sa("203.0.113.1:50000");
const SocketAddress kRelay6 = sa("[2001:db8::1]:50000");
const PeerSocket kPeer{sa("192.0.2.20:5000")};

CommandMessage message_of(const core::Command& c) {
  auto m = to_command_message(c);
  EXPECT_TRUE(m.has_value());
  return m.value_or(CommandMessage{});
}

TEST(CommandMessage, CreateAllocationCarriesPortExpiryBothRelayAddressesTheClientAndTheOwner) {
  auto m = message_of(
      core::CreateAllocation{AllocationPort{50000}, kRelay4, kRelay6, kClient, at(600), core::OwnerId{0xfeed}});
  EXPECT_EQ(m.kind, CommandKind::CreateAllocation);
  EXPECT_EQ(m.port, 50000);
  EXPECT_EQ(m.expiry_ns, 600'000'000'000u);
  EXPECT_EQ(from_wire(m.relay_v4), kRelay4);
  EXPECT_EQ(from_wire(m.relay_v6), kRelay6);
  EXPECT_EQ(from_wire(m.client), kClient.client.value);
  EXPECT_EQ(from_wire(m.listen), kClient.listen.value);
  EXPECT_EQ(from_wire(m.peer), std::nullopt);
  EXPECT_EQ(m.owner, 0xfeedu);
}

TEST(CommandMessage, SingleFamilyAllocationLeavesTheOtherRelayAddressAbsent) {
  auto m = message_of(core::CreateAllocation{AllocationPort{50000}, std::nullopt, kRelay6, kClient, at(600)});
  EXPECT_EQ(from_wire(m.relay_v4), std::nullopt);
  EXPECT_EQ(from_wire(m.relay_v6), kRelay6);
}

TEST(CommandMessage, UpdateAllocationCarriesPortAndTheNewExpiry) {
  auto m = message_of(core::UpdateAllocation{AllocationPort{50002}, at(1200)});
  EXPECT_EQ(m.kind, CommandKind::UpdateAllocation);
  EXPECT_EQ(m.port, 50002);
  EXPECT_EQ(m.expiry_ns, 1'200'000'000'000u);
}

TEST(CommandMessage, FreeAllocationCarriesThePortAlone) {
  auto m = message_of(core::FreeAllocation{AllocationPort{50004}});
  EXPECT_EQ(m.kind, CommandKind::FreeAllocation);
  EXPECT_EQ(m.port, 50004);
  EXPECT_EQ(m.expiry_ns, 0u);
  EXPECT_EQ(from_wire(m.client), std::nullopt);
}

TEST(CommandMessage, InstallChannelCarriesClientChannelPeerRelayAndExpiry) {
  auto m = message_of(core::InstallChannel{kClient, ChannelNumber{0x4001}, kPeer, kRelay4, at(610)});
  EXPECT_EQ(m.kind, CommandKind::InstallChannel);
  EXPECT_EQ(m.channel, 0x4001);
  EXPECT_EQ(m.port, 50000);
  EXPECT_EQ(m.expiry_ns, 610'000'000'000u);
  EXPECT_EQ(from_wire(m.client), kClient.client.value);
  EXPECT_EQ(from_wire(m.listen), kClient.listen.value);
  EXPECT_EQ(from_wire(m.peer), kPeer.value);
  EXPECT_EQ(from_wire(m.relay), kRelay4);
}

TEST(CommandMessage, RemoveChannelNamesTheSameEntryWithoutExpiry) {
  const PeerSocket peer6{sa("[2001:db8::20]:5000")};
  auto m = message_of(core::RemoveChannel{kClient, ChannelNumber{0x7FFF}, peer6, kRelay6});
  EXPECT_EQ(m.kind, CommandKind::RemoveChannel);
  EXPECT_EQ(m.channel, 0x7FFF);
  EXPECT_EQ(m.port, 50000);
  EXPECT_EQ(m.expiry_ns, 0u);
  EXPECT_EQ(from_wire(m.peer), peer6.value);
  EXPECT_EQ(from_wire(m.relay), kRelay6);
}

TEST(CommandMessage, InstallPermissionCarriesClientPeerIpRelayAndExpiry) {
  auto m = message_of(core::InstallPermission{kClient, kPeer.value.ip, kRelay4, at(310)});
  EXPECT_EQ(m.kind, CommandKind::InstallPermission);
  EXPECT_EQ(m.port, 50000);
  EXPECT_EQ(m.channel, 0);
  EXPECT_EQ(m.expiry_ns, 310'000'000'000u);
  EXPECT_EQ(from_wire(m.client), kClient.client.value);
  EXPECT_EQ(from_wire(m.listen), kClient.listen.value);
  EXPECT_EQ(from_wire(m.peer), (SocketAddress{kPeer.value.ip, 0}));  // permissions are per IP
  EXPECT_EQ(from_wire(m.relay), kRelay4);
}

TEST(CommandMessage, SendMessageIsNotATableCommand) {
  core::Command c = core::SendMessage{{1, 2, 3}, kClient.client, kClient.listen};
  EXPECT_EQ(to_command_message(c), std::nullopt);
}


TEST(DumpMessage, AnAllocationChannelAndPermissionDecodeToWhatEncodedThem) {
  const core::CreateAllocation allocation{AllocationPort{50000}, kRelay4, std::nullopt, kClient, at(600),
                                          core::OwnerId{0xfeed}};
  const core::InstallChannel channel{kClient, ChannelNumber{0x4001}, kPeer, kRelay4, at(610)};
  const core::InstallPermission permission{kClient, kPeer.value.ip, kRelay4, at(310)};
  EXPECT_EQ(installed_allocation(message_of(allocation)), allocation);
  EXPECT_EQ(installed_channel(message_of(channel)), channel);
  EXPECT_EQ(installed_permission(message_of(permission)), permission);
}

TEST(DumpMessage, AnUnknownFamilyOrAMissingAddressIsUndecodable) {
  CommandMessage allocation =
      message_of(core::CreateAllocation{AllocationPort{50000}, kRelay4, std::nullopt, kClient, at(600)});
  allocation.relay_v6.family = 7;  // present, but of no family we know
  EXPECT_EQ(installed_allocation(allocation), std::nullopt);
  CommandMessage channel = message_of(core::InstallChannel{kClient, ChannelNumber{0x4001}, kPeer, kRelay4, at(610)});
  channel.relay = {};
  EXPECT_EQ(installed_channel(channel), std::nullopt);
  CommandMessage permission = message_of(core::InstallPermission{kClient, kPeer.value.ip, kRelay4, at(310)});
  permission.listen = {};
  EXPECT_EQ(installed_permission(permission), std::nullopt);
}

TEST(DatagramMeta, FromCpMetaSendsToTheClientFromTheListenSocket) {
  auto meta = packet_meta_for(kClient.client, kClient.listen);
  EXPECT_EQ(ring_abi::from_wire(meta.remote), kClient.client.value);
  EXPECT_EQ(ring_abi::from_wire(meta.local), kClient.listen.value);
  EXPECT_EQ(meta.rx_timestamp_ns, 0u);
}

TEST(DatagramMeta, ToCpMetaNamesTheSenderAndTheListenSocketItReached) {
  ring_abi::PacketMeta meta;
  meta.remote = ring_abi::to_wire(sa("[2001:db8::10]:40000"));
  meta.local = ring_abi::to_wire(sa("[2001:db8::1]:3478"));
  meta.rx_timestamp_ns = 12345;
  EXPECT_EQ(received_from(meta),
            (Received{ClientSocket{sa("[2001:db8::10]:40000")}, ListenSocket{sa("[2001:db8::1]:3478")}}));
}

TEST(DatagramMeta, ToCpMetaWithAMissingUnknownOrMixedFamilyIsUnusable) {
  ring_abi::PacketMeta meta;
  meta.local = ring_abi::to_wire(kClient.listen.value);
  EXPECT_EQ(received_from(meta), std::nullopt);  // remote absent
  meta.remote = ring_abi::to_wire(sa("[2001:db8::10]:40000"));
  EXPECT_EQ(received_from(meta), std::nullopt);  // IPv6 client on an IPv4 listen socket
  meta.remote = ring_abi::to_wire(kClient.client.value);
  meta.remote.family = 7;
  EXPECT_EQ(received_from(meta), std::nullopt);
  meta.remote.family = static_cast<uint8_t>(Family::V4);
  EXPECT_TRUE(received_from(meta).has_value());
}

TEST(StreamMeta, AStreamClientsInputCarriesItsTransportAndListenSocketAsStreamInput) {
  const ClientFiveTuple tls{ClientSocket{sa("198.51.100.10:40000")}, ListenSocket{sa("203.0.113.1:443")},
                            Transport::Tls};
  const ring_abi::PacketMeta meta = stream_input_meta(tls);
  EXPECT_EQ(meta.kind, ring_abi::PacketKind::StreamInput);
  EXPECT_EQ(ring_abi::transport_of(meta.remote), Transport::Tls);
  EXPECT_EQ(ring_abi::from_wire(meta.remote), tls.client.value);
  EXPECT_EQ(ring_abi::from_wire(meta.local), tls.listen.value);
  EXPECT_EQ(meta.local.transport, 0u);
  EXPECT_EQ(stream_client_of(meta), tls);  // what to_stream carries reads back the same
}

TEST(StreamMeta, AToStreamPayloadForAUdpOrUnknownTransportNamesNoStream) {
  ring_abi::PacketMeta meta = packet_meta_for(ClientSocket{sa("198.51.100.10:40000")}, ListenSocket{sa("203.0.113.1:3478")});
  EXPECT_FALSE(stream_client_of(meta).has_value());
  meta.remote.transport = 7;
  EXPECT_FALSE(stream_client_of(meta).has_value());
  meta.remote.transport = static_cast<uint8_t>(Transport::Tcp);
  EXPECT_TRUE(stream_client_of(meta).has_value());
  meta.local.family = 0;
  EXPECT_FALSE(stream_client_of(meta).has_value());
}

}  // namespace
}  // namespace relay::process::testing
