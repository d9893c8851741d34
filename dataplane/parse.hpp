// Userspace parsing of received frames: Ethernet (one optional 802.1Q tag),
// ARP, IPv4 (options allowed, fragments dropped), IPv6 (extension headers
// dropped), UDP with length and checksum checks. Works on a plain byte span
// so the fuzzer and the unit tests need no EAL. Every failure is the
// Counter that names the drop reason.
#pragma once

#include <rte_mbuf_core.h>

#include <cstdint>
#include <cstring>
#include <span>

#include "common/channel_data.hpp"
#include "common/counters_abi.hpp"
#include "common/result.hpp"
#include "dataplane/config.hpp"
#include "dataplane/wire.hpp"

namespace relay::dataplane {

// The interface's own identity in the byte order the wire uses, derived
// once from InterfaceConfig so parsing compares raw bytes.
struct LocalIdentity {
  MacAddress mac{};
  uint16_t vlan = 0;  // 0 = untagged
  bool has_v4 = false;
  bool has_v6 = false;
  uint8_t v4[4] = {};
  uint8_t v4_broadcast[4] = {};  // our subnet's directed broadcast (255.255.255.255 for /31 and /32)
  uint8_t v6[16] = {};
  uint8_t v6_solicited_node[16] = {};  // RFC 4291 §2.7.1 ff02::1:ffXX:XXXX
  uint16_t listen_port = 0;            // host order
  uint16_t min_allocation_port = 0;
  uint16_t max_allocation_port = 0;

  static LocalIdentity from(const InterfaceConfig& c);
  [[nodiscard]] const uint8_t* address(Family f) const { return f == Family::V4 ? v4 : v6; }
  [[nodiscard]] bool has(Family f) const { return f == Family::V4 ? has_v4 : has_v6; }
  [[nodiscard]] bool is_allocation_port(uint16_t p) const {
    return p >= min_allocation_port && p <= max_allocation_port;
  }
};

enum class L3 : uint8_t { Arp, Ipv4, Ipv6 };

struct ParsedFrame {
  L3 l3_kind = L3::Ipv4;
  uint8_t protocol = 0;      // IP protocol / IPv6 next header
  bool broadcast_or_multicast = false;
  uint16_t l3 = 0;           // offset of the ARP/IP header
  uint16_t l4 = 0;           // offset of the L4 header
  uint16_t l4_len = 0;       // L4 bytes according to the IP header
  [[nodiscard]] Family family() const { return l3_kind == L3::Ipv6 ? Family::V6 : Family::V4; }
  [[nodiscard]] size_t addr_len() const { return l3_kind == L3::Ipv6 ? 16 : 4; }
  // Offsets of the source/destination address inside the frame.
  [[nodiscard]] uint16_t src_addr() const { return static_cast<uint16_t>(l3 + (l3_kind == L3::Ipv6 ? 8 : 12)); }
  [[nodiscard]] uint16_t dst_addr() const { return static_cast<uint16_t>(l3 + (l3_kind == L3::Ipv6 ? 24 : 16)); }
  [[nodiscard]] uint16_t end() const { return static_cast<uint16_t>(l4 + l4_len); }
};

// What a parsing step returns: accepted, or the Counter that names the
// drop reason. As small as a Counter, so it stays in a register: a
// std::optional<Counter> here cost ~20 cycles/packet (bench-dataplane).
class [[nodiscard]] ParseOutcome {
 public:
  constexpr ParseOutcome(Counter drop_reason) : reason_(drop_reason) {}  // NOLINT(google-explicit-constructor)
  static constexpr ParseOutcome accept() { return ParseOutcome(Counter::Count_); }  // no row of the table
  [[nodiscard]] constexpr bool accepted() const { return reason_ == Counter::Count_; }
  [[nodiscard]] constexpr Counter reason() const { return reason_; }  // when !accepted()

