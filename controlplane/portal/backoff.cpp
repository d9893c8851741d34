#include "controlplane/portal/backoff.hpp"

#include <algorithm>

namespace relay::portal {

Backoff::Backoff(Duration base, Duration cap)
    : base_(std::max(base, Duration{1})), cap_(std::max(cap, base_)) {}

Duration Backoff::ceiling() const {
  // Doubling stops once it passes the cap, so the shift never overflows.
  Duration ceiling = base_;
  for (uint32_t i = 0; i < attempt_ && ceiling < cap_; ++i) ceiling *= 2;
  return std::min(ceiling, cap_);
}

Duration Backoff::next(uint64_t random) {
  const auto span = static_cast<uint64_t>(ceiling().count()) + 1;
  // The modulo bias is below 2^-30 for any ceiling under a day: irrelevant here.
  const auto delay = Duration{static_cast<int64_t>(random % span)};
  if (ceiling() < cap_) ++attempt_;
  return delay;
}

}  // namespace relay::portal
