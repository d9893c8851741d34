// Hashes and equality for the Server's maps and lists keyed by addresses.
// common's std::hash specialisations walk FNV-1a byte by byte, and
// libstdc++ recomputes the hash of every node it steps over in a bucket, so
// on a request path that does ~6 lookups it showed up as the top cost in
// bench-server. These read the 16 address bytes as two words and mix them
// (murmur3's finaliser). The defaulted operator== compares the same 16
// bytes through a call to memcmp (a tenth of a ChannelBind, which scans the
// allocation's channels and permissions); same_ip() compares the words.
#pragma once

#include <cstdint>
#include <cstring>

#include "common/mix.hpp"
#include "common/net_types.hpp"

namespace relay::core {


inline uint64_t hash_ip(const IpAddress& ip) {
  uint64_t lo, hi;
  std::memcpy(&lo, ip.bytes.data(), 8);
  std::memcpy(&hi, ip.bytes.data() + 8, 8);
  return mix64(lo ^ mix64(hi ^ static_cast<uint64_t>(ip.family)));
}

inline uint64_t hash_socket(const SocketAddress& a) { return mix64(hash_ip(a.ip) ^ a.port); }

inline bool same_ip(const IpAddress& a, const IpAddress& b) {
  uint64_t a_lo, a_hi, b_lo, b_hi;
  std::memcpy(&a_lo, a.bytes.data(), 8);
  std::memcpy(&a_hi, a.bytes.data() + 8, 8);
  std::memcpy(&b_lo, b.bytes.data(), 8);
  std::memcpy(&b_hi, b.bytes.data() + 8, 8);
  return a.family == b.family && ((a_lo ^ b_lo) | (a_hi ^ b_hi)) == 0;
}

inline bool same_socket(const SocketAddress& a, const SocketAddress& b) {
  return a.port == b.port && same_ip(a.ip, b.ip);
}

struct IpHash {
  size_t operator()(const IpAddress& ip) const noexcept { return hash_ip(ip); }
};

struct IpEqual {
  bool operator()(const IpAddress& a, const IpAddress& b) const noexcept { return same_ip(a, b); }
};

struct FiveTupleHash {
  size_t operator()(const ClientFiveTuple& t) const noexcept {
    return (hash_socket(t.client.value) ^ (hash_socket(t.listen.value) * 0x9e3779b97f4a7c15ull)) +
           static_cast<size_t>(t.transport);
  }
};

inline bool same_five_tuple(const ClientFiveTuple& a, const ClientFiveTuple& b) {
  // The transport is part of the 5-tuple: a TCP and a UDP client with the
  // same address are two clients (RFC 8656 §2).
  return a.transport == b.transport && same_socket(a.client.value, b.client.value) &&
         same_socket(a.listen.value, b.listen.value);
}

struct FiveTupleEqual {
  bool operator()(const ClientFiveTuple& a, const ClientFiveTuple& b) const noexcept { return same_five_tuple(a, b); }
};

}  // namespace relay::core
