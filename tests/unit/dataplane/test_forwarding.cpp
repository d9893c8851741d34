// Relaying through one worker's classify(): every row of the packet-path
// table in ARCHITECTURE.md, in all four address-family combinations.
#include <gtest/gtest.h>

#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {


using Relay = FamilyCombinationTest;

TEST_P(Relay, ChannelDataFromClientLeavesAsPlainUdpFromTheRelayAddressToThePeer) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer());
  const auto data = bytes_of("hello peer, 23 bytes!!!");
  FakeMbuf m(udp_frame(from_gateway(client().family()), client(), listen(), channel_data(0x4001, data, 1)));

  ASSERT_EQ(run(m), Next::Tx);

  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, relayed());
  EXPECT_EQ(out->dst, peer());
  EXPECT_EQ(out->payload, data);
  EXPECT_EQ(out->src_mac, kOurMac);
  EXPECT_EQ(out->dst_mac, peer().ip.is_v4() ? kGatewayMac : kGateway6Mac);
  EXPECT_EQ(out->ttl, 64);
  EXPECT_TRUE(out->ip_checksum_ok);
  EXPECT_TRUE(out->udp_checksum_ok);
  EXPECT_EQ(count(Counter::ClientToPeer), 1u);
}

TEST_P(Relay, UdpFromPeerReachesTheClientAsChannelDataFromTheListenPort) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer());
  const auto data = bytes_of("hello client");
  FakeMbuf m(udp_frame(from_gateway(peer().family()), peer(), relayed(), data));

  ASSERT_EQ(run(m), Next::Tx);

  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, listen());
  EXPECT_EQ(out->dst, client());
  EXPECT_EQ(out->payload, channel_data(0x4001, data));
  EXPECT_TRUE(out->ip_checksum_ok);
  EXPECT_TRUE(out->udp_checksum_ok);
  EXPECT_EQ(count(Counter::PeerToClient), 1u);
}

TEST_P(Relay, ExpiredChannelIsNeverUsedEvenWithoutRemove) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer(), 1000);
  now += 1001;
  FakeMbuf m(udp_frame(from_gateway(client().family()), client(), listen(), channel_data(0x4001, bytes_of("x"))));
  FakeMbuf back(udp_frame(from_gateway(peer().family()), peer(), relayed(), bytes_of("y")));

  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(run(back), Next::Free);
  EXPECT_EQ(count(Counter::DropExpired), 2u);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, Relay, ::testing::ValuesIn(kFamilyCombinations),
                         [](const auto& info) { return std::string(info.param.name); });

const SocketAddress kClient = *SocketAddress::parse("198.51.100.10:40000");
const SocketAddress kListen = *SocketAddress::parse("203.0.113.1:3478");
const SocketAddress kPeer = *SocketAddress::parse("192.0.2.20:5000");
const SocketAddress kRelayed = *SocketAddress::parse("203.0.113.1:50000");

TEST_F(WorkerTest, ChannelDataWhoseLengthExceedsTheDatagramIsDroppedAndCounted) {
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("abc"), 0, 4)));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropChannelDataLength), 1u);
}

TEST_F(WorkerTest, UnknownChannelAndUnknownPeerAreDroppedAndCounted) {
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer);
  FakeMbuf other_channel(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4002, bytes_of("a"))));
  FakeMbuf other_peer(udp_frame(from_gateway(Family::V4), sock("192.0.2.21:5000"), kRelayed, bytes_of("b")));
  EXPECT_EQ(run(other_channel), Next::Free);
  EXPECT_EQ(run(other_peer), Next::Free);
  EXPECT_EQ(count(Counter::DropUnknownChannel), 1u);
  EXPECT_EQ(count(Counter::DropUnknownPeer), 1u);
}

TEST_F(WorkerTest, FreeAllocationRetiresItsChannelsAtOnce) {
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer);
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50000})), Applied::Ok);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("a"))));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropExpired), 1u);
}

TEST_F(WorkerTest, AllocationRecreatedOnTheSamePortDoesNotReviveOldChannels) {
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer);
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50000})), Applied::Ok);
  allocate(50000, sock("198.51.100.99:1234"));
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kPeer, kRelayed, bytes_of("a")));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropExpired), 1u);
}

TEST_F(WorkerTest, RefreshingAnAllocationAndReinstallingAChannelExtendsBoth) {
  allocate(50000, kClient, 1000);
  bind(50000, kClient, 0x4001, kPeer, 1000);
  ASSERT_EQ(apply(ring_abi::make_update_allocation(AllocationPort{50000}, Instant::from_ns(now + 5000))), Applied::Ok);
  bind(50000, kClient, 0x4001, kPeer, 5000);
  now += 2000;
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("a"))));
  EXPECT_EQ(run(m), Next::Tx);
}

