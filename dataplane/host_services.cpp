#include "dataplane/host_services.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/frame_builder.hpp"

namespace relay::dataplane {

namespace {

constexpr uint8_t kBroadcastMac[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
// Ethernet's minimum frame without FCS (IEEE 802.3 §3.2.8); the NIC adds
// the FCS but not every vdev pads.
constexpr uint16_t kMinFrame = 60;

uint8_t* frame_of(rte_mbuf* m) { return rte_pktmbuf_mtod(m, uint8_t*); }

// The length of a reply built in place: `len` bytes, zero-padded to the
// Ethernet minimum. Without the zeros the padding would carry whatever the
// mbuf held there: the request's own padding, or bytes of an earlier packet
// when the request arrived shorter than the minimum.
uint8_t* set_reply_length(rte_mbuf* m, uint16_t len) {
  const uint16_t padded = std::max(len, kMinFrame);
  uint8_t* f = set_frame_length(m, padded);
  if (f != nullptr) std::memset(f + len, 0, padded - len);
  return f;
}

uint32_t icmpv6_sum(const uint8_t* ip6, const uint8_t* icmp, uint16_t len) {
  return wire::sum_bytes(icmp, len, wire::pseudo_header_sum(ip6 + 8, ip6 + 24, 16, wire::kProtoIcmpv6, len));
}

// Swaps L2 addresses so the frame goes back where it came from, from us.
void turn_around_l2(uint8_t* f, const LocalIdentity& me) {
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, me.mac.data(), 6);
}

Verdict echo_reply_v4(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx) {
  uint8_t* f = frame_of(m);
  uint8_t* ip = f + p.l3;
  uint8_t* icmp = f + p.l4;
  if (p.l4_len < 8 || icmp[1] != 0 || !wire::checksum_ok(wire::sum_bytes(icmp, p.l4_len)))
    return drop(Counter::DropBadIcmp);
  if (!ctx.echo_limiter.allow(ctx.now_tsc)) return drop(Counter::DropEchoRateLimited);
  turn_around_l2(f, ctx.me);
  uint8_t src[4];
  std::memcpy(src, ip + 12, 4);
  std::memcpy(ip + 16, src, 4);
  std::memcpy(ip + 12, ctx.me.v4, 4);
  ip[8] = wire::kTtl;
  store_be16(ip + 10, 0);
  wire::store_checksum(ip + 10, wire::finish_checksum(wire::sum_bytes(ip, p.l4 - p.l3)));
  icmp[0] = wire::kIcmpEchoReply;
  store_be16(icmp + 2, 0);
  wire::store_checksum(icmp + 2, wire::finish_checksum(wire::sum_bytes(icmp, p.l4_len)));
  if (set_reply_length(m, p.end()) == nullptr) return drop(Counter::DropNoHeadroom);
  m->ol_flags = 0;
  return {Next::Tx, Counter::EchoReplies};
}

Verdict echo_reply_v6(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx) {
  uint8_t* f = frame_of(m);
  uint8_t* ip = f + p.l3;
  uint8_t* icmp = f + p.l4;
  if (p.broadcast_or_multicast) return drop(Counter::DropNotForUs);
  if (!ctx.echo_limiter.allow(ctx.now_tsc)) return drop(Counter::DropEchoRateLimited);
  turn_around_l2(f, ctx.me);
  uint8_t src[16];
  std::memcpy(src, ip + 8, 16);
  std::memcpy(ip + 24, src, 16);
  std::memcpy(ip + 8, ctx.me.v6, 16);
  ip[7] = wire::kTtl;
  icmp[0] = wire::kIcmpv6EchoReply;
  store_be16(icmp + 2, 0);
  wire::store_checksum(icmp + 2, wire::finish_checksum(icmpv6_sum(ip, icmp, p.l4_len)));
  if (set_reply_length(m, p.end()) == nullptr) return drop(Counter::DropNoHeadroom);
  m->ol_flags = 0;
  return {Next::Tx, Counter::EchoReplies};
}

// RFC 4861 §4.6.1: the link-layer address option of an NS / NA, if any.
const uint8_t* find_link_layer_option(const uint8_t* icmp, uint16_t len, uint8_t type) {
  for (uint16_t off = wire::kNdMessage; off + 8 <= len;) {
    const uint16_t opt_len = static_cast<uint16_t>(icmp[off + 1] * 8);
    if (opt_len == 0 || off + opt_len > len) return nullptr;  // RFC 4861 §4.6: length 0 is invalid
    if (icmp[off] == type && opt_len >= 8) return icmp + off + 2;
    off = static_cast<uint16_t>(off + opt_len);
  }
  return nullptr;
}

// RFC 4861 §7.2.4: answer an NS for our address with an NA that carries
// our MAC: solicited, to the sender, whose source link-layer option teaches
// us its MAC (§7.2.3; without the option, nothing is learnt); or, for a
// Duplicate Address Detection probe (source ::, RFC 4862 §5.4.3),
// unsolicited to all nodes, so the prober sees the address is taken, like
// an ARP probe's answer.
Verdict neighbour_solicitation(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx) {
  uint8_t* f = frame_of(m);
  uint8_t* ip = f + p.l3;
  uint8_t* icmp = f + p.l4;
  if (std::memcmp(icmp + 8, ctx.me.v6, 16) != 0) return drop(Counter::DropNotForUs);
  static constexpr uint8_t kUnspecified[16] = {};
  static constexpr uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  static constexpr uint8_t kAllNodesMac[6] = {0x33, 0x33, 0, 0, 0, 0x01};  // RFC 2464 §7
  const bool dad = std::memcmp(ip + 8, kUnspecified, 16) == 0;
  const uint8_t* sender_mac = find_link_layer_option(icmp, p.l4_len, wire::kNdOptSourceLinkAddr);
  if (dad && sender_mac != nullptr) return drop(Counter::DropBadIcmp);  // RFC 4861 §7.1.1
  uint8_t dst_mac[6];
  uint8_t dst_ip[16];
  std::memcpy(dst_mac, dad ? kAllNodesMac : sender_mac != nullptr ? sender_mac : f + 6, 6);
  std::memcpy(dst_ip, dad ? kAllNodes : ip + 8, 16);
  if (sender_mac != nullptr) ctx.neighbours.learn(Family::V6, ip + 8, dst_mac, ctx.now_tsc);
  uint8_t* out = set_reply_length(m, static_cast<uint16_t>(p.l4 + 32));
  if (out == nullptr) return drop(Counter::DropNoHeadroom);
  f = out;
  ip = f + p.l3;
  icmp = f + p.l4;
  std::memcpy(f, dst_mac, 6);
  std::memcpy(f + 6, ctx.me.mac.data(), 6);
  store_be16(ip + 4, 32);
  ip[7] = wire::kNdHopLimit;
  std::memcpy(ip + 24, dst_ip, 16);
  std::memcpy(ip + 8, ctx.me.v6, 16);
  icmp[0] = wire::kIcmpv6NeighbourAdvertisement;
  icmp[1] = 0;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, dad ? 0x20000000u : 0x60000000u);  // [Solicited |] Override (RFC 4861 §4.4)
  std::memcpy(icmp + 8, ctx.me.v6, 16);
  icmp[24] = wire::kNdOptTargetLinkAddr;
  icmp[25] = 1;
  std::memcpy(icmp + 26, ctx.me.mac.data(), 6);
  wire::store_checksum(icmp + 2, wire::finish_checksum(icmpv6_sum(ip, icmp, 32)));
  m->ol_flags = 0;
  return {Next::Tx, Counter::NeighbourAdvertisements};
}

Verdict neighbour_advertisement(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx) {
  const uint8_t* f = frame_of(m);
  const uint8_t* icmp = f + p.l4;
  const uint8_t* mac = find_link_layer_option(icmp, p.l4_len, wire::kNdOptTargetLinkAddr);
  if (mac == nullptr) mac = f + 6;
  ctx.neighbours.learn_from_reply(Family::V6, icmp + 8, mac, ctx.now_tsc);
  return drop(Counter::NeighbourUpdatesConsumed);
}

}  // namespace

