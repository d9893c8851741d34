// Per-source rate limit of the exception path: the STUN datagrams a worker
// hands to the control plane. One source (an IPv4 address, or an IPv6 /64,
// since one host usually owns a whole /64) flooding STUN must neither
// starve the control plane of the other clients' requests nor turn the
// relay into a reflector of its answers.
//
// A token bucket per source (token_bucket.hpp: its state is one
// "theoretical arrival time" in TSC ticks) in a fixed table sized at
// construction: 2-way set-associative, hashed with a per-worker seed so
// a remote sender cannot aim at a victim's set. On a miss the way with
// the most credit (the lowest TAT) is replaced: a full bucket loses
// nothing by being forgotten, and a busy flooder is the last to go. A
// sender with many addresses can thrash a set and win fresh bursts; that
// sender is many sources, which a per-source limit does not cover.
#pragma once

#include <cstdint>
#include <vector>

#include "common/net_types.hpp"
#include "dataplane/token_bucket.hpp"

namespace relay::dataplane {

class SourceRateLimiter {
 public:
  // `per_second` == 0 disables the limit; `burst` is how many datagrams a
  // quiet source may send at once (at least 1). `sets` is rounded up to a
  // power of two.
  SourceRateLimiter(uint32_t per_second, uint32_t burst, uint64_t tsc_hz, uint32_t sets = kDefaultSets,
                    uint64_t seed = 0);

  // Whether one more datagram from `src` (4 or 16 address bytes, network
  // order) may pass at `now_tsc`; if so, it is charged. Reads and writes
  // one 64-byte set: ~13 cycles for one flooding source, ~58 with 2048
  // sources in turn (set not in L1), measured with a loop of 20M calls.
  bool allow(Family family, const uint8_t* src, uint64_t now_tsc);

  static constexpr uint32_t kDefaultSets = 1024;  // 2048 sources, 64 KiB per worker

 private:
  struct Bucket {
    uint64_t source = 0;  // IPv4 address or IPv6 /64, see source_key()
    uint64_t tat = 0;     // the bucket's state (TokenBucket::allow)
    Family family{};      // Family{} (0): an empty slot
  };
  struct alignas(64) Set {
    Bucket way[2];
  };

  TokenBucket rate_;  // the rule each source's bucket follows
  bool limited_ = false;
  uint64_t seed_;
  uint32_t mask_;
  std::vector<Set> sets_;
};

}  // namespace relay::dataplane