TEST_F(WorkerTest, RemovedChannelStopsForwardingInBothDirections) {
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer);
  const auto install_msg = install(50000, kClient, 0x4001, kPeer);
  auto remove = install_msg;
  remove.kind = ring_abi::CommandKind::RemoveChannel;
  ASSERT_EQ(apply(remove), Applied::Ok);
  FakeMbuf out(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("a"))));
  FakeMbuf in(udp_frame(from_gateway(Family::V4), kPeer, kRelayed, bytes_of("b")));
  EXPECT_EQ(run(out), Next::Free);
  EXPECT_EQ(run(in), Next::Free);
  EXPECT_EQ(count(Counter::DropUnknownChannel), 1u);
  EXPECT_EQ(count(Counter::DropUnknownPeer), 1u);
}

TEST_F(WorkerTest, ClientToClientThroughTwoAllocationsGoesStraightOutAsChannelData) {
  const SocketAddress client_a = sock("198.51.100.10:40000");
  const SocketAddress client_b = sock("[2001:db8:2::10]:41000");
  allocate(50000, client_a);
  allocate(50001, client_b);
  // Each client's peer is the other allocation's relay address (IPv4 here).
  bind(50000, client_a, 0x4001, sock("203.0.113.1:50001"));
  bind(50001, client_b, 0x4007, sock("203.0.113.1:50000"));
  const auto data = bytes_of("symmetric NAT on both sides");
  FakeMbuf m(udp_frame(from_gateway(Family::V4), client_a, kListen, channel_data(0x4001, data, 1)));

  ASSERT_EQ(run(m), Next::Tx);

  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, sock("[2001:db8:1::1]:3478"));
  EXPECT_EQ(out->dst, client_b);
  EXPECT_EQ(out->payload, channel_data(0x4007, data));
  EXPECT_TRUE(out->udp_checksum_ok);
  EXPECT_EQ(count(Counter::ClientToClient), 1u);
}

TEST_F(WorkerTest, StunOnTheListenPortGoesToTheControlPlaneWithBothAddresses) {
  std::vector<uint8_t> binding_request = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  binding_request.resize(20, 0x5A);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, binding_request));

  ASSERT_EQ(run(m), Next::ToControlPlane);

  EXPECT_EQ(m.bytes(), binding_request);
  const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m.get()));
  EXPECT_EQ(ring_abi::from_wire(meta->remote), kClient);
  EXPECT_EQ(ring_abi::from_wire(meta->local), kListen);
  EXPECT_EQ(meta->rx_timestamp_ns, now);
}

TEST_F(WorkerTest, NeitherStunNorChannelDataOnTheListenPortIsDropped) {
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, bytes_of("\x80garbage that is not stun")));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropNotStunOrChannelData), 1u);
}

TEST_F(WorkerTest, UdpToAClosedPortIsDropped) {
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, sock("203.0.113.1:53"), bytes_of("dns?")));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropClosedPort), 1u);
}

TEST_F(WorkerTest, OnLinkPeerWithoutNeighbourTurnsThePacketIntoAnArpRequest) {
  const SocketAddress on_link_peer = sock("203.0.113.50:5000");
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, on_link_peer);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("a"))));

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  ASSERT_GE(f.size(), 42u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(6, 0xFF));
  EXPECT_EQ(f[12], 0x08);
  EXPECT_EQ(f[13], 0x06);
  EXPECT_EQ(f[21], 1);  // request
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 38, f.begin() + 42), std::vector<uint8_t>({203, 0, 113, 50}));
  EXPECT_EQ(count(Counter::DropNeighbourUnresolved), 1u);
  EXPECT_EQ(count(Counter::ArpRequestsSent), 1u);

  // Within the retry interval the next packet is only dropped.
  FakeMbuf again(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("b"))));
  EXPECT_EQ(run(again), Next::Free);
  EXPECT_EQ(count(Counter::DropNeighbourUnresolved), 2u);
}

