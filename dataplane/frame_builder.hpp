// Writing headers in place: reshaping an mbuf so that kept bytes (a UDP
// payload, a ChannelData body) get exactly the headers the output needs in
// front of them, and filling Ethernet/IPv4/IPv6/UDP with checksums (in
// software, or prepared for the NIC when kTxOffload).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>

#include "dataplane/parse.hpp"
#include "dataplane/wire.hpp"

namespace relay::dataplane {

inline uint16_t l2_length(const LocalIdentity& me) {
  return static_cast<uint16_t>(wire::kEthernetHeader + (me.vlan != 0 ? wire::kVlanTag : 0));
}
inline uint16_t ip_length(Family f) { return f == Family::V4 ? wire::kIpv4Header : wire::kIpv6Header; }

// Moves the start of the frame so `prefix` bytes of header room precede the
// kept bytes at `keep_offset`, and cuts the frame right after `keep_len`
// kept bytes. Returns the new frame start, or nullptr when the headroom is
// too small (never happens with RTE_PKTMBUF_HEADROOM ≥ 62).
inline uint8_t* reframe(rte_mbuf* m, uint16_t keep_offset, uint16_t keep_len, uint16_t prefix) {
  if (keep_offset >= prefix) {
    rte_pktmbuf_adj(m, static_cast<uint16_t>(keep_offset - prefix));
  } else if (rte_pktmbuf_prepend(m, static_cast<uint16_t>(prefix - keep_offset)) == nullptr) [[unlikely]] {
    return nullptr;
  }
  const uint16_t want = static_cast<uint16_t>(prefix + keep_len);
  rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - want));
  return rte_pktmbuf_mtod(m, uint8_t*);
}

// Grows or shrinks a single-segment frame to `len` bytes from its start.
inline uint8_t* set_frame_length(rte_mbuf* m, uint16_t len) {
  if (len <= m->data_len) {
    rte_pktmbuf_trim(m, static_cast<uint16_t>(m->data_len - len));
  } else if (rte_pktmbuf_append(m, static_cast<uint16_t>(len - m->data_len)) == nullptr) [[unlikely]] {
    return nullptr;
  }
  return rte_pktmbuf_mtod(m, uint8_t*);
}

inline uint16_t write_ethernet(uint8_t* f, const uint8_t* dst_mac, const LocalIdentity& me, uint16_t ethertype) {
  std::memcpy(f, dst_mac, 6);
  std::memcpy(f + 6, me.mac.data(), 6);
  if (me.vlan != 0) {
    store_be16(f + 12, wire::kEtherTypeVlan);
    store_be16(f + 14, me.vlan);
    store_be16(f + 16, ethertype);
    return 18;
  }
  store_be16(f + 12, ethertype);
  return 14;
}

struct UdpAddressing {
  Family family;
  const uint8_t* src_ip;
  uint16_t src_port_be;
  const uint8_t* dst_ip;
  uint16_t dst_port_be;
};

// "No partial sum known": real sums are folded to 16 bits, so never this.
constexpr uint32_t kUnknownSum = UINT32_MAX;

// The ones' complement sum of the bytes [keep_offset, keep_offset +
// keep_len) of a received UDP datagram whose checksum is valid (verified, or
// the NIC said good), computed from what is NOT kept: the datagram sums to
// 0xFFFF, so the kept bytes sum to the complement of the rest (RFC 1624
// arithmetic). Reads the pseudo-header, the UDP header, anything between it
// and the kept bytes (a ChannelData header) and trailing padding: ~15
// cycles whatever the payload size, instead of ~0.5 cycle/byte. The kept
// bytes must start at an even offset from the UDP header, as they do.
inline uint32_t kept_bytes_sum(const uint8_t* f, const ParsedFrame& p, uint16_t keep_offset, uint16_t keep_len) {
  uint32_t rest = wire::pseudo_header_sum(f + p.src_addr(), f + p.dst_addr(), p.addr_len(), wire::kProtoUdp, p.l4_len);
  rest = wire::sum_bytes(f + p.l4, keep_offset - p.l4, rest);
  const auto kept_end = static_cast<uint16_t>(keep_offset + keep_len);
  const auto tail = static_cast<uint16_t>(p.end() - kept_end);
  if (tail != 0) [[unlikely]] {
    if ((kept_end - p.l4) % 2 == 0) {
      rest = wire::sum_bytes(f + kept_end, tail, rest);
    } else {
      // Padding that starts mid-word: pair its first byte with a zero.
      uint8_t shifted[64] = {};
      const uint16_t n = tail < sizeof shifted - 1 ? tail : static_cast<uint16_t>(sizeof shifted - 1);
      std::memcpy(shifted + 1, f + kept_end, n);
      rest = wire::sum_bytes(shifted, n + 1u, rest);
      if (n < tail) rest = wire::sum_bytes(f + kept_end + n, tail - n, rest);  // 63 bytes later: aligned again
    }
  }
  return static_cast<uint16_t>(~wire::fold(rest));
}

