// Reconnect delays: exponential backoff with "full jitter" (a uniform delay
// in [0, min(cap, base * 2^attempt)]), so a fleet of relays that lost the
// portal at the same moment does not come back at the same moment.
#pragma once

#include <cstdint>

#include "common/time.hpp"

namespace relay::portal {

class Backoff {
 public:
  Backoff(Duration base, Duration cap);

  // The ceiling of the delay the next call to next() may return.
  [[nodiscard]] Duration ceiling() const;
  // A delay in [0, ceiling()] picked by `random` (a uniform 64-bit value);
  // the ceiling doubles for the following call until it reaches the cap.
  Duration next(uint64_t random);
  void reset() { attempt_ = 0; }
  [[nodiscard]] uint32_t attempt() const { return attempt_; }

 private:
  Duration base_;
  Duration cap_;
  uint32_t attempt_ = 0;
};

}  // namespace relay::portal
