#include "controlplane/core/peer_policy.hpp"

#include <algorithm>
#include <cstring>

#include "controlplane/core/fast_hash.hpp"

namespace relay::core {

namespace {
// Special-purpose ranges a public relay must not reach: RFC 6890 registries
// (this network, loopback, private use, shared address space RFC 6598,
// link-local, multicast RFC 5771, reserved) and their IPv6 counterparts
// (unspecified, loopback, unique local RFC 4193, link-local, multicast).
constexpr const char* kBuiltinDeny[] = {
    "0.0.0.0/8",      "127.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16",
    "172.16.0.0/12",  "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128",
    "::1/128",        "fc00::/7",    "fe80::/10",  "ff00::/8",
};

// RFC 4291 §2.5.5: ::a.b.c.d (compatible, deprecated) and ::ffff:a.b.c.d
// (mapped) carry an IPv4 address; judge them as that address, or they would
// smuggle 127.0.0.1 past the IPv4 rules. :: and ::1 stay IPv6 (own rules).
std::optional<IpAddress> embedded_v4(const IpAddress& ip) {
  if (!ip.is_v6()) return std::nullopt;
  static constexpr uint8_t kZero[10] = {};
  if (std::memcmp(ip.bytes.data(), kZero, 10) != 0) return std::nullopt;
  bool mapped = ip.bytes[10] == 0xFF && ip.bytes[11] == 0xFF;
  bool compatible = ip.bytes[10] == 0 && ip.bytes[11] == 0;
  if (!mapped && !compatible) return std::nullopt;
  if (compatible && ip.bytes[12] == 0 && ip.bytes[13] == 0 && ip.bytes[14] == 0 && ip.bytes[15] <= 1)
    return std::nullopt;
  return IpAddress::v4({ip.bytes[12], ip.bytes[13], ip.bytes[14], ip.bytes[15]});
}

std::array<uint64_t, 2> words(const std::array<uint8_t, 16>& bytes) {
  std::array<uint64_t, 2> w{};
  std::memcpy(w.data(), bytes.data(), sizeof w);
  return w;
}

// The prefix's bits set, in address byte order.
std::array<uint8_t, 16> prefix_mask(uint8_t prefix_len) {
  std::array<uint8_t, 16> mask{};
  for (size_t bit = 0; bit < prefix_len && bit < 128; ++bit) mask[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
  return mask;
}
}  // namespace

bool PeerPolicy::Rule::contains(const IpAddress& ip) const {
  const std::array<uint64_t, 2> w = words(ip.bytes);
  return ip.family == net.base.family && ((w[0] & mask[0]) ^ base[0]) == 0 && ((w[1] & mask[1]) ^ base[1]) == 0;
}

PeerPolicy::PeerPolicy(std::vector<IpAddress> relay_addresses, uint16_t port_min, uint16_t port_max,
                       const std::vector<Cidr>& allow, const std::vector<Cidr>& deny)
    : relay_addresses_(std::move(relay_addresses)), port_min_(port_min), port_max_(port_max) {
  for (const char* text : kBuiltinDeny) rules_.push_back({*Cidr::parse(text), PeerVerdict::Deny, Origin::Builtin});
  for (const Cidr& c : allow) rules_.push_back({c, PeerVerdict::Allow, Origin::ConfigAllow});
  for (const Cidr& c : deny) rules_.push_back({c, PeerVerdict::Deny, Origin::ConfigDeny});
  for (Rule& r : rules_) {
    r.mask = words(prefix_mask(r.net.prefix_len));
    const std::array<uint64_t, 2> base = words(r.net.base.bytes);
    r.base = {base[0] & r.mask[0], base[1] & r.mask[1]};
  }
  std::stable_sort(rules_.begin(), rules_.end(), [](const Rule& a, const Rule& b) {
    if (a.net.prefix_len != b.net.prefix_len) return a.net.prefix_len > b.net.prefix_len;
    return static_cast<int>(a.origin) > static_cast<int>(b.origin);
  });
}

PeerVerdict PeerPolicy::check_ip(const IpAddress& ip) const {
  for (const Rule& r : rules_)
    if (r.contains(ip)) return r.verdict;
  return PeerVerdict::Allow;
}

PeerVerdict PeerPolicy::check(const SocketAddress& peer) const {
  auto v4 = embedded_v4(peer.ip);
  const IpAddress& ip = v4 ? *v4 : peer.ip;
  // Two clients both behind symmetric NATs reach each other through two
  // allocations of this relay; any other port of ours is a service of the
  // appliance itself (the listen port, management) and stays closed.
  if (std::ranges::any_of(relay_addresses_, [&](const IpAddress& ours) { return same_ip(ours, ip); }))
    return peer.port >= port_min_ && peer.port <= port_max_ ? PeerVerdict::Allow : PeerVerdict::Deny;
  return check_ip(ip);
}

}  // namespace relay::core
