// Test support for the data plane: mbufs set up by hand (no EAL, no
// mempool) and frames built byte by byte with an independent RFC 1071
// checksum, so the code under test never grades its own homework.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/net_types.hpp"
#include "common/ring_abi.hpp"
#include "dataplane/config.hpp"

namespace relay::dataplane::testing {

// An mbuf with a private area and a 2 KiB data room after the usual headroom.
class FakeMbuf {
 public:
  static constexpr uint16_t kRoom = 2048 + RTE_PKTMBUF_HEADROOM;

  explicit FakeMbuf(std::span<const uint8_t> frame, uint16_t headroom = RTE_PKTMBUF_HEADROOM)
      : storage_(new uint8_t[sizeof(rte_mbuf) + ring_abi::kMbufPrivSize + kRoom]()) {
    m_ = reinterpret_cast<rte_mbuf*>(storage_.get());
    m_->buf_addr = storage_.get() + sizeof(rte_mbuf) + ring_abi::kMbufPrivSize;
    m_->buf_len = kRoom;
    m_->priv_size = ring_abi::kMbufPrivSize;
    m_->nb_segs = 1;
    m_->next = nullptr;
    m_->refcnt = 1;
    load(frame, headroom);
  }
  void load(std::span<const uint8_t> frame, uint16_t headroom = RTE_PKTMBUF_HEADROOM) {
    m_->data_off = headroom;
    m_->data_len = static_cast<uint16_t>(frame.size());
    m_->pkt_len = static_cast<uint32_t>(frame.size());
    m_->ol_flags = 0;
    std::memcpy(static_cast<uint8_t*>(m_->buf_addr) + headroom, frame.data(), frame.size());
  }
  rte_mbuf* get() { return m_; }
  [[nodiscard]] std::vector<uint8_t> bytes() const {
    const auto* p = rte_pktmbuf_mtod(m_, const uint8_t*);
    return {p, p + m_->data_len};
  }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  rte_mbuf* m_;
};

inline uint16_t rfc1071(std::span<const uint8_t> bytes, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < bytes.size(); i += 2) sum += uint32_t(bytes[i]) << 8 | bytes[i + 1];
  if (bytes.size() % 2 != 0) sum += uint32_t(bytes.back()) << 8;
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
inline uint32_t pseudo_sum(const IpAddress& src, const IpAddress& dst, uint8_t proto, uint32_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i < src.size(); i += 2) sum += uint32_t(src.bytes[i]) << 8 | src.bytes[i + 1];
  for (size_t i = 0; i < dst.size(); i += 2) sum += uint32_t(dst.bytes[i]) << 8 | dst.bytes[i + 1];
  return sum + proto + (len & 0xFFFF) + (len >> 16);
}

struct Eth {
  MacAddress src;
  MacAddress dst;
  std::optional<uint16_t> vlan;
};

inline void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}

inline std::vector<uint8_t> ethernet(const Eth& e, uint16_t ethertype) {
  std::vector<uint8_t> f(e.dst.begin(), e.dst.end());
  f.insert(f.end(), e.src.begin(), e.src.end());
  if (e.vlan) {
    put16(f, 0x8100);
    put16(f, *e.vlan);
  }
  put16(f, ethertype);
  return f;
}

// An IP header (IPv4 with `options` appended) carrying `l4`, checksums filled.
inline std::vector<uint8_t> ip_packet(const IpAddress& src, const IpAddress& dst, uint8_t proto,
                                      std::vector<uint8_t> l4, std::vector<uint8_t> options = {}) {
  std::vector<uint8_t> h;
  if (src.is_v4()) {
    const size_t ihl = 20 + options.size();
    h.push_back(static_cast<uint8_t>(0x40 | (ihl / 4)));
    h.push_back(0);
    put16(h, static_cast<uint16_t>(ihl + l4.size()));
    put16(h, 0x1234);
    put16(h, 0);
    h.push_back(64);
    h.push_back(proto);
    put16(h, 0);
    h.insert(h.end(), src.bytes.begin(), src.bytes.begin() + 4);
    h.insert(h.end(), dst.bytes.begin(), dst.bytes.begin() + 4);
    h.insert(h.end(), options.begin(), options.end());
    const uint16_t c = rfc1071(h);
    h[10] = static_cast<uint8_t>(c >> 8);
    h[11] = static_cast<uint8_t>(c);
  } else {
    put16(h, 0x6000);
    put16(h, 0);
    put16(h, static_cast<uint16_t>(l4.size()));
    h.push_back(proto);
    h.push_back(proto == 58 ? 255 : 64);
    h.insert(h.end(), src.bytes.begin(), src.bytes.end());
    h.insert(h.end(), dst.bytes.begin(), dst.bytes.end());
  }
  h.insert(h.end(), l4.begin(), l4.end());
  return h;
}