 private:
  Counter reason_;
};
constexpr ParseOutcome kAccepted = ParseOutcome::accept();

struct UdpView {
  uint16_t src_port = 0;  // host order
  uint16_t dst_port = 0;
  uint16_t payload = 0;   // offset in the frame
  uint16_t payload_len = 0;
  // The datagram carries a checksum known to be right (we verified it or
  // the NIC did), so rewrites may update it incrementally.
  bool checksum_valid = false;
};

namespace detail {

inline bool is_broadcast(const uint8_t* mac) {
  return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xFF;
}

}  // namespace detail

// Source addresses no datagram to us may carry: "this network" 0/8 and
// loopback 127/8 (RFC 1122 §3.2.1.3), multicast 224/4 (RFC 1112 §4),
// reserved 240/4 with the limited broadcast, our subnet's broadcast, and
// our own address (a loop, or someone spoofing us). Answering or relaying
// for them reflects traffic at a whole subnet, at a loop, or at nobody.
inline bool bogus_v4_source(const uint8_t* a, const LocalIdentity& me) {
  if (a[0] == 0 || a[0] == 127 || a[0] >= 224) return true;
  return std::memcmp(a, me.v4, 4) == 0 || std::memcmp(a, me.v4_broadcast, 4) == 0;
}

// The same for IPv6: multicast ff00::/8 (RFC 4291 §2.7), ::/96 (the
// unspecified and loopback addresses, §2.5.2-§2.5.3, and the deprecated
// IPv4-compatible ones, §2.5.5.1), IPv4-mapped ::ffff:0:0/96 (§2.5.5.2, not
// an address on the wire) and our own. The caller lets :: through where it
// is legal: a Duplicate Address Detection probe (RFC 4862 §5.4.2).
inline bool bogus_v6_source(const uint8_t* a, const LocalIdentity& me) {
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  static constexpr uint8_t kZeroPrefix[12] = {};
  if (a[0] == 0xFF) return true;
  if (std::memcmp(a, kZeroPrefix, 12) == 0 || std::memcmp(a, kMappedPrefix, 12) == 0) return true;
  return me.has_v6 && std::memcmp(a, me.v6, 16) == 0;
}

namespace detail {

// Ethernet + optional VLAN tag → L3 offset and ethertype.
inline ParseOutcome parse_l2(std::span<const uint8_t> f, const LocalIdentity& me, uint16_t& ethertype, ParsedFrame& p) {
  if (f.size() < wire::kEthernetHeader) return Counter::DropTruncated;
  const uint8_t* dst = f.data();
  const bool unicast_to_us = std::memcmp(dst, me.mac.data(), 6) == 0;
  // IPv6 multicast MACs 33:33:xx (RFC 2464 §7) carry NS to our solicited-node group.
  const bool multicast_ok = is_broadcast(dst) || (dst[0] == 0x33 && dst[1] == 0x33);
  if (!unicast_to_us && !multicast_ok) return Counter::DropNotForUs;
  if ((f[6] & 0x01) != 0) return Counter::DropBogusSource;  // a group MAC never sends (IEEE 802 §8.2)
  p.broadcast_or_multicast = !unicast_to_us;
  ethertype = load_be16(f.data() + 12);
  p.l3 = wire::kEthernetHeader;
  uint16_t vlan = 0;
  if (ethertype == wire::kEtherTypeVlan) {
    if (f.size() < wire::kEthernetHeader + wire::kVlanTag) return Counter::DropTruncated;
    vlan = load_be16(f.data() + 14) & 0x0FFF;
    ethertype = load_be16(f.data() + 16);
    p.l3 = wire::kEthernetHeader + wire::kVlanTag;
  }
  if (vlan != me.vlan) return Counter::DropWrongVlan;
  return kAccepted;
}

inline ParseOutcome parse_ipv4(std::span<const uint8_t> f, ParsedFrame& p, const LocalIdentity& me, uint64_t ol_flags) {
  const size_t avail = f.size() - p.l3;
  const uint8_t* ip = f.data() + p.l3;
  if (avail < wire::kIpv4Header) return Counter::DropTruncated;
  const size_t ihl = size_t{ip[0] & 0x0Fu} * 4;
  if ((ip[0] >> 4) != 4 || ihl < wire::kIpv4Header) return Counter::DropBadIpHeader;
  const size_t total = load_be16(ip + 2);
  if (ihl > avail || total > avail) return Counter::DropTruncated;
  if (total < ihl) return Counter::DropBadIpHeader;
  if (!me.has_v4 || std::memcmp(ip + 16, me.v4, 4) != 0) return Counter::DropNotForUs;
  const uint64_t ip_csum = ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ip_csum == RTE_MBUF_F_RX_IP_CKSUM_BAD) return Counter::DropBadIpChecksum;
  if (ip_csum != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !wire::checksum_ok(wire::sum_bytes(ip, ihl)))
    return Counter::DropBadIpChecksum;
  const uint16_t frag = load_be16(ip + 6);
  if ((frag & (wire::kIpv4MoreFragments | wire::kIpv4FragmentOffsetMask)) != 0) return Counter::DropIpFragment;
  if (bogus_v4_source(ip + 12, me)) return Counter::DropBogusSource;
  p.l3_kind = L3::Ipv4;
  p.protocol = ip[9];
  p.l4 = static_cast<uint16_t>(p.l3 + ihl);
  p.l4_len = static_cast<uint16_t>(total - ihl);
  return kAccepted;
}

inline ParseOutcome parse_ipv6(std::span<const uint8_t> f, ParsedFrame& p, const LocalIdentity& me) {
  const size_t avail = f.size() - p.l3;
  const uint8_t* ip = f.data() + p.l3;
  if (avail < wire::kIpv6Header) return Counter::DropTruncated;
  if ((ip[0] >> 4) != 6) return Counter::DropBadIpHeader;
  const size_t payload = load_be16(ip + 4);
  if (payload > avail - wire::kIpv6Header) return Counter::DropTruncated;
  const bool to_us = me.has_v6 && std::memcmp(ip + 24, me.v6, 16) == 0;
  const bool to_our_group = me.has_v6 && std::memcmp(ip + 24, me.v6_solicited_node, 16) == 0;
  if (!to_us && !to_our_group) return Counter::DropNotForUs;
  const uint8_t nh = ip[6];
  if (wire::is_ipv6_extension_header(nh)) return Counter::DropIpv6ExtensionHeader;
  // Only Neighbour Discovery may use the multicast group (checked by the ND handler).
  if (to_our_group && nh != wire::kProtoIcmpv6) return Counter::DropNotForUs;
  static constexpr uint8_t kUnspecified[16] = {};
  const bool dad_probe = nh == wire::kProtoIcmpv6 && payload >= 1 &&
                         ip[wire::kIpv6Header] == wire::kIcmpv6NeighbourSolicitation &&
                         std::memcmp(ip + 8, kUnspecified, 16) == 0;
  if (bogus_v6_source(ip + 8, me) && !dad_probe) return Counter::DropBogusSource;
  p.l3_kind = L3::Ipv6;
  p.protocol = nh;
  p.l4 = static_cast<uint16_t>(p.l3 + wire::kIpv6Header);
  p.l4_len = static_cast<uint16_t>(payload);
  return kAccepted;
}

}  // namespace detail