// RFC 826: answer a request for our IPv4 address in place; learn its
// sender, and take a reply addressed to us as neighbours.hpp says.
//
// The sender must be one that may send: an ARP probe's 0.0.0.0 (RFC 5227
// §2.1.1) is answered, since the answer is how the prober learns that our
// address is taken (Linux answers it too), but nothing is learnt from it;
// any other bogus sender address (bogus_v4_source) or a group or zero
// sender MAC is dropped unanswered.
Verdict handle_arp(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx) {
  uint8_t* f = frame_of(m);
  uint8_t* arp = f + p.l3;
  if (load_be16(arp) != wire::kArpHardwareEthernet || load_be16(arp + 2) != wire::kEtherTypeIpv4 || arp[4] != 6 ||
      arp[5] != 4)
    return drop(Counter::DropBadArp);
  const uint16_t op = load_be16(arp + 6);
  if (!ctx.me.has_v4 || std::memcmp(arp + 24, ctx.me.v4, 4) != 0) return drop(Counter::DropNotForUs);
  uint8_t sender_mac[6];
  uint8_t sender_ip[4];
  std::memcpy(sender_mac, arp + 8, 6);
  std::memcpy(sender_ip, arp + 14, 4);
  static constexpr uint8_t kZero[6] = {};
  const bool probe = op == wire::kArpRequest && std::memcmp(sender_ip, kZero, 4) == 0;
  if ((sender_mac[0] & 0x01) != 0 || std::memcmp(sender_mac, kZero, 6) == 0 ||
      (!probe && bogus_v4_source(sender_ip, ctx.me)))
    return drop(Counter::DropBogusSource);
  if (op == wire::kArpReply) {
    ctx.neighbours.learn_from_reply(Family::V4, sender_ip, sender_mac, ctx.now_tsc);
    return drop(Counter::NeighbourUpdatesConsumed);
  }
  if (op != wire::kArpRequest) return drop(Counter::DropBadArp);
  if (!probe) ctx.neighbours.learn(Family::V4, sender_ip, sender_mac, ctx.now_tsc);
  std::memcpy(f, sender_mac, 6);
  std::memcpy(f + 6, ctx.me.mac.data(), 6);
  store_be16(arp + 6, wire::kArpReply);
  std::memcpy(arp + 8, ctx.me.mac.data(), 6);
  std::memcpy(arp + 14, ctx.me.v4, 4);
  std::memcpy(arp + 18, sender_mac, 6);
  std::memcpy(arp + 24, sender_ip, 4);
  if (set_reply_length(m, static_cast<uint16_t>(p.l3 + wire::kArpPacket)) == nullptr)
    return drop(Counter::DropNoHeadroom);
  m->ol_flags = 0;
  return {Next::Tx, Counter::ArpReplies};
}

