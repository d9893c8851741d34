// The data plane's one token bucket, in GCRA form (ITU-T I.371's virtual
// scheduling): a bucket is one "theoretical arrival time" in TSC ticks, so
// refilling needs no division per packet. A worker's echo replies share one
// bucket; the STUN exception path keeps one per source (source_limiter.hpp).
#pragma once

#include <algorithm>
#include <cstdint>

namespace relay::dataplane {

class TokenBucket {
 public:
  // `per_second` tokens a second, at most `burst` (at least 1) saved up; a
  // bucket starts full. `per_second` == 0: nothing ever passes.
  TokenBucket(uint32_t per_second, uint32_t burst, uint64_t tsc_hz)
      : interval_(per_second == 0 ? 1 : std::max<uint64_t>(tsc_hz / per_second, 1)),
        window_(per_second == 0 ? 0 : interval_ * std::max<uint32_t>(burst, 1)) {}

  // Whether one more token may be taken at `now_tsc`; if so, it is.
  bool allow(uint64_t now_tsc) { return allow(tat_, now_tsc); }

  // The same for a bucket whose state lives elsewhere (a table of them):
  // `tat` is 0 for a full bucket. A packet is early by (tat + interval -
  // now); up to `burst` intervals early is tolerated.
  bool allow(uint64_t& tat, uint64_t now_tsc) const {
    const uint64_t next = std::max(tat, now_tsc) + interval_;
    if (next - now_tsc > window_) return false;
    tat = next;
    return true;
  }

 private:
  uint64_t interval_;  // TSC ticks per token
  uint64_t window_;    // burst * interval_
  uint64_t tat_ = 0;
};

}  // namespace relay::dataplane
