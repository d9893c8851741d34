// What a worker serves, as relay-dataplane derives it from the operator's
// configuration and the port, and the port checks made before any worker.
#include <gtest/gtest.h>

#include "dataplane/process/interface.hpp"
#include "dataplane/process/port.hpp"

namespace relay::dpprocess {
namespace {

constexpr MacAddress kPortMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

RelayConfig dual_stack() {
  RelayConfig c;
  c.relay.ipv4 = RelayAddress{*IpAddress::parse("198.51.100.1"), 24, IpAddress::parse("198.51.100.254"),
                              IpAddress::parse("203.0.113.7")};
  c.relay.ipv6 = RelayAddress{*IpAddress::parse("2001:db8:100::1"), 64, std::nullopt, std::nullopt};
  c.relay.listen_port = 3479;
  c.relay.allocation_ports = {50000, 50999};
  c.dataplane.channel_table_capacity = 4096;
  c.dataplane.neighbour_capacity = 64;
  c.dataplane.burst_size = 16;
  return c;
}

TEST(InterfaceConfig, TheWorkerServesTheConfiguredAddressesPortsAndSizesWithThePortsMac) {
  const auto i = interface_config(dual_stack(), kPortMac);
  EXPECT_EQ(i.mac, kPortMac);
  ASSERT_TRUE(i.ipv4 && i.ipv6);
  EXPECT_EQ(i.ipv4->address.to_string(), "198.51.100.1");  // on the wire: ours, not the public one
  EXPECT_EQ(i.ipv4->prefix_len, 24);
  EXPECT_EQ(i.ipv4->gateway->to_string(), "198.51.100.254");
  EXPECT_EQ(i.ipv6->address.to_string(), "2001:db8:100::1");
  EXPECT_FALSE(i.ipv6->gateway);
  EXPECT_EQ(i.listen_port, 3479);
  EXPECT_EQ(i.allocation_ports, (PortRange{50000, 50999}));
  EXPECT_EQ(i.max_channels, 4096u);
  EXPECT_EQ(i.neighbour_capacity, 64u);
  EXPECT_EQ(i.burst_size, 16);
  EXPECT_FALSE(i.vlan);
  EXPECT_TRUE(dataplane::validate(i));
}

TEST(InterfaceConfig, AConfiguredMacAndVlanOverrideThePort) {
  RelayConfig c = dual_stack();
  c.dataplane.mac_address = MacAddress{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
  c.dataplane.vlan = 42;
  const auto i = interface_config(c, kPortMac);
  EXPECT_EQ(mac_text(i.mac), "02:aa:bb:cc:dd:ee");
  EXPECT_EQ(i.vlan, 42);
}

TEST(InterfaceConfig, AnIpv6OnlyRelayHasNoIpv4Side) {
  RelayConfig c = dual_stack();
  c.relay.ipv4.reset();
  const auto i = interface_config(c, kPortMac);
  EXPECT_FALSE(i.ipv4);
  EXPECT_TRUE(dataplane::validate(i));
}

TEST(QueueShortfall, OneQueuePairPerWorkerFits) {
  EXPECT_EQ(queue_shortfall("net_ixgbe", 128, 64, 4), std::nullopt);
  EXPECT_EQ(queue_shortfall("net_af_packet", 1, 1, 1), std::nullopt);
}

TEST(QueueShortfall, MoreWorkersThanThePmdHasQueuesIsOneClearLine) {
  EXPECT_EQ(queue_shortfall("net_af_packet", 1, 1, 2),
            "2 worker lcores need 2 RX and TX queues, but net_af_packet offers 1 RX / 1 TX: use fewer "
            "dataplane.worker_lcores (net_af_packet takes qpairs=N)");
  EXPECT_TRUE(queue_shortfall("net_x", 8, 2, 3));
}

TEST(LinkState, UpSpeedAndDuplexAreWhatChangesAreLoggedFor) {
  rte_eth_link link{};
  link.link_status = RTE_ETH_LINK_UP;
  link.link_speed = RTE_ETH_SPEED_NUM_10G;
  link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
  EXPECT_EQ(link_state(link), (LinkState{true, 10000, true}));
  link.link_status = RTE_ETH_LINK_DOWN;
  EXPECT_EQ(link_state(link), (LinkState{false, 10000, true}));
}

}  // namespace
}  // namespace relay::dpprocess
