#include "dataplane/process/flow_rules.hpp"

#include <rte_byteorder.h>
#include <rte_errno.h>

#include <cstdio>
#include <cstring>

namespace relay::dpprocess {

namespace {

// 802.1Q: the VLAN id is the low 12 bits of the TCI; priority and DEI are
// not ours to match.
constexpr uint16_t kVlanIdMask = 0x0fff;

std::string block_text(const PortBlock& b) {
  char mask[8];
  std::snprintf(mask, sizeof mask, "%#06x", b.mask);
  return std::to_string(b.value) + "/" + mask;
}

FlowMatch match_for(const IpAddress& dst, const PortBlock& block, std::optional<uint16_t> vlan) {
  FlowMatch m;
  m.family = dst.family;
  m.vlan = vlan;
  if (vlan) {
    m.vlan_spec.hdr.vlan_tci = rte_cpu_to_be_16(*vlan);
    m.vlan_mask.hdr.vlan_tci = rte_cpu_to_be_16(kVlanIdMask);
  }
  if (dst.is_v4()) {
    std::memcpy(&m.ipv4_spec.hdr.dst_addr, dst.bytes.data(), 4);  // both network order
    m.ipv4_mask.hdr.dst_addr = UINT32_MAX;
  } else {
    std::memcpy(m.ipv6_spec.hdr.dst_addr, dst.bytes.data(), 16);
    std::memset(m.ipv6_mask.hdr.dst_addr, 0xff, 16);
  }
  m.udp_spec.hdr.dst_port = rte_cpu_to_be_16(block.value);
  m.udp_mask.hdr.dst_port = rte_cpu_to_be_16(block.mask);
  m.description = "udp " + dst.to_string() + " dport " + block_text(block);
  if (vlan) m.description += " vlan " + std::to_string(*vlan);
  return m;
}

rte_flow_item item(rte_flow_item_type type, const void* spec = nullptr, const void* mask = nullptr) {
  rte_flow_item i{};
  i.type = type;
  i.spec = spec;
  i.mask = mask;
  return i;
}

std::string flow_error_text(const rte_flow_error& error, int rc) {
  std::string text = error.message != nullptr ? error.message : rte_strerror(-rc);
  return text + " (type " + std::to_string(static_cast<int>(error.type)) + ")";
}

}  // namespace

std::vector<PortBlock> port_blocks(uint16_t lowest, uint16_t highest) {
  std::vector<PortBlock> blocks;
  uint32_t lo = lowest;
  const uint32_t hi = highest;
  while (lo <= hi) {
    uint32_t size = 1u << 16;
    while ((lo & (size - 1)) != 0 || lo + size - 1 > hi) size >>= 1;
    blocks.push_back({static_cast<uint16_t>(lo), static_cast<uint16_t>(~(size - 1) & 0xffff)});
    lo += size;
  }
  return blocks;
}

std::vector<rte_flow_item> FlowMatch::pattern() const {
  // ETH without spec: any Ethernet frame; what matters is the IP/UDP below.
  std::vector<rte_flow_item> items{item(RTE_FLOW_ITEM_TYPE_ETH)};
  if (vlan) items.push_back(item(RTE_FLOW_ITEM_TYPE_VLAN, &vlan_spec, &vlan_mask));
  if (family == Family::V4)
    items.push_back(item(RTE_FLOW_ITEM_TYPE_IPV4, &ipv4_spec, &ipv4_mask));
  else
    items.push_back(item(RTE_FLOW_ITEM_TYPE_IPV6, &ipv6_spec, &ipv6_mask));
  items.push_back(item(RTE_FLOW_ITEM_TYPE_UDP, &udp_spec, &udp_mask));
  items.push_back(item(RTE_FLOW_ITEM_TYPE_END));
  return items;
}

FlowPlan::FlowPlan(std::vector<FlowMatch> matches, std::vector<uint16_t> queues)
    : matches_(std::move(matches)), queues_(std::move(queues)) {
  attr_.ingress = 1;
  rss_.func = RTE_ETH_HASH_FUNCTION_DEFAULT;
  rss_.level = 0;  // the PMD's default: the outermost headers here, we never see tunnels
  rss_.types = kRssTypes;
  rss_.key_len = 0;  // the port's key
  rss_.queue_num = static_cast<uint32_t>(queues_.size());
  rss_.queue = queues_.data();
}

std::array<rte_flow_action, 2> FlowPlan::actions() const {
  std::array<rte_flow_action, 2> a{};
  a[0].type = RTE_FLOW_ACTION_TYPE_RSS;
  a[0].conf = &rss_;
  a[1].type = RTE_FLOW_ACTION_TYPE_END;
  return a;
}

std::unique_ptr<const FlowPlan> plan_flow_rules(const dataplane::InterfaceConfig& config, uint16_t queue_count) {
  std::vector<uint16_t> queues(queue_count);
  for (uint16_t q = 0; q < queue_count; ++q) queues[q] = q;
  const PortBlock listen{config.listen_port, 0xffff};
  const auto allocation = port_blocks(config.allocation_ports.lowest, config.allocation_ports.highest);
  std::vector<FlowMatch> matches;
  for (const auto& family : {config.ipv4, config.ipv6}) {
    if (!family) continue;
    matches.push_back(match_for(family->address, listen, config.vlan));
    for (const auto& block : allocation) matches.push_back(match_for(family->address, block, config.vlan));
  }
  return std::make_unique<const FlowPlan>(std::move(matches), std::move(queues));
}

InstalledFlows install_flow_rules(uint16_t port, const FlowPlan& plan) {
  InstalledFlows installed;
  const auto actions = plan.actions();
  auto refuse = [&](const FlowMatch& m, const rte_flow_error& error, int rc) {
    installed.refusal = m.description + ": " + flow_error_text(error, rc);
    remove_flow_rules(port, installed);
    return std::move(installed);
  };
  for (const auto& m : plan.matches()) {
    rte_flow_error error{};
    const auto pattern = m.pattern();
    if (int rc = rte_flow_validate(port, &plan.attr(), pattern.data(), actions.data(), &error); rc != 0)
      return refuse(m, error, rc);
  }
  for (const auto& m : plan.matches()) {
    rte_flow_error error{};
    const auto pattern = m.pattern();
    rte_flow* flow = rte_flow_create(port, &plan.attr(), pattern.data(), actions.data(), &error);
    if (flow == nullptr) return refuse(m, error, -rte_errno);
    installed.flows.push_back(flow);
  }
  installed.steering = Steering::Flow;
  return installed;
}

void remove_flow_rules(uint16_t port, InstalledFlows& installed) {
  for (rte_flow* flow : installed.flows) {
    rte_flow_error error{};
    rte_flow_destroy(port, flow, &error);
  }
  installed.flows.clear();
  installed.steering = Steering::Software;
}

}  // namespace relay::dpprocess
