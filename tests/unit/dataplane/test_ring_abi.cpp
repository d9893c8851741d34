// The ring message ABI both processes agree on.
#include <gtest/gtest.h>

#include "common/ring_abi.hpp"

namespace relay::ring_abi {
namespace {

TEST(RingAbi, SocketAddressesSurviveTheWireFormat) {
  for (const char* text : {"198.51.100.1:3478", "[2001:db8::1]:49152"}) {
    const SocketAddress a = *SocketAddress::parse(text);
    EXPECT_EQ(from_wire(to_wire(a)), a);
  }
  EXPECT_EQ(from_wire(to_wire(std::optional<SocketAddress>{})), std::nullopt);
  WireSocketAddress junk;
  junk.family = 7;
  EXPECT_EQ(from_wire(junk), std::nullopt);
}

TEST(RingAbi, InstallChannelCarriesEveryFieldOfTheCommand) {
  const ClientFiveTuple client{ClientSocket{*SocketAddress::parse("198.51.100.1:40000")},
                               ListenSocket{*SocketAddress::parse("203.0.113.1:3478")}};
  const auto m = make_install_channel(client, ChannelNumber{0x4001}, PeerSocket{*SocketAddress::parse("[2001:db8::9]:5000")},
                                      *SocketAddress::parse("[2001:db8::1]:50000"), Instant::from_ns(123));
  EXPECT_EQ(m.kind, CommandKind::InstallChannel);
  EXPECT_EQ(m.channel, 0x4001);
  EXPECT_EQ(m.port, 50000);
  EXPECT_EQ(m.expiry_ns, 123u);
  EXPECT_EQ(from_wire(m.client), client.client.value);
  EXPECT_EQ(from_wire(m.listen), client.listen.value);
  EXPECT_EQ(from_wire(m.peer)->to_string(), "[2001:db8::9]:5000");
  EXPECT_EQ(from_wire(m.relay)->to_string(), "[2001:db8::1]:50000");
}

TEST(RingAbi, CreateAllocationMayOmitOneRelayFamily) {
  const ClientFiveTuple client{ClientSocket{*SocketAddress::parse("198.51.100.1:40000")},
                               ListenSocket{*SocketAddress::parse("203.0.113.1:3478")}};
  const auto m = make_create_allocation(AllocationPort{50000}, *SocketAddress::parse("203.0.113.1:50000"),
                                        std::nullopt, client, Instant::from_ns(5));
  EXPECT_TRUE(from_wire(m.relay_v4));
  EXPECT_FALSE(from_wire(m.relay_v6));
  EXPECT_EQ(m.owner, 0u);  // unknown unless given
  EXPECT_EQ(make_create_allocation(AllocationPort{50000}, std::nullopt, *SocketAddress::parse("[2001:db8::1]:50000"),
                                   client, Instant::from_ns(5), 42)
                .owner,
            42u);
}

TEST(RingAbi, NamesCarryTheDeploymentPrefix) {
  EXPECT_EQ(command_ring_name("relay0.", 3), "relay0.cmd.3");
  EXPECT_EQ(ring_name("relay0.", kToControlPlaneRing), "relay0.to_cp");
}

}  // namespace
}  // namespace relay::ring_abi
