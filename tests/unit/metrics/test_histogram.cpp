// Log2 buckets: every boundary lands in the bucket whose `le` it equals.
#include <gtest/gtest.h>

#include "controlplane/metrics/histogram.hpp"

namespace relay::metrics {
namespace {

TEST(Log2Histogram, AnObservationEqualToABoundGoesInThatBucketAndOneMoreGoesInTheNext) {
  EXPECT_EQ(Log2Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Log2Histogram::bucket_of(1024), 0u);
  EXPECT_EQ(Log2Histogram::bucket_of(1025), 1u);
  EXPECT_EQ(Log2Histogram::bucket_of(2048), 1u);
  EXPECT_EQ(Log2Histogram::bucket_of(2049), 2u);
  EXPECT_EQ(Log2Histogram::bucket_of(uint64_t{1} << 30), Log2Histogram::kFiniteBuckets - 1);
  EXPECT_EQ(Log2Histogram::upper_bound_ns(Log2Histogram::kFiniteBuckets - 1), uint64_t{1} << 30);
}

TEST(Log2Histogram, AnythingAboveAboutOneSecondIsCountedInTheOverflowBucket) {
  EXPECT_EQ(Log2Histogram::bucket_of((uint64_t{1} << 30) + 1), Log2Histogram::kFiniteBuckets);
  EXPECT_EQ(Log2Histogram::bucket_of(~uint64_t{0}), Log2Histogram::kFiniteBuckets);
}

TEST(Log2Histogram, ObservationsAddToTheirBucketTheSumAndTheCount) {
  Log2Histogram h;
  h.observe_ns(500);
  h.observe_ns(3000);
  h.observe_ns(3000);
  EXPECT_EQ(h.buckets()[0], 1u);
  EXPECT_EQ(h.buckets()[2], 2u);
  EXPECT_EQ(h.sum_ns(), 6500u);
  EXPECT_EQ(h.count(), 3u);
}

TEST(Log2Histogram, AReceiveTimestampAheadOfTheControlPlaneClockCountsAsZeroLatency) {
  Log2Histogram h;
  h.observe_interval(2'000'000, 1'999'000);
  h.observe_interval(1'000'000, 1'004'000);
  EXPECT_EQ(h.buckets()[0], 1u);
  EXPECT_EQ(h.buckets()[2], 1u);
  EXPECT_EQ(h.sum_ns(), 4000u);
}

}  // namespace
}  // namespace relay::metrics