// Reads the frame's headers up to L4 into `p`; checks lengths, IPv4 header
// checksum, fragmentation, extension headers and that the frame is
// addressed to us (unicast MAC, or broadcast/multicast for ARP/ND). Returns
// kAccepted or the drop reason. ~15 cycles for IPv4. (An out-parameter
// because the worker parses straight into its per-packet stage: copying a
// returned struct of narrow fields costs store-forwarding stalls.)
inline ParseOutcome parse_frame_into(std::span<const uint8_t> f, const LocalIdentity& me, uint64_t ol_flags,
                                     ParsedFrame& p) {
  uint16_t ethertype = 0;
  p = ParsedFrame{};
  if (const ParseOutcome o = detail::parse_l2(f, me, ethertype, p); !o.accepted()) [[unlikely]]
    return o;
  switch (ethertype) {
    case wire::kEtherTypeIpv4:
      if (p.broadcast_or_multicast) return Counter::DropNotForUs;
      return detail::parse_ipv4(f, p, me, ol_flags);
    case wire::kEtherTypeIpv6:
      return detail::parse_ipv6(f, p, me);
    case wire::kEtherTypeArp:
      if (f.size() - p.l3 < wire::kArpPacket) return Counter::DropTruncated;
      p.l3_kind = L3::Arp;
      p.l4 = p.l3;
      p.l4_len = wire::kArpPacket;
      return kAccepted;
    default:
      return Counter::DropUnknownEthertype;
  }
}

inline Result<ParsedFrame, Counter> parse_frame(std::span<const uint8_t> f, const LocalIdentity& me,
                                                uint64_t ol_flags) {
  ParsedFrame p;
  if (const ParseOutcome o = parse_frame_into(f, me, ol_flags, p); !o.accepted()) return Err{o.reason()};
  return p;
}

// UDP header of an IP frame parse_frame accepted: the UDP length must equal
// the IP payload length; the checksum is verified unless the NIC says good
// (zero means "none" over IPv4 only, RFC 768 / RFC 8200 §8.1).
inline ParseOutcome parse_udp_into(std::span<const uint8_t> f, const ParsedFrame& p, uint64_t ol_flags, UdpView& u) {
  if (p.l4_len < wire::kUdpHeader) return Counter::DropBadUdpLength;
  const uint8_t* udp = f.data() + p.l4;
  if (load_be16(udp + 4) != p.l4_len) return Counter::DropBadUdpLength;
  const uint64_t l4_csum = ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  if (l4_csum == RTE_MBUF_F_RX_L4_CKSUM_BAD) return Counter::DropBadUdpChecksum;
  const bool absent = load_be16(udp + 6) == 0;
  if (absent && p.l3_kind == L3::Ipv6) return Counter::DropBadUdpChecksum;
  if (l4_csum != RTE_MBUF_F_RX_L4_CKSUM_GOOD && !absent) {
    uint32_t sum = wire::pseudo_header_sum(f.data() + p.src_addr(), f.data() + p.dst_addr(), p.addr_len(),
                                           wire::kProtoUdp, p.l4_len);
    if (!wire::checksum_ok(wire::sum_bytes(udp, p.l4_len, sum))) return Counter::DropBadUdpChecksum;
  }
  u.src_port = load_be16(udp);
  u.dst_port = load_be16(udp + 2);
  u.payload = static_cast<uint16_t>(p.l4 + wire::kUdpHeader);
  u.payload_len = static_cast<uint16_t>(p.l4_len - wire::kUdpHeader);
  u.checksum_valid = !absent;
  return kAccepted;
}

inline Result<UdpView, Counter> parse_udp(std::span<const uint8_t> f, const ParsedFrame& p, uint64_t ol_flags) {
  UdpView u;
  if (const ParseOutcome o = parse_udp_into(f, p, ol_flags, u); !o.accepted()) return Err{o.reason()};
  return u;
}

}  // namespace relay::dataplane
