// Latency percentiles at millions of samples per second without keeping
// the samples: a log-linear histogram (HdrHistogram's layout) of TSC
// cycles, 64 linear buckets per power of two, so a percentile is within
// 1/64 (1.6 %) of the true value. 32 KiB, one add is a count-leading-zeros
// and an increment.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace relay::dpdkgen {

class LatencyHistogram {
 public:
  void add(uint64_t cycles) {
    ++counts_[index_of(cycles)];
    ++total_;
  }

  [[nodiscard]] uint64_t total() const { return total_; }

  // The value below which a fraction `q` of the samples lie (the same rank
  // as turn-loadgen's q·(n−1)-th smallest sample), as the middle of its
  // bucket; -1 when empty.
  [[nodiscard]] double percentile(double q) const {
    if (total_ == 0) return -1;
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(total_ - 1));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return middle_of(i);
    }
    return middle_of(counts_.size() - 1);
  }

 private:
  static constexpr unsigned kSubBits = 6;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;

  // Values below kSub have a bucket each; above, bucket (shift+1)·kSub + the
  // kSubBits bits after the leading one, where shift = msb − kSubBits.
  static size_t index_of(uint64_t v) {
    if (v < kSub) return static_cast<size_t>(v);
    const unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;
    return static_cast<size_t>((shift + 1) * kSub + ((v >> shift) - kSub));
  }

  static double middle_of(size_t i) {
    if (i < kSub) return static_cast<double>(i);
    const uint64_t shift = i / kSub - 1;
    const uint64_t low = (kSub + i % kSub) << shift;
    return static_cast<double>(low) + static_cast<double>(uint64_t{1} << shift) / 2.0;
  }

  std::array<uint64_t, 64 * kSub> counts_{};
  uint64_t total_ = 0;
};

}  // namespace relay::dpdkgen
