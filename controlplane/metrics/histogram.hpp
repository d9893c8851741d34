// A latency histogram with fixed log2 buckets: observing is a bit scan and
// an increment, with no allocation and no configuration to get wrong, and
// every relay exposes the same bucket bounds (1.024 µs … ~1.07 s).
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace relay::metrics {

class Log2Histogram {
 public:
  // Bucket i counts observations ≤ 2^(kMinLog2 + i) ns; one more bucket
  // holds what is larger (+Inf).
  static constexpr unsigned kMinLog2 = 10;  // 1.024 µs: below a ring hop's resolution
  static constexpr unsigned kMaxLog2 = 30;  // ~1.07 s: beyond, only "too slow" matters
  static constexpr size_t kFiniteBuckets = kMaxLog2 - kMinLog2 + 1;

  void observe_ns(uint64_t ns) {
    ++buckets_[bucket_of(ns)];
    sum_ns_ += ns;
    ++count_;
  }
  // The interval between two CLOCK_MONOTONIC readings taken by different
  // processes; a `to` before `from` (another process's clock conversion
  // ran ahead) counts as zero rather than as 584 years.
  void observe_interval(uint64_t from_ns, uint64_t to_ns) { observe_ns(to_ns > from_ns ? to_ns - from_ns : 0); }

  static constexpr size_t bucket_of(uint64_t ns) {
    if (ns <= (uint64_t{1} << kMinLog2)) return 0;
    const size_t i = static_cast<size_t>(std::bit_width(ns - 1)) - kMinLog2;
    return i < kFiniteBuckets ? i : kFiniteBuckets;
  }
  static constexpr uint64_t upper_bound_ns(size_t bucket) { return uint64_t{1} << (kMinLog2 + bucket); }

  // Per bucket (not cumulative); index kFiniteBuckets is the overflow.
  [[nodiscard]] const std::array<uint64_t, kFiniteBuckets + 1>& buckets() const { return buckets_; }
  [[nodiscard]] uint64_t sum_ns() const { return sum_ns_; }
  [[nodiscard]] uint64_t count() const { return count_; }

 private:
  std::array<uint64_t, kFiniteBuckets + 1> buckets_{};
  uint64_t sum_ns_ = 0;
  uint64_t count_ = 0;
};

}  // namespace relay::metrics
