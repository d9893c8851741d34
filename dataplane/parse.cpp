#include "dataplane/parse.hpp"

namespace relay::dataplane {

LocalIdentity LocalIdentity::from(const InterfaceConfig& c) {
  LocalIdentity me;
  me.mac = c.mac;
  me.vlan = c.vlan.value_or(0);
  if (c.ipv4) {
    me.has_v4 = true;
    std::memcpy(me.v4, c.ipv4->address.bytes.data(), 4);
    // /31 (RFC 3021) and /32 have no directed broadcast; 255.255.255.255 is bogus anyway.
    const unsigned host_bits = c.ipv4->prefix_len <= 30 ? 32u - c.ipv4->prefix_len : 0u;
    const uint32_t host_mask = host_bits == 32 ? 0xFFFFFFFFu : (1u << host_bits) - 1;
    const uint32_t broadcast = host_bits == 0 ? 0xFFFFFFFFu : (load_be32(me.v4) | host_mask);
    store_be32(me.v4_broadcast, broadcast);
  }
  if (c.ipv6) {
    me.has_v6 = true;
    std::memcpy(me.v6, c.ipv6->address.bytes.data(), 16);
    static constexpr uint8_t kSolicitedNodePrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
    std::memcpy(me.v6_solicited_node, kSolicitedNodePrefix, 13);
    std::memcpy(me.v6_solicited_node + 13, me.v6 + 13, 3);
  }
  me.listen_port = c.listen_port;
  me.min_allocation_port = c.allocation_ports.lowest;
  me.max_allocation_port = c.allocation_ports.highest;
  return me;
}

}  // namespace relay::dataplane
