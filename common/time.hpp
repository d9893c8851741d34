// Time as both processes agree on it: nanoseconds of CLOCK_MONOTONIC, which
// is one clock for every process of the machine. The sans-IO core receives
// it as a value; the control plane reads the clock; the data plane converts
// deadlines to TSC units when it installs an entry.
#pragma once

#include <chrono>
#include <cstdint>

namespace relay {

using Duration = std::chrono::nanoseconds;

struct Instant {
  Duration since_boot{0};  // CLOCK_MONOTONIC

  auto operator<=>(const Instant&) const = default;
  friend Instant operator+(Instant t, Duration d) { return Instant{t.since_boot + d}; }
  friend Instant operator-(Instant t, Duration d) { return Instant{t.since_boot - d}; }
  friend Duration operator-(Instant a, Instant b) { return a.since_boot - b.since_boot; }
  [[nodiscard]] uint64_t ns() const { return static_cast<uint64_t>(since_boot.count()); }
  static Instant from_ns(uint64_t ns) { return Instant{Duration{static_cast<int64_t>(ns)}}; }
};

}  // namespace relay
