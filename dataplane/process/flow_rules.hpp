// rte_flow rules that steer the relay's UDP traffic (the listen port and the
// allocation port range, on each relay address) to the worker queues with
// an RSS action. Building them is pure (plan_flow_rules), so the patterns
// are unit-tested without a device; installing them validates every rule
// first and falls back to software classification (the worker's parser
// sees everything the port's RSS hands it) when the PMD refuses any.
#pragma once

#include <rte_ethdev.h>
#include <rte_flow.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/net_types.hpp"
#include "dataplane/config.hpp"

namespace relay::dpprocess {

// UDP destination ports `value` under `mask`: one aligned block of ports,
// the unit a spec/mask pair can match (ranges through `last` are rarely
// offloaded; masks are).
struct PortBlock {
  uint16_t value = 0;
  uint16_t mask = 0;
  auto operator<=>(const PortBlock&) const = default;
};
// The fewest aligned blocks that cover exactly [lowest, highest].
std::vector<PortBlock> port_blocks(uint16_t lowest, uint16_t highest);

// One rule's match: ETH / [VLAN] / IPV4|IPV6 dst / UDP dst port block.
// Plain data; pattern() points into it.
struct FlowMatch {
  Family family = Family::V4;
  std::optional<uint16_t> vlan;
  rte_flow_item_vlan vlan_spec{};
  rte_flow_item_vlan vlan_mask{};
  rte_flow_item_ipv4 ipv4_spec{};
  rte_flow_item_ipv4 ipv4_mask{};
  rte_flow_item_ipv6 ipv6_spec{};
  rte_flow_item_ipv6 ipv6_mask{};
  rte_flow_item_udp udp_spec{};
  rte_flow_item_udp udp_mask{};
  std::string description;  // "udp 198.51.100.1 dport 49152/0xc000"

  // Ends with RTE_FLOW_ITEM_TYPE_END; valid while this FlowMatch lives where it is.
  [[nodiscard]] std::vector<rte_flow_item> pattern() const;
};

// Every rule of one port and the one RSS action they share. The actions
// point into the plan, so it stays where it was made (not copyable, not
// movable: hold it by unique_ptr).
class FlowPlan {
 public:
  FlowPlan(std::vector<FlowMatch> matches, std::vector<uint16_t> queues);
  FlowPlan(const FlowPlan&) = delete;
  FlowPlan& operator=(const FlowPlan&) = delete;

  [[nodiscard]] const rte_flow_attr& attr() const { return attr_; }
  [[nodiscard]] const std::vector<FlowMatch>& matches() const { return matches_; }
  [[nodiscard]] const rte_flow_action_rss& rss() const { return rss_; }
  // RSS over the worker queues, then END.
  [[nodiscard]] std::array<rte_flow_action, 2> actions() const;

 private:
  rte_flow_attr attr_{};
  std::vector<FlowMatch> matches_;
  std::vector<uint16_t> queues_;
  rte_flow_action_rss rss_{};
};

// The RSS hash the rules and the port both use: addresses and UDP ports, so
// one client 5-tuple always lands on one worker.
constexpr uint64_t kRssTypes = RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP;

// Queues 0..queue_count-1; one rule per relay address for the listen port
// and one per port block of the allocation range.
std::unique_ptr<const FlowPlan> plan_flow_rules(const dataplane::InterfaceConfig& config, uint16_t queue_count);

enum class Steering : uint8_t { Flow, Software };

struct InstalledFlows {
  Steering steering = Steering::Software;
  std::vector<rte_flow*> flows;  // empty unless steering == Flow
  std::string refusal;           // why the PMD said no (Software only)
};

// Validates every rule, then creates them all; on the first refusal it
// removes what it created and reports Software with the PMD's reason.
InstalledFlows install_flow_rules(uint16_t port, const FlowPlan& plan);
void remove_flow_rules(uint16_t port, InstalledFlows& installed);

}  // namespace relay::dpprocess
