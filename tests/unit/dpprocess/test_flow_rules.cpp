// The rte_flow rules relay-dataplane asks the PMD for, checked item by item
// without a device: UDP to the listen port and to the allocation port range
// on each relay address, RSS over the worker queues.
#include <gtest/gtest.h>

#include <rte_byteorder.h>

#include <cstring>

#include "dataplane/process/flow_rules.hpp"

namespace relay::dpprocess {
namespace {

dataplane::InterfaceConfig relay_v4() {
  dataplane::InterfaceConfig c;
  c.ipv4 = dataplane::InterfaceAddress{*IpAddress::parse("198.51.100.1"), 24, std::nullopt};
  c.listen_port = 3478;
  c.allocation_ports = {49152, 65535};  // RFC 8656 §7.2 dynamic range: one aligned block
  return c;
}

std::vector<rte_flow_item_type> types_of(const std::vector<rte_flow_item>& items) {
  std::vector<rte_flow_item_type> types;
  for (const auto& i : items) types.push_back(i.type);
  return types;
}

uint16_t udp_port(const void* item) { return rte_be_to_cpu_16(static_cast<const rte_flow_item_udp*>(item)->hdr.dst_port); }

// How many blocks match each port: the blocks must cover [lo, hi] exactly once.
std::vector<unsigned> coverage(const std::vector<PortBlock>& blocks) {
  std::vector<unsigned> hits(65536, 0);
  for (const auto& b : blocks)
    for (uint32_t port = 0; port < 65536; ++port)
      if ((port & b.mask) == b.value) ++hits[port];
  return hits;
}

void expect_exact_cover(uint16_t lo, uint16_t hi) {
  const auto hits = coverage(port_blocks(lo, hi));
  for (uint32_t port = 0; port < 65536; ++port)
    ASSERT_EQ(hits[port], port >= lo && port <= hi ? 1u : 0u) << "port " << port << " of " << lo << ".." << hi;
}

TEST(PortBlocks, TheDynamicRangeIsOneMaskedBlock) {
  EXPECT_EQ(port_blocks(49152, 65535), (std::vector<PortBlock>{{49152, 0xc000}}));
}

TEST(PortBlocks, OnePortIsAnExactMatch) { EXPECT_EQ(port_blocks(3478, 3478), (std::vector<PortBlock>{{3478, 0xffff}})); }

TEST(PortBlocks, AnUnalignedRangeSplitsIntoTheFewestAlignedBlocks) {
  EXPECT_EQ(port_blocks(50000, 50010),
            (std::vector<PortBlock>{{50000, 0xfff8}, {50008, 0xfffe}, {50010, 0xffff}}));
  expect_exact_cover(50000, 50010);
}

TEST(PortBlocks, EveryRangeIsCoveredExactlyOnceUpToTheTopPort) {
  expect_exact_cover(1, 65535);
  expect_exact_cover(40000, 60001);
  expect_exact_cover(65535, 65535);
  EXPECT_EQ(port_blocks(1, 65535).size(), 16u);
}

TEST(FlowPlan, AnIpv4RelaySteersItsListenPortAndAllocationRangeToEveryWorkerQueue) {
  const auto plan = plan_flow_rules(relay_v4(), 3);
  ASSERT_EQ(plan->matches().size(), 2u);
  EXPECT_EQ(plan->attr().ingress, 1u);
  EXPECT_EQ(plan->attr().egress, 0u);

  const auto listen = plan->matches()[0].pattern();
  ASSERT_EQ(types_of(listen), (std::vector<rte_flow_item_type>{RTE_FLOW_ITEM_TYPE_ETH, RTE_FLOW_ITEM_TYPE_IPV4,
                                                               RTE_FLOW_ITEM_TYPE_UDP, RTE_FLOW_ITEM_TYPE_END}));
  EXPECT_EQ(listen[0].spec, nullptr);  // any Ethernet frame
  const auto* ip = static_cast<const rte_flow_item_ipv4*>(listen[1].spec);
  const auto* ip_mask = static_cast<const rte_flow_item_ipv4*>(listen[1].mask);
  EXPECT_EQ(rte_be_to_cpu_32(ip->hdr.dst_addr), 0xc6336401u);  // 198.51.100.1
  EXPECT_EQ(ip_mask->hdr.dst_addr, UINT32_MAX);
  EXPECT_EQ(ip_mask->hdr.src_addr, 0u);
  EXPECT_EQ(udp_port(listen[2].spec), 3478);
  EXPECT_EQ(udp_port(listen[2].mask), 0xffff);
  EXPECT_EQ(static_cast<const rte_flow_item_udp*>(listen[2].mask)->hdr.src_port, 0);

  const auto range = plan->matches()[1].pattern();
  EXPECT_EQ(udp_port(range[2].spec), 49152);
  EXPECT_EQ(udp_port(range[2].mask), 0xc000);
  EXPECT_EQ(plan->matches()[1].description, "udp 198.51.100.1 dport 49152/0xc000");
}

TEST(FlowPlan, TheActionIsRssOverTheWorkerQueuesThenEnd) {
  const auto plan = plan_flow_rules(relay_v4(), 3);
  const auto actions = plan->actions();
  ASSERT_EQ(actions[0].type, RTE_FLOW_ACTION_TYPE_RSS);
  EXPECT_EQ(actions[1].type, RTE_FLOW_ACTION_TYPE_END);
  const auto* rss = static_cast<const rte_flow_action_rss*>(actions[0].conf);
  ASSERT_EQ(rss, &plan->rss());
  ASSERT_EQ(rss->queue_num, 3u);
  EXPECT_EQ(std::vector<uint16_t>(rss->queue, rss->queue + rss->queue_num), (std::vector<uint16_t>{0, 1, 2}));
  EXPECT_EQ(rss->types, kRssTypes);
  EXPECT_NE(rss->types & RTE_ETH_RSS_NONFRAG_IPV4_UDP, 0u);
  EXPECT_NE(rss->types & RTE_ETH_RSS_NONFRAG_IPV6_UDP, 0u);
  EXPECT_EQ(rss->key_len, 0u);
  EXPECT_EQ(rss->func, RTE_ETH_HASH_FUNCTION_DEFAULT);
}

TEST(FlowPlan, AnIpv6RelayMatchesItsWholeAddress) {
  dataplane::InterfaceConfig c = relay_v4();
  c.ipv4.reset();
  c.ipv6 = dataplane::InterfaceAddress{*IpAddress::parse("2001:db8:100::1"), 64, std::nullopt};
  const auto plan = plan_flow_rules(c, 1);
  ASSERT_EQ(plan->matches().size(), 2u);
  const auto pattern = plan->matches()[0].pattern();
  ASSERT_EQ(types_of(pattern), (std::vector<rte_flow_item_type>{RTE_FLOW_ITEM_TYPE_ETH, RTE_FLOW_ITEM_TYPE_IPV6,
                                                                RTE_FLOW_ITEM_TYPE_UDP, RTE_FLOW_ITEM_TYPE_END}));
  const auto* ip = static_cast<const rte_flow_item_ipv6*>(pattern[1].spec);
  const auto* mask = static_cast<const rte_flow_item_ipv6*>(pattern[1].mask);
  EXPECT_EQ(std::memcmp(ip->hdr.dst_addr, c.ipv6->address.bytes.data(), 16), 0);
  for (uint8_t b : mask->hdr.dst_addr) EXPECT_EQ(b, 0xff);
  for (uint8_t b : mask->hdr.src_addr) EXPECT_EQ(b, 0);
  const auto* rss = static_cast<const rte_flow_action_rss*>(plan->actions()[0].conf);
  EXPECT_EQ(std::vector<uint16_t>(rss->queue, rss->queue + rss->queue_num), (std::vector<uint16_t>{0}));
}

TEST(FlowPlan, ADualStackRelayWithAnUnalignedRangeGetsOneRulePerBlockPerFamily) {
  dataplane::InterfaceConfig c = relay_v4();
  c.ipv6 = dataplane::InterfaceAddress{*IpAddress::parse("2001:db8:100::1"), 64, std::nullopt};
  c.allocation_ports = {50000, 50010};
  const auto plan = plan_flow_rules(c, 2);
  ASSERT_EQ(plan->matches().size(), 2u * (1 + 3));
  EXPECT_EQ(plan->matches()[0].family, Family::V4);
  EXPECT_EQ(plan->matches()[4].family, Family::V6);
  EXPECT_EQ(plan->matches()[7].description, "udp 2001:db8:100::1 dport 50010/0xffff");
}

TEST(FlowPlan, ATaggedRelayMatchesItsVlanIdButNotThePriority) {
  dataplane::InterfaceConfig c = relay_v4();
  c.vlan = 100;
  const auto plan = plan_flow_rules(c, 1);
  const auto pattern = plan->matches()[0].pattern();
  ASSERT_EQ(types_of(pattern),
            (std::vector<rte_flow_item_type>{RTE_FLOW_ITEM_TYPE_ETH, RTE_FLOW_ITEM_TYPE_VLAN, RTE_FLOW_ITEM_TYPE_IPV4,
                                             RTE_FLOW_ITEM_TYPE_UDP, RTE_FLOW_ITEM_TYPE_END}));
  const auto* spec = static_cast<const rte_flow_item_vlan*>(pattern[1].spec);
  const auto* mask = static_cast<const rte_flow_item_vlan*>(pattern[1].mask);
  EXPECT_EQ(rte_be_to_cpu_16(spec->hdr.vlan_tci), 100);
  EXPECT_EQ(rte_be_to_cpu_16(mask->hdr.vlan_tci), 0x0fff);
}

}  // namespace
}  // namespace relay::dpprocess
