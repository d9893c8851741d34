// RFC 5769 test vectors (the IANA-registered samples every STUN stack
// checks itself against) and small helpers to spell datagrams in tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/channel_data.hpp"

namespace relay::stun::test {

using Bytes = std::vector<uint8_t>;

// "00 01 a4" -> {0x00, 0x01, 0xa4}; spaces and newlines are ignored.
inline Bytes hex(std::string_view text) {
  Bytes out;
  int hi = -1;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A header with the given type and a length field that matches `body`.
inline Bytes message(uint16_t type, const Bytes& body) {
  Bytes m = hex("0000 0000 2112a442 000102030405060708090a0b");
  store_be16(m.data(), type);
  store_be16(m.data() + 2, static_cast<uint16_t>(body.size()));
  m.insert(m.end(), body.begin(), body.end());
  return m;
}

// RFC 5769 §2.1: short-term credentials, password below.
inline const std::string_view kSamplePassword = "VOkJxbRl1RmTxUk/WvJxBt";
inline const Bytes kSampleRequest = hex(
    "00010058 2112a442 b7e7a701 bc34d686 fa87dfae"
    "80220010 5354554e 20746573 7420636c 69656e74"  // SOFTWARE "STUN test client"
    "00240004 6e0001ff"                             // PRIORITY
    "80290008 932ff9b1 51263b36"                    // ICE-CONTROLLED
    "00060009 6576746a 3a683676 59202020"           // USERNAME "evtj:h6vY"
    "00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2"
    "80280004 e57a3bcf");

// RFC 5769 §2.2: mapped address 192.0.2.1:32853.
inline const Bytes kSampleIpv4Response = hex(
    "0101003c 2112a442 b7e7a701 bc34d686 fa87dfae"
    "8022000b 74657374 20766563 746f7220"  // SOFTWARE "test vector"
    "00200008 0001a147 e112a643"
    "00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"
    "80280004 c07d4c96");

// RFC 5769 §2.3: mapped address [2001:db8:1234:5678:11:2233:4455:6677]:32853.
inline const Bytes kSampleIpv6Response = hex(
    "01010048 2112a442 b7e7a701 bc34d686 fa87dfae"
    "8022000b 74657374 20766563 746f7220"
    "00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"
    "00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"
    "80280004 c8fb0b4c");

// RFC 5769 §2.4: long-term credentials. The username is the UTF-8 of
// U+30DE U+30C8 U+30EA U+30C3 U+30AF U+30B9; the password after SASLprep
// is "TheMatrIX".
inline const std::string_view kLongTermUsername = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
inline const std::string_view kLongTermPassword = "TheMatrIX";
inline const std::string_view kLongTermNonce = "f//499k954d6OL34oL9FSTvy64sA";
inline const std::string_view kLongTermRealm = "example.org";
inline const Bytes kSampleLongTermRequest = hex(
    "00010060 2112a442 78ad3433 c6ad72c0 29da412e"
    "00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000"
    "0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341"
    "0014000b 6578616d 706c652e 6f726700"
    "00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666");

}  // namespace relay::stun::test