Verdict handle_icmp(rte_mbuf* m, const ParsedFrame& p, HostContext& ctx) {
  const uint8_t* f = frame_of(m);
  const uint8_t* icmp = f + p.l4;
  if (p.l3_kind == L3::Ipv4) {
    if (p.l4_len < 8) return drop(Counter::DropBadIcmp);
    if (icmp[0] == wire::kIcmpEchoRequest) return echo_reply_v4(m, p, ctx);
    return drop(Counter::DropUnhandledIcmp);
  }
  if (p.l4_len < 8 || !wire::checksum_ok(icmpv6_sum(f + p.l3, icmp, p.l4_len))) return drop(Counter::DropBadIcmp);
  const uint8_t type = icmp[0];
  if (type == wire::kIcmpv6EchoRequest && icmp[1] == 0) return echo_reply_v6(m, p, ctx);
  if (type == wire::kIcmpv6NeighbourSolicitation || type == wire::kIcmpv6NeighbourAdvertisement) {
    // RFC 4861 §7.1.1/§7.1.2: hop limit 255, code 0, at least 24 bytes.
    if (f[p.l3 + 7] != wire::kNdHopLimit || icmp[1] != 0 || p.l4_len < wire::kNdMessage)
      return drop(Counter::DropBadIcmp);
    return type == wire::kIcmpv6NeighbourSolicitation ? neighbour_solicitation(m, p, ctx)
                                                     : neighbour_advertisement(m, p, ctx);
  }
  return drop(Counter::DropUnhandledIcmp);
}

