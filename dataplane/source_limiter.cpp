#include "dataplane/source_limiter.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/mix.hpp"

namespace relay::dataplane {

namespace {

// The IPv4 address, or the /64 of an IPv6 address (RFC 4291 §2.5.4: a
// subnet is a /64, and a host is free to pick any interface id in it).
uint64_t source_key(Family family, const uint8_t* src) {
  if (family == Family::V4) {
    uint32_t v4;
    std::memcpy(&v4, src, 4);
    return v4;
  }
  uint64_t prefix;
  std::memcpy(&prefix, src, 8);
  return prefix;
}
}  // namespace

SourceRateLimiter::SourceRateLimiter(uint32_t per_second, uint32_t burst, uint64_t tsc_hz, uint32_t sets,
                                     uint64_t seed)
    : rate_(per_second, burst, tsc_hz), limited_(per_second != 0 && tsc_hz != 0), seed_(seed) {
  const uint32_t n = std::bit_ceil(std::clamp<uint32_t>(sets, 1, 1u << 20));
  mask_ = n - 1;
  if (limited_) sets_.resize(n);  // unlimited: allow() never looks at the table
}

bool SourceRateLimiter::allow(Family family, const uint8_t* src, uint64_t now_tsc) {
  if (!limited_) return true;
  const uint64_t source = source_key(family, src);
  // mix64 spreads every bit, so the seed hides which sources share a set.
  Set& set = sets_[mix64(source ^ seed_ ^ (static_cast<uint64_t>(family) << 62)) & mask_];
  Bucket* b = nullptr;
  for (Bucket& way : set.way)
    if (way.family == family && way.source == source) b = &way;
  if (b == nullptr) {
    b = set.way[0].tat <= set.way[1].tat ? &set.way[0] : &set.way[1];
    *b = Bucket{source, now_tsc, family};
  }
  return rate_.allow(b->tat, now_tsc);
}

}  // namespace relay::dataplane
