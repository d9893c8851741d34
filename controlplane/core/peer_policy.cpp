#include "controlplane/core/peer_policy.hpp"

#include <algorithm>
#include <cstring>

#include "controlplane/core/fast_hash.hpp"

namespace relay::core {

namespace {
// Special-purpose ranges a public relay must not reach: RFC 6890 registries
// (this network, loopback, private use, shared address space RFC 6598,
// link-local, IETF protocol assignments, benchmarking RFC 2544, multicast
// RFC 5771, reserved) and their IPv6 counterparts (unspecified, loopback,
// discard-only RFC 6666, benchmarking RFC 5180, unique local RFC 4193,
// site-local RFC 3879, link-local, multicast).
//
// The translation prefixes are denied whole (RFC 8656 §21.4 asks relays to
// block what leads into internal networks; a public relay has no use for
// them): NAT64 (RFC 6052 64:ff9b::/96, RFC 8215 64:ff9b:1::/48), 6to4
// (RFC 3056 2002::/16), Teredo (RFC 4380 2001::/32) and IPv4-translated
// (RFC 2765 ::ffff:0:0:0/96). Each carries an IPv4 address that a
// translator on the path would deliver to, so when a configured allow
// re-opens one, that IPv4 is still judged (translated_v4).
constexpr const char* kBuiltinDeny[] = {
    "0.0.0.0/8",      "127.0.0.0/8",   "10.0.0.0/8",     "100.64.0.0/10", "169.254.0.0/16",
    "172.16.0.0/12",  "192.0.0.0/24",  "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
    "240.0.0.0/4",    "::/128",        "::1/128",        "100::/64",      "2001:2::/48",
    "fc00::/7",       "fec0::/10",     "fe80::/10",      "ff00::/8",      "64:ff9b::/96",
    "64:ff9b:1::/48", "2002::/16",     "2001::/32",      "::ffff:0:0:0/96",
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

// The IPv4 addresses an IPv6 address of a translation prefix may stand for;
// every reading is judged and one denied IPv4 denies the peer.
struct TranslatedV4 {
  std::array<IpAddress, 4> v4{};
  size_t count = 0;
  void add(const std::array<uint8_t, 16>& b, std::array<size_t, 4> at, uint8_t flip = 0) {
    v4[count++] = IpAddress::v4({static_cast<uint8_t>(b[at[0]] ^ flip), static_cast<uint8_t>(b[at[1]] ^ flip),
                                 static_cast<uint8_t>(b[at[2]] ^ flip), static_cast<uint8_t>(b[at[3]] ^ flip)});
  }
};

// `opened_by` is the length of the configured allow that re-opened the
// address's prefix: a local-use NAT64 prefix (RFC 8215) is as long as the
// operator made it, at least that long, so every RFC 6052 §2.2 layout from
// there to /96 is a reading (re-opening exactly a /96 gives exactly one).
TranslatedV4 translated_v4(const IpAddress& ip, uint8_t opened_by) {
  TranslatedV4 out;
  if (!ip.is_v6()) return out;
  const auto& b = ip.bytes;
  auto starts = [&](std::initializer_list<uint8_t> prefix) { return std::equal(prefix.begin(), prefix.end(), b.begin()); };
  if (starts({0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0})) {
    out.add(b, {12, 13, 14, 15});  // RFC 6052 §2.1 well-known prefix, /96
  } else if (starts({0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01})) {
    // The octet at bits 64..71 is "u", never address.
    if (opened_by <= 48) out.add(b, {6, 7, 9, 10});
    if (opened_by <= 56) out.add(b, {7, 9, 10, 11});
    if (opened_by <= 64) out.add(b, {9, 10, 11, 12});
    out.add(b, {12, 13, 14, 15});
  } else if (starts({0x20, 0x02})) {
    out.add(b, {2, 3, 4, 5});  // RFC 3056 §2: 2002:V4ADDR::/48
  } else if (starts({0x20, 0x01, 0x00, 0x00})) {
    out.add(b, {4, 5, 6, 7});             // RFC 4380 §4: the Teredo server
    out.add(b, {12, 13, 14, 15}, 0xFF);  // the client's mapped address, inverted
  } else if (starts({0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0})) {
    out.add(b, {12, 13, 14, 15});  // RFC 2765 §2.1 IPv4-translated
  }
  return out;
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

PeerPolicy::PeerPolicy(std::vector<IpAddress> relay_addresses, PortRange allocation_ports,
                       const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
                       const std::vector<Cidr>& local_networks)
    : relay_addresses_(std::move(relay_addresses)), allocation_ports_(allocation_ports) {
  for (const char* text : kBuiltinDeny) rules_.push_back({*Cidr::parse(text), PeerVerdict::Deny, Origin::Builtin});
  for (const Cidr& c : local_networks) rules_.push_back({c, PeerVerdict::Deny, Origin::Builtin});
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

const PeerPolicy::Rule* PeerPolicy::match(const IpAddress& ip) const {
  for (const Rule& r : rules_)
    if (r.contains(ip)) return &r;
  return nullptr;
}

PeerVerdict PeerPolicy::judge(const IpAddress& ip, uint16_t port) const {
  // Two clients both behind symmetric NATs reach each other through two
  // allocations of this relay; any other port of ours is a service of the
  // appliance itself (the listen port, management) and stays closed.
  if (std::ranges::any_of(relay_addresses_, [&](const IpAddress& ours) { return same_ip(ours, ip); }))
    return allocation_ports_.contains(port) ? PeerVerdict::Allow : PeerVerdict::Deny;
  const Rule* rule = match(ip);
  return rule != nullptr ? rule->verdict : PeerVerdict::Allow;
}

PeerVerdict PeerPolicy::check(const SocketAddress& peer) const {
  if (auto v4 = embedded_v4(peer.ip)) return judge(*v4, peer.port);
  if (judge(peer.ip, peer.port) == PeerVerdict::Deny) return PeerVerdict::Deny;
  // Past the built-in deny, a translation prefix was re-opened by a
  // configured allow; the IPv4 behind the translator is judged all the same.
  const Rule* opened = match(peer.ip);
  const TranslatedV4 translated = translated_v4(peer.ip, opened != nullptr ? opened->net.prefix_len : 0);
  for (size_t i = 0; i < translated.count; ++i)
    if (judge(translated.v4[i], peer.port) == PeerVerdict::Deny) return PeerVerdict::Deny;
  return PeerVerdict::Allow;
}

}  // namespace relay::core