TEST_F(WorkerTest, CommandsNamingAddressesThatAreNotOursAreRejected) {
  const SocketAddress foreign_listen = sock("203.0.113.9:3478");
  EXPECT_EQ(apply(ring_abi::make_create_allocation(AllocationPort{50000}, sock("203.0.113.9:50000"), std::nullopt,
                                                   ClientFiveTuple{ClientSocket{kClient}, ListenSocket{kListen}},
                                                   Instant::from_ns(now + 1000))),
            Applied::Rejected);
  allocate(50000, kClient);
  EXPECT_EQ(apply(ring_abi::make_install_channel(ClientFiveTuple{ClientSocket{kClient}, ListenSocket{foreign_listen}},
                                                 ChannelNumber{0x4001}, PeerSocket{kPeer}, kRelayed,
                                                 Instant::from_ns(now + 1000))),
            Applied::Rejected);
  EXPECT_EQ(apply(install(50000, kClient, 0x3FFF, kPeer)), Applied::Rejected);  // RFC 8656 §12 range
  EXPECT_EQ(apply(ring_abi::make_update_allocation(AllocationPort{1000}, Instant::from_ns(now))), Applied::Rejected);
}

TEST_F(WorkerTest, AFullChannelTableRefusesInstallsAndSaysSo) {
  auto c = test_config();
  c.max_channels = 2;
  make_worker(c);
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer);
  bind(50000, kClient, 0x4002, sock("192.0.2.21:5000"));
  EXPECT_EQ(apply(install(50000, kClient, 0x4003, sock("192.0.2.22:5000"))), Applied::TableFull);
  EXPECT_EQ(count(Counter::CommandTableFull), 1u);
}

TEST_F(WorkerTest, ChannelsPiledOntoOneSlotAreRefusedPastTheProbeLimitAndSaySo) {
  const HashSecret secret{0x9216D5D98979FB1B, 0xD1310BA698DFB5AC};  // as if it had leaked
  make_worker(test_config(), secret);
  allocate(50000, kClient);
  ChannelTable& channels = worker->tables().channels();
  const auto home_of = [&](const SocketAddress& client, uint16_t channel) {
    const ChannelKey k = make_channel_key(Family::V4, client.ip.bytes.data(), rte_cpu_to_be_16(client.port),
                                          rte_cpu_to_be_16(channel));
    return ChannelTable::tag_of(channels.hash(k)) & (channels.capacity() - 1);
  };
  // (client port, channel) pairs whose keys share one home slot.
  std::vector<std::pair<SocketAddress, uint16_t>> colliding;
  const uint64_t home = home_of(kClient, 0x4000);
  for (uint16_t port = 40000; colliding.size() < ChannelTable::kMaxProbe + 2; ++port)
    for (uint16_t ch = 0x4000; ch <= 0x4FFF && colliding.size() < ChannelTable::kMaxProbe + 2; ++ch) {
      const SocketAddress client{kClient.ip, port};
      if (home_of(client, ch) == home) colliding.emplace_back(client, ch);
    }
  for (size_t i = 0; i + 1 < colliding.size(); ++i)
    ASSERT_EQ(apply(install(50000, colliding[i].first, colliding[i].second, kPeer)), Applied::Ok) << i;

  EXPECT_EQ(apply(install(50000, colliding.back().first, colliding.back().second, kPeer)), Applied::ProbeLimit);
  EXPECT_EQ(count(Counter::CommandProbeLimit), 1u);
  EXPECT_EQ(worker->counters().tables.longest_probe, ChannelTable::kMaxProbe);
}

TEST_F(WorkerTest, AFullTableMakesRoomByDroppingExpiredEntries) {
  auto c = test_config();
  c.max_channels = 2;
  make_worker(c);
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, kPeer, 1000);
  bind(50000, kClient, 0x4002, sock("192.0.2.21:5000"), 1000);
  now += 2000;
  EXPECT_EQ(apply(install(50000, kClient, 0x4003, sock("192.0.2.22:5000"))), Applied::Ok);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4003, bytes_of("a"))));
  EXPECT_EQ(run(m), Next::Tx);
}

TEST_F(WorkerTest, MultiSegmentMbufIsDroppedAndCounted) {
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, bytes_of("a"))));
  m.get()->nb_segs = 2;
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropMultiSegment), 1u);
}

TEST_F(WorkerTest, GrowingPastTheMtuIsDroppedNotFragmented) {
  allocate(50000, kClient);
  bind(50000, kClient, 0x4001, sock("[2001:db8:3::20]:5000"));
  // 1500-byte IPv4 packet whose data, re-sent over IPv6, needs 1508 bytes.
  const std::vector<uint8_t> data(1500 - 20 - 8 - 4, 0xAB);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, channel_data(0x4001, data)));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropTooBig), 1u);
}

}  // namespace
}  // namespace relay::dataplane::testing
