#include "dataplane/parse.hpp"

namespace relay::dataplane {

LocalIdentity LocalIdentity::from(const InterfaceConfig& c) {
  LocalIdentity me;
  me.mac = c.mac;
  me.vlan = c.vlan.value_or(0);
  if (c.ipv4) {
    me.has_v4 = true;
    std::memcpy(me.v4, c.ipv4->address.bytes.data(), 4);
  }
  if (c.ipv6) {
    me.has_v6 = true;
    std::memcpy(me.v6, c.ipv6->address.bytes.data(), 16);
    static constexpr uint8_t kSolicitedNodePrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
    std::memcpy(me.v6_solicited_node, kSolicitedNodePrefix, 13);
    std::memcpy(me.v6_solicited_node + 13, me.v6 + 13, 3);
  }
  me.listen_port = c.listen_port;
  me.min_allocation_port = c.min_allocation_port;
  me.max_allocation_port = c.max_allocation_port;
  return me;
}

}  // namespace relay::dataplane