bool build_solicitation(rte_mbuf* m, const LocalIdentity& me, const NextHop& hop) {
  m->ol_flags = 0;
  if (hop.family == Family::V4) {
    const uint16_t l2 = l2_length(me);
    uint8_t* f = set_frame_length(m, std::max<uint16_t>(static_cast<uint16_t>(l2 + wire::kArpPacket), kMinFrame));
    if (f == nullptr) return false;
    std::memset(f, 0, m->data_len);
    write_ethernet(f, kBroadcastMac, me, wire::kEtherTypeArp);
    uint8_t* arp = f + l2;
    store_be16(arp, wire::kArpHardwareEthernet);
    store_be16(arp + 2, wire::kEtherTypeIpv4);
    arp[4] = 6;
    arp[5] = 4;
    store_be16(arp + 6, wire::kArpRequest);
    std::memcpy(arp + 8, me.mac.data(), 6);
    std::memcpy(arp + 14, me.v4, 4);
    std::memcpy(arp + 24, hop.ip, 4);
    return true;
  }
  // RFC 4861 §7.2.2: NS to the target's solicited-node group, with our MAC.
  const uint16_t l2 = l2_length(me);
  uint8_t* f = set_frame_length(m, static_cast<uint16_t>(l2 + wire::kIpv6Header + 32));
  if (f == nullptr) return false;
  std::memset(f, 0, m->data_len);
  const uint8_t group_mac[6] = {0x33, 0x33, 0xFF, hop.ip[13], hop.ip[14], hop.ip[15]};
  write_ethernet(f, group_mac, me, wire::kEtherTypeIpv6);
  uint8_t* ip = f + l2;
  store_be32(ip, 0x60000000u);
  store_be16(ip + 4, 32);
  ip[6] = wire::kProtoIcmpv6;
  ip[7] = wire::kNdHopLimit;
  std::memcpy(ip + 8, me.v6, 16);
  static constexpr uint8_t kGroupPrefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  std::memcpy(ip + 24, kGroupPrefix, 13);
  std::memcpy(ip + 37, hop.ip + 13, 3);
  uint8_t* icmp = ip + wire::kIpv6Header;
  icmp[0] = wire::kIcmpv6NeighbourSolicitation;
  std::memcpy(icmp + 8, hop.ip, 16);
  icmp[24] = wire::kNdOptSourceLinkAddr;
  icmp[25] = 1;
  std::memcpy(icmp + 26, me.mac.data(), 6);
  wire::store_checksum(icmp + 2, wire::finish_checksum(icmpv6_sum(ip, icmp, 32)));
  return true;
}