inline std::vector<uint8_t> udp_datagram(const SocketAddress& src, const SocketAddress& dst,
                                         std::span<const uint8_t> payload) {
  std::vector<uint8_t> u;
  put16(u, src.port);
  put16(u, dst.port);
  put16(u, static_cast<uint16_t>(8 + payload.size()));
  put16(u, 0);
  u.insert(u.end(), payload.begin(), payload.end());
  uint16_t c = rfc1071(u, pseudo_sum(src.ip, dst.ip, 17, static_cast<uint32_t>(u.size())));
  if (c == 0) c = 0xFFFF;
  u[6] = static_cast<uint8_t>(c >> 8);
  u[7] = static_cast<uint8_t>(c);
  return u;
}

inline std::vector<uint8_t> udp_frame(const Eth& e, const SocketAddress& src, const SocketAddress& dst,
                                      std::span<const uint8_t> payload) {
  auto f = ethernet(e, src.ip.is_v4() ? 0x0800 : 0x86DD);
  auto ip = ip_packet(src.ip, dst.ip, 17, udp_datagram(src, dst, payload));
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

inline std::vector<uint8_t> channel_data(uint16_t channel, std::span<const uint8_t> data, size_t padding = 0,
                                         std::optional<uint16_t> claimed_length = std::nullopt) {
  std::vector<uint8_t> v;
  put16(v, channel);
  put16(v, claimed_length.value_or(static_cast<uint16_t>(data.size())));
  v.insert(v.end(), data.begin(), data.end());
  v.insert(v.end(), padding, 0);
  return v;
}

inline std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// What a test reads back from an output frame.
struct UdpFrameView {
  MacAddress dst_mac{};
  MacAddress src_mac{};
  std::optional<uint16_t> vlan;
  SocketAddress src;
  SocketAddress dst;
  uint8_t ttl = 0;
  bool ip_checksum_ok = false;
  bool udp_checksum_ok = false;
  std::vector<uint8_t> payload;
};

inline std::optional<UdpFrameView> read_udp_frame(std::span<const uint8_t> f) {
  UdpFrameView v;
  if (f.size() < 14) return std::nullopt;
  std::memcpy(v.dst_mac.data(), f.data(), 6);
  std::memcpy(v.src_mac.data(), f.data() + 6, 6);
  size_t off = 12;
  uint16_t type = uint16_t(f[off] << 8 | f[off + 1]);
  if (type == 0x8100) {
    v.vlan = uint16_t((f[14] << 8 | f[15]) & 0xFFF);
    off += 4;
    type = uint16_t(f[off] << 8 | f[off + 1]);
  }
  off += 2;
  size_t l4;
  size_t l4_len;
  if (type == 0x0800) {
    if (f.size() < off + 20) return std::nullopt;
    const size_t ihl = (f[off] & 0xF) * 4u;
    const size_t total = uint16_t(f[off + 2] << 8 | f[off + 3]);
    if (f[off + 9] != 17 || f.size() < off + total) return std::nullopt;
    v.ttl = f[off + 8];
    v.ip_checksum_ok = rfc1071(f.subspan(off, ihl)) == 0;
    std::array<uint8_t, 4> s{}, d{};
    std::memcpy(s.data(), f.data() + off + 12, 4);
    std::memcpy(d.data(), f.data() + off + 16, 4);
    v.src.ip = IpAddress::v4(s);
    v.dst.ip = IpAddress::v4(d);
    l4 = off + ihl;
    l4_len = total - ihl;
  } else if (type == 0x86DD) {
    if (f.size() < off + 40 || f[off + 6] != 17) return std::nullopt;
    v.ttl = f[off + 7];
    v.ip_checksum_ok = true;
    std::array<uint8_t, 16> s{}, d{};
    std::memcpy(s.data(), f.data() + off + 8, 16);
    std::memcpy(d.data(), f.data() + off + 24, 16);
    v.src.ip = IpAddress::v6(s);
    v.dst.ip = IpAddress::v6(d);
    l4 = off + 40;
    l4_len = uint16_t(f[off + 4] << 8 | f[off + 5]);
  } else {
    return std::nullopt;
  }
  if (l4_len < 8 || f.size() < l4 + l4_len) return std::nullopt;
  v.src.port = uint16_t(f[l4] << 8 | f[l4 + 1]);
  v.dst.port = uint16_t(f[l4 + 2] << 8 | f[l4 + 3]);
  if (uint16_t(f[l4 + 4] << 8 | f[l4 + 5]) != l4_len) return std::nullopt;
  v.udp_checksum_ok = rfc1071(f.subspan(l4, l4_len), pseudo_sum(v.src.ip, v.dst.ip, 17, uint32_t(l4_len))) == 0;
  v.payload.assign(f.begin() + long(l4 + 8), f.begin() + long(l4 + l4_len));
  return v;
}

}  // namespace relay::dataplane::testing
