// TURN Send and Data indications (RFC 8656 §11) on the fast path: a
// client's Send indication is read in place, and a Data indication's
// header is written in front of a peer's datagram. Browsers relay through
// these (Firefox never binds a channel; Chromium sends its ICE checks as
// Send indications), so they are forwarded by the worker, never by the
// control plane. Plain byte spans: the fuzzer and unit tests need no EAL.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

#include "common/channel_data.hpp"
#include "common/counters_abi.hpp"
#include "common/net_types.hpp"
#include "common/stun_wire.hpp"
#include "dataplane/parse.hpp"

namespace relay::dataplane {

// RFC 8489 §5 message types of class indication: Send (method 0x006) and
// Data (method 0x007).
constexpr uint16_t kSendIndicationType = 0x0016;
constexpr uint16_t kDataIndicationType = 0x0017;
// RFC 8489 §14: type and length before each attribute value.
constexpr uint16_t kStunAttributeHeader = 4;
// RFC 8489 §14.2: XOR-MAPPED-ADDRESS (and XOR-PEER-ADDRESS) values.
constexpr uint16_t kXorAddressV4 = 8;
constexpr uint16_t kXorAddressV6 = 20;
constexpr uint16_t kStunFingerprintAttribute = kStunAttributeHeader + stun::kFingerprintSize;
constexpr uint16_t kTransactionIdSize = 12;

// A STUN message on the listen port that asks to be relayed.
inline bool is_send_indication(std::span<const uint8_t> d) {
  return looks_like_stun(d) && load_be16(d.data()) == kSendIndicationType;
}

struct SendIndication {
  uint16_t data_offset = 0;  // DATA's value, from the start of the message
  uint16_t data_len = 0;
  Family peer_family = Family::V4;
  uint16_t peer_port_be = 0;
  uint8_t peer_ip[16] = {};  // IPv4 in the first 4 bytes, the rest zero
};

namespace detail {
constexpr uint16_t padded4(uint16_t n) { return static_cast<uint16_t>((n + 3u) & ~3u); }

// RFC 8489 §14.2: X-Port is the port XOR the cookie's top 16 bits; X-Address
// is the address XOR the cookie (IPv4) or the cookie and the transaction ID
// (IPv6). `key` is the message's bytes 4..19 (cookie, transaction ID).
inline void xor_address(const uint8_t* in, uint8_t* out, size_t len, const uint8_t* key) {
  for (size_t i = 0; i < len; ++i) out[i] = in[i] ^ key[i];
}
}  // namespace detail

// Reads a Send indication (a datagram that is_send_indication): the length
// field must equal the datagram, attributes must fit and be padded, exactly
// one XOR-PEER-ADDRESS and one DATA, FINGERPRINT (optional) last and right,
// no unknown comprehension-required attribute (RFC 8489 §6.3.2: such an
// indication is discarded). Attributes the server knows but indications do
// not use (USERNAME, MESSAGE-INTEGRITY, DONT-FRAGMENT: the worker always
// sets DF) are skipped. Returns kAccepted or the drop reason. Reads
// only the message; ~20 cycles for a browser's two-attribute indication,
// plus the CRC when it carries FINGERPRINT.
inline ParseOutcome parse_send_indication(std::span<const uint8_t> msg, SendIndication& out) {
  const uint8_t* m = msg.data();
  const uint16_t length = load_be16(m + 2);
  if (length % 4 != 0 || msg.size() != size_t{kStunHeaderSize} + length) return Counter::DropBadIndication;
  const auto end = static_cast<uint16_t>(msg.size());
  bool has_peer = false;
  bool has_data = false;
  for (uint16_t at = kStunHeaderSize; at < end;) {
    if (end - at < kStunAttributeHeader) return Counter::DropBadIndication;
    const uint16_t type = load_be16(m + at);
    const uint16_t len = load_be16(m + at + 2);
    const uint16_t value = at + kStunAttributeHeader;
    if (len > end - value) return Counter::DropBadIndication;
    switch (static_cast<stun::AttributeType>(type)) {
      case stun::AttributeType::XorPeerAddress: {
        if (has_peer || len < 4) return Counter::DropBadIndication;
        const uint8_t family = m[value + 1];
        const uint16_t want = family == static_cast<uint8_t>(Family::V4)   ? kXorAddressV4
                              : family == static_cast<uint8_t>(Family::V6) ? kXorAddressV6
                                                                            : 0;
        if (want == 0 || len != want) return Counter::DropBadIndication;
        out.peer_family = static_cast<Family>(family);
        std::memset(out.peer_ip, 0, sizeof out.peer_ip);
        detail::xor_address(m + value + 4, out.peer_ip, len - 4u, m + 4);
        uint16_t xport;
        std::memcpy(&xport, m + value + 2, 2);
        uint16_t cookie_high;
        std::memcpy(&cookie_high, m + 4, 2);
        out.peer_port_be = xport ^ cookie_high;
        has_peer = true;
        break;
      }
      case stun::AttributeType::Data:
        if (has_data) return Counter::DropBadIndication;
        out.data_offset = value;
        out.data_len = len;
        has_data = true;
        break;
      case stun::AttributeType::Fingerprint: {
        // RFC 8489 §14.7: the last attribute, CRC-32 of everything before it.
        if (len != stun::kFingerprintSize || value + len != end) return Counter::DropBadIndication;
        if (load_be32(m + value) != stun::fingerprint(msg.first(at))) return Counter::DropIndicationFingerprint;
        break;
      }
      default:
        if (stun::is_comprehension_required(type) && !stun::is_known(type)) return Counter::DropBadIndication;
        break;
    }
    at = static_cast<uint16_t>(value + detail::padded4(len));
  }
  if (!has_peer || !has_data) return Counter::DropBadIndication;
  return kAccepted;
}

// A Data indication's bytes before the data: header, XOR-PEER-ADDRESS, and
// DATA's type-length (36 bytes for an IPv4 peer, 48 for IPv6).
constexpr uint16_t data_indication_prefix(Family peer) {
  return static_cast<uint16_t>(kStunHeaderSize + kStunAttributeHeader +
                               (peer == Family::V4 ? kXorAddressV4 : kXorAddressV6) + kStunAttributeHeader);
}
// Its bytes after the data: DATA's padding and the optional FINGERPRINT.
constexpr uint16_t data_indication_suffix(uint16_t data_len, bool fingerprint) {
  return static_cast<uint16_t>(detail::padded4(data_len) - data_len + (fingerprint ? kStunFingerprintAttribute : 0));
}

// Writes a Data indication around `data_len` bytes that already sit at
// msg + data_indication_prefix(peer family): the prefix before them, the
// padding and (with `fingerprint`) FINGERPRINT after them, which must have
// room. `transaction_id` is 12 random bytes (RFC 8489 §6: an indication's
// transaction ID is chosen like a request's).
inline void write_data_indication(uint8_t* msg, uint16_t data_len, bool fingerprint, Family peer_family,
                                  const uint8_t* peer_ip, uint16_t peer_port_be, const uint8_t* transaction_id) {
  const uint16_t prefix = data_indication_prefix(peer_family);
  const uint16_t padded = detail::padded4(data_len);
  const auto length = static_cast<uint16_t>(prefix - kStunHeaderSize + padded +
                                            (fingerprint ? kStunFingerprintAttribute : 0));
  store_be16(msg, kDataIndicationType);
  store_be16(msg + 2, length);
  store_be32(msg + 4, kStunMagicCookie);
  std::memcpy(msg + 8, transaction_id, kTransactionIdSize);
  uint8_t* a = msg + kStunHeaderSize;
  const uint16_t address_len = peer_family == Family::V4 ? kXorAddressV4 : kXorAddressV6;
  store_be16(a, static_cast<uint16_t>(stun::AttributeType::XorPeerAddress));
  store_be16(a + 2, address_len);
  a[4] = 0;
  a[5] = static_cast<uint8_t>(peer_family);
  uint16_t cookie_high;
  std::memcpy(&cookie_high, msg + 4, 2);
  const uint16_t xport = peer_port_be ^ cookie_high;
  std::memcpy(a + 6, &xport, 2);
  detail::xor_address(peer_ip, a + 8, address_len - 4u, msg + 4);
  a += kStunAttributeHeader + address_len;
  store_be16(a, static_cast<uint16_t>(stun::AttributeType::Data));
  store_be16(a + 2, data_len);
  uint8_t* tail = msg + prefix + data_len;
  std::memset(tail, 0, padded - data_len);
  if (fingerprint) {
    uint8_t* fp = msg + prefix + padded;
    store_be16(fp, static_cast<uint16_t>(stun::AttributeType::Fingerprint));
    store_be16(fp + 2, stun::kFingerprintSize);
    store_be32(fp + 4, stun::fingerprint({msg, size_t{prefix} + padded}));
  }
}

}  // namespace relay::dataplane