// RFC 9293 §3.10.7.1 (CLOSED state): a segment with ACK gets <SEQ=SEG.ACK>
// <CTL=RST>, any other <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, where
// SEG.LEN counts the data and SYN and FIN; an incoming RST is never
// answered (two relays must not reset each other forever). The checksum is
// verified first: a corrupted segment would teach the sender a wrong ACK.
Verdict reset_tcp(rte_mbuf* m, const ParsedFrame& p, const LocalIdentity& me, TokenBucket& limiter,
                  uint64_t now_tsc) {
  uint8_t* f = frame_of(m);
  const uint8_t* tcp = f + p.l4;
  if (p.l4_len < wire::kTcpHeader) return drop(Counter::DropBadTcp);
  const uint16_t header_len = static_cast<uint16_t>((tcp[12] >> 4) * 4);
  if (header_len < wire::kTcpHeader || header_len > p.l4_len) return drop(Counter::DropBadTcp);
  const size_t alen = p.addr_len();
  const uint32_t pseudo = wire::pseudo_header_sum(f + p.src_addr(), f + p.dst_addr(), alen, wire::kProtoTcp, p.l4_len);
  if (!wire::checksum_ok(wire::sum_bytes(tcp, p.l4_len, pseudo))) return drop(Counter::DropBadTcp);
  const uint8_t flags = tcp[13];
  if ((flags & wire::kTcpRst) != 0) return drop(Counter::DropTcpReset);
  if (p.broadcast_or_multicast) return drop(Counter::DropNotForUs);
  if (!limiter.allow(now_tsc)) return drop(Counter::DropTcpResetRateLimited);

  uint8_t ports[4];  // the sender's source and destination ports, swapped below
  std::memcpy(ports, tcp, 4);
  const uint32_t seg_seq = load_be32(tcp + 4);
  const uint32_t seg_ack = load_be32(tcp + 8);
  uint8_t peer[16];
  std::memcpy(peer, f + p.src_addr(), alen);
  const uint8_t* ours = me.address(p.family());
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t out_flags = wire::kTcpRst;
  if ((flags & wire::kTcpAck) != 0) {
    seq = seg_ack;
  } else {
    ack = seg_seq + (p.l4_len - header_len) + ((flags & wire::kTcpSyn) != 0 ? 1 : 0) +
          ((flags & wire::kTcpFin) != 0 ? 1 : 0);
    out_flags |= wire::kTcpAck;
  }

  turn_around_l2(f, me);
  uint8_t* ip = f + p.l3;
  uint8_t* out;
  if (p.l3_kind == L3::Ipv4) {
    // A fresh 20-byte header: the sender's options are not echoed.
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, static_cast<uint16_t>(wire::kIpv4Header + wire::kTcpHeader));
    store_be16(ip + 4, 0);
    store_be16(ip + 6, wire::kIpv4DontFragment);
    ip[8] = wire::kTtl;
    ip[9] = wire::kProtoTcp;
    store_be16(ip + 10, 0);
    std::memcpy(ip + 12, ours, 4);
    std::memcpy(ip + 16, peer, 4);
    wire::store_checksum(ip + 10, wire::finish_checksum(wire::sum_bytes(ip, wire::kIpv4Header)));
    out = ip + wire::kIpv4Header;
  } else {
    store_be32(ip, 0x60000000u);
    store_be16(ip + 4, static_cast<uint16_t>(wire::kTcpHeader));
    ip[6] = wire::kProtoTcp;
    ip[7] = wire::kTtl;
    std::memcpy(ip + 8, ours, 16);
    std::memcpy(ip + 24, peer, 16);
    out = ip + wire::kIpv6Header;
  }
  std::memcpy(out, ports + 2, 2);
  std::memcpy(out + 2, ports, 2);
  store_be32(out + 4, seq);
  store_be32(out + 8, ack);
  out[12] = static_cast<uint8_t>((wire::kTcpHeader / 4) << 4);
  out[13] = out_flags;
  store_be16(out + 14, 0);  // window
  store_be16(out + 16, 0);  // checksum, below
  store_be16(out + 18, 0);  // urgent pointer
  const uint32_t out_pseudo = wire::pseudo_header_sum(ours, peer, alen, wire::kProtoTcp, wire::kTcpHeader);
  wire::store_checksum(out + 16, wire::finish_checksum(wire::sum_bytes(out, wire::kTcpHeader, out_pseudo)));
  if (set_reply_length(m, static_cast<uint16_t>(out + wire::kTcpHeader - f)) == nullptr)
    return drop(Counter::DropNoHeadroom);
  m->ol_flags = 0;
  return {Next::Tx, Counter::TcpResetsSent};
}

}  // namespace relay::dataplane
