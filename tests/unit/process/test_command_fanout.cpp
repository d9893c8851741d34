// Table commands on their way to the workers: each Command kind becomes the
// ring_abi message the data plane decodes, and every "cmd.<lcore>" ring sees
// every command in the Server's order, whatever ring stalls when.
#include <gtest/gtest.h>

#include "controlplane/process/command_fanout.hpp"
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

// Distinct, recognisable messages: the port numbers them.
CommandMessage numbered(uint16_t n) { return ring_abi::make_free_allocation(AllocationPort{n}); }
std::vector<uint16_t> ports_of(const FakeCommandRing& ring) {
  std::vector<uint16_t> out;
  for (const auto& m : ring.taken) out.push_back(m.port);
  return out;
}

struct FanoutTest : ::testing::Test {
  FakeCommandRing a, b, c;
  CommandFanout fanout{{a, b, c}, 4};
};

TEST_F(FanoutTest, EveryRingReceivesEveryCommandInOrder) {
  for (uint16_t n = 1; n <= 3; ++n) fanout.publish(numbered(n));
  for (auto* ring : {&a, &b, &c}) EXPECT_EQ(ports_of(*ring), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(fanout.ring_count(), 3u);
}

TEST_F(FanoutTest, AFullRingDelaysOnlyItsOwnCommandsAndGetsThemInOrderOnceItDrains) {
  b.room = 1;
  for (uint16_t n = 1; n <= 3; ++n) fanout.publish(numbered(n));
  EXPECT_EQ(ports_of(a), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1}));
  EXPECT_EQ(ports_of(c), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_FALSE(fanout.idle());
  EXPECT_EQ(fanout.waiting(), 2u);

  EXPECT_EQ(fanout.flush(), 0u);  // still full: nothing moves
  b.room = 1;
  EXPECT_EQ(fanout.flush(), 1u);
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1, 2}));

  fanout.publish(numbered(4));  // must queue behind 3, not overtake it
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1, 2}));
  b.room = 100;
  EXPECT_EQ(fanout.flush(), 2u);
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_EQ(ports_of(a), (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(fanout.overflowed(), 0u);
}

TEST_F(FanoutTest, BeyondTheWaitingBoundCommandsAreLostCountedAndTheRestKeepsItsOrder) {
  c.room = 0;
  for (uint16_t n = 1; n <= 6; ++n) fanout.publish(numbered(n));  // bound is 4
  EXPECT_EQ(fanout.overflowed(), 2u);
  EXPECT_EQ(fanout.waiting(), 4u);
  c.room = 100;
  EXPECT_EQ(fanout.flush(), 4u);
  EXPECT_EQ(ports_of(c), (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_EQ(ports_of(a), (std::vector<uint16_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Fanout, WithoutWorkersThereIsNothingToWaitFor) {
  CommandFanout fanout{{}};
  fanout.publish(numbered(1));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(fanout.flush(), 0u);
}

}  // namespace
}  // namespace relay::process::testing
