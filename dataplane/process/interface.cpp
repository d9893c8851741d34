#include "dataplane/process/interface.hpp"

#include <cstdio>

namespace relay::dpprocess {

namespace {
std::optional<dataplane::InterfaceAddress> interface_address(const std::optional<RelayAddress>& a) {
  if (!a) return std::nullopt;
  // The advertised (public) address is the control plane's business; on the
  // wire the data plane answers for the address it owns.
  return dataplane::InterfaceAddress{a->address, a->prefix_len, a->gateway};
}
}  // namespace

dataplane::InterfaceConfig interface_config(const RelayConfig& config, const MacAddress& port_mac) {
  const auto& dp = config.dataplane;
  dataplane::InterfaceConfig c;
  c.mac = dp.mac_address.value_or(port_mac);
  c.vlan = dp.vlan;
  c.ipv4 = interface_address(config.relay.ipv4);
  c.ipv6 = interface_address(config.relay.ipv6);
  c.listen_port = config.relay.listen_port;
  c.allocation_ports = config.relay.allocation_ports;
  c.max_channels = dp.channel_table_capacity;
  c.max_permissions = dp.permission_table_capacity;
  c.data_indication_fingerprint = dp.data_indication_fingerprint;
  c.neighbour_capacity = dp.neighbour_capacity;
  c.burst_size = dp.burst_size;
  c.stun_rate_per_source = dp.stun_rate_per_source;
  c.stun_burst_per_source = dp.stun_burst_per_source;
  const StreamPorts streams = stream_ports(config);
  size_t n = 0;
  if (streams.tcp) c.stream_ports[n++] = *streams.tcp;
  for (uint16_t p : streams.tls)
    if (n < c.stream_ports.size()) c.stream_ports[n++] = p;
  c.idle = dp.idle;
  c.max_idle_sleep_us = dp.max_idle_sleep_us;
  c.tx_hold_us = dp.tx_hold_us;
  return c;
}

}  // namespace relay::dpprocess