// Writes L2/IP/UDP in front of `udp_payload_len` bytes that already sit at
// f + l2 + ip + 8, including the UDP checksum over them: from
// `payload_sum` (the ones' complement sum of those bytes) when the caller
// knows it, else by summing them (~0.5 cycle/byte); with kTxOffload only
// the pseudo-header. Addresses must not point into the bytes being
// overwritten.
template <bool kTxOffload>
inline void write_udp_frame(rte_mbuf* m, uint8_t* f, const LocalIdentity& me, const uint8_t* dst_mac,
                            const UdpAddressing& a, uint16_t udp_payload_len,
                            uint32_t payload_sum = kUnknownSum) {
  const bool v4 = a.family == Family::V4;
  const uint16_t l2 = write_ethernet(f, dst_mac, me, v4 ? wire::kEtherTypeIpv4 : wire::kEtherTypeIpv6);
  uint8_t* ip = f + l2;
  const uint16_t udp_len = static_cast<uint16_t>(wire::kUdpHeader + udp_payload_len);
  const size_t alen = v4 ? 4 : 16;
  uint8_t* udp;
  if (v4) {
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, static_cast<uint16_t>(wire::kIpv4Header + udp_len));
    store_be16(ip + 4, 0);  // ID: DF set, no fragmentation, so the ID is unused (RFC 6864 §4.1)
    store_be16(ip + 6, wire::kIpv4DontFragment);
    ip[8] = wire::kTtl;
    ip[9] = wire::kProtoUdp;
    store_be16(ip + 10, 0);
    std::memcpy(ip + 12, a.src_ip, 4);
    std::memcpy(ip + 16, a.dst_ip, 4);
    udp = ip + wire::kIpv4Header;
  } else {
    store_be32(ip, 0x60000000u);
    store_be16(ip + 4, udp_len);
    ip[6] = wire::kProtoUdp;
    ip[7] = wire::kTtl;
    std::memcpy(ip + 8, a.src_ip, 16);
    std::memcpy(ip + 24, a.dst_ip, 16);
    udp = ip + wire::kIpv6Header;
  }
  std::memcpy(udp, &a.src_port_be, 2);
  std::memcpy(udp + 2, &a.dst_port_be, 2);
  store_be16(udp + 4, udp_len);
  store_be16(udp + 6, 0);
  // Checksums are summed from the values, never re-read from the header
  // just written (that re-read stalls on store forwarding, ~40 cycles).
  const uint32_t addresses = wire::sum_bytes(a.dst_ip, alen, wire::sum_bytes(a.src_ip, alen));
  const uint32_t pseudo = addresses + rte_cpu_to_be_16(wire::kProtoUdp) + rte_cpu_to_be_16(udp_len);
  if constexpr (kTxOffload) {
    m->l2_len = l2;
    m->l3_len = ip_length(a.family);
    m->ol_flags = v4 ? (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM)
                     : (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM);
    const uint16_t folded = wire::fold(pseudo);
    wire::store_checksum(udp + 6, folded);
  } else {
    m->ol_flags = 0;
    if (v4) {
      const uint32_t header = addresses + rte_cpu_to_be_16(0x4500) + rte_cpu_to_be_16(wire::kIpv4Header + udp_len) +
                              rte_cpu_to_be_16(wire::kIpv4DontFragment) +
                              rte_cpu_to_be_16(uint16_t{wire::kTtl} << 8 | wire::kProtoUdp);
      wire::store_checksum(ip + 10, wire::finish_checksum(header));
    }
    const uint32_t udp_header = uint32_t{a.src_port_be} + a.dst_port_be + rte_cpu_to_be_16(udp_len);
    const uint32_t sum = payload_sum != kUnknownSum ? pseudo + udp_header + payload_sum
                                                    : wire::sum_bytes(udp + wire::kUdpHeader, udp_payload_len,
                                                                      pseudo + udp_header);
    wire::store_checksum(udp + 6, wire::finish_udp_checksum(sum));
  }
}

}  // namespace relay::dataplane
