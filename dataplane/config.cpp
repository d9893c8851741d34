#include "dataplane/config.hpp"

namespace relay::dataplane {

namespace {
Result<void, std::string> validate_address(const InterfaceAddress& a, Family family) {
  const unsigned max_prefix = family == Family::V4 ? 32 : 128;
  if (a.address.family != family) return Err{std::string("interface address of the wrong family")};
  if (a.prefix_len == 0 || a.prefix_len > max_prefix) return Err{std::string("bad prefix length")};
  if (a.gateway && a.gateway->family != family) return Err{std::string("gateway of the wrong family")};
  // Cidr::parse clears the host bits, which contains() relies on.
  auto on_link = Cidr::parse(a.address.to_string() + "/" + std::to_string(a.prefix_len));
  if (a.gateway && (!on_link || !on_link->contains(*a.gateway))) return Err{std::string("gateway is not on-link")};
  return {};
}
}  // namespace

Result<void, std::string> validate(const InterfaceConfig& c) {
  if (!c.ipv4 && !c.ipv6) return Err{std::string("no relay address configured")};
  if (c.ipv4) {
    if (auto r = validate_address(*c.ipv4, Family::V4); !r) return r;
  }
  if (c.ipv6) {
    if (auto r = validate_address(*c.ipv6, Family::V6); !r) return r;
  }
  if ((c.mac[0] & 0x01) != 0) return Err{std::string("interface MAC is a multicast address")};
  if (c.vlan && (*c.vlan == 0 || *c.vlan >= 4095)) return Err{std::string("VLAN id outside 1..4094")};
  if (c.allocation_ports.lowest == 0 || c.allocation_ports.lowest > c.allocation_ports.highest)
    return Err{std::string("bad allocation port range")};
  if (c.allocation_ports.contains(c.listen_port))
    return Err{std::string("listen port inside the allocation port range")};
  if (c.max_channels == 0 || c.max_channels > (1u << 26)) return Err{std::string("max_channels outside 1..2^26")};
  if (c.max_permissions == 0 || c.max_permissions > (1u << 26))
    return Err{std::string("max_permissions outside 1..2^26")};
  if (c.neighbour_capacity == 0 || c.neighbour_capacity > (1u << 20))
    return Err{std::string("neighbour_capacity outside 1..2^20")};
  if (c.burst_size == 0 || c.burst_size > kMaxBurst) return Err{std::string("burst_size outside 1..64")};
  if (c.stun_burst_per_source == 0) return Err{std::string("stun_burst_per_source is zero")};
  if (c.mtu < 1280 || c.mtu > 9000) return Err{std::string("mtu outside 1280..9000")};  // RFC 8200 §5 minimum
  if (c.max_idle_sleep_us == 0 || c.max_idle_sleep_us > 10'000)
    return Err{std::string("max_idle_sleep_us outside 1..10000")};
  if (c.tx_hold_us > 50) return Err{std::string("tx_hold_us outside 0..50")};
  return {};
}

}  // namespace relay::dataplane
