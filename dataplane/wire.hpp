// Header sizes, field offsets and protocol numbers of the frames the worker
// parses and builds, plus the Internet checksum helpers. Offsets rather than
// packed structs: every read goes through load_be16/32 on a bounds-checked
// span, which keeps the fuzzer and UBSan quiet about alignment.
#pragma once

#include <rte_ip.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/channel_data.hpp"

namespace relay::dataplane::wire {

// IEEE 802.3 / 802.1Q.
constexpr size_t kEthernetHeader = 14;
constexpr size_t kVlanTag = 4;
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;

// RFC 826 ARP for IPv4 over Ethernet.
constexpr size_t kArpPacket = 28;
constexpr uint16_t kArpHardwareEthernet = 1;
constexpr uint16_t kArpRequest = 1;
constexpr uint16_t kArpReply = 2;

// RFC 791 §3.1.
constexpr size_t kIpv4Header = 20;
constexpr uint16_t kIpv4MoreFragments = 0x2000;
constexpr uint16_t kIpv4FragmentOffsetMask = 0x1FFF;
constexpr uint16_t kIpv4DontFragment = 0x4000;
// RFC 8200 §3.
constexpr size_t kIpv6Header = 40;
// RFC 768.
constexpr size_t kUdpHeader = 8;

// RFC 9293 §3.1: the header without options, and the flags of byte 13.
constexpr size_t kTcpHeader = 20;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kTcpAck = 0x10;
// IANA protocol numbers.
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmpv6 = 58;

// RFC 792: echo request 8, reply 0. RFC 4443 §4: 128/129. RFC 4861 §4.3/4.4.
constexpr uint8_t kIcmpEchoRequest = 8;
constexpr uint8_t kIcmpEchoReply = 0;
constexpr uint8_t kIcmpv6EchoRequest = 128;
constexpr uint8_t kIcmpv6EchoReply = 129;
constexpr uint8_t kIcmpv6NeighbourSolicitation = 135;
constexpr uint8_t kIcmpv6NeighbourAdvertisement = 136;
constexpr size_t kNdMessage = 24;             // type..target address
constexpr uint8_t kNdOptSourceLinkAddr = 1;   // RFC 4861 §4.6.1
constexpr uint8_t kNdOptTargetLinkAddr = 2;
constexpr uint8_t kNdHopLimit = 255;          // RFC 4861 §7.1.1: must be 255

// What we put into the headers we write. 64 is RFC 1700's recommended TTL.
constexpr uint8_t kTtl = 64;

// RFC 8200 §4.1 extension header numbers (and the ones later RFCs added).
constexpr bool is_ipv6_extension_header(uint8_t nh) {
  switch (nh) {
    case 0: case 43: case 44: case 50: case 51: case 60: case 135: case 139: case 140: case 253: case 254:
      return true;
    default:
      return false;
  }
}

// Ones' complement sum helpers (RFC 1071). Sums are over memory order, so
// the 16-bit constants we add are converted to network order first.
inline uint32_t sum_bytes(const uint8_t* p, size_t len, uint32_t sum = 0) { return __rte_raw_cksum(p, len, sum); }
inline uint16_t fold(uint32_t sum) { return __rte_raw_cksum_reduce(sum); }

// Pseudo-header of RFC 768 (IPv4) and RFC 8200 §8.1 (IPv6) for UDP/ICMPv6.
inline uint32_t pseudo_header_sum(const uint8_t* src, const uint8_t* dst, size_t addr_len, uint8_t proto,
                                  uint32_t l4_len) {
  uint32_t sum = sum_bytes(src, addr_len);
  sum = sum_bytes(dst, addr_len, sum);
  sum += rte_cpu_to_be_16(static_cast<uint16_t>(proto));
  sum += rte_cpu_to_be_16(static_cast<uint16_t>(l4_len & 0xFFFF));
  sum += rte_cpu_to_be_16(static_cast<uint16_t>(l4_len >> 16));
  return sum;
}

// The checksum field value (memory order) for a header/datagram whose sum
// was taken with the checksum field zero.
inline uint16_t finish_checksum(uint32_t sum) {
  return static_cast<uint16_t>(~fold(sum));
}
// RFC 768: a computed UDP checksum of zero is sent as all ones.
inline uint16_t finish_udp_checksum(uint32_t sum) {
  const uint16_t c = finish_checksum(sum);
  return c == 0 ? 0xFFFF : c;
}
inline void store_checksum(uint8_t* p, uint16_t memory_order) { std::memcpy(p, &memory_order, 2); }
// A received header or datagram including its checksum sums to all ones.
inline bool checksum_ok(uint32_t sum) { return fold(sum) == 0xFFFF; }

}  // namespace relay::dataplane::wire
