// Hashes for the Server's maps keyed by addresses. common's std::hash
// specialisations walk FNV-1a byte by byte, and libstdc++ recomputes the
// hash of every node it steps over in a bucket, so on a request path that
// does ~6 lookups it showed up as the top cost in bench-server. These read
// the 16 address bytes as two words and mix them (murmur3's finaliser).
#pragma once

#include <cstdint>
#include <cstring>

#include "common/net_types.hpp"

namespace relay::core {

constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

inline uint64_t hash_ip(const IpAddress& ip) {
  uint64_t lo, hi;
  std::memcpy(&lo, ip.bytes.data(), 8);
  std::memcpy(&hi, ip.bytes.data() + 8, 8);
  return mix64(lo ^ mix64(hi ^ static_cast<uint64_t>(ip.family)));
}

inline uint64_t hash_socket(const SocketAddress& a) { return mix64(hash_ip(a.ip) ^ a.port); }

struct IpHash {
  size_t operator()(const IpAddress& ip) const noexcept { return hash_ip(ip); }
};

struct FiveTupleHash {
  size_t operator()(const ClientFiveTuple& t) const noexcept {
    return hash_socket(t.client.value) ^ (hash_socket(t.listen.value) * 0x9e3779b97f4a7c15ull);
  }
};

}  // namespace relay::core
