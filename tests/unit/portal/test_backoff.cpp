#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "controlplane/portal/backoff.hpp"

using namespace relay;
using namespace relay::portal;
using namespace std::chrono_literals;

TEST(Backoff, CeilingDoublesFromOneSecondUpToTheSixtySecondCap) {
  Backoff backoff(1s, 60s);
  const Duration expected[] = {1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s, 60s};
  for (auto ceiling : expected) {
    EXPECT_EQ(backoff.ceiling(), ceiling);
    (void)backoff.next(0);
  }
}

TEST(Backoff, LargestRandomValueGivesTheCeilingAndZeroGivesNoDelay) {
  Backoff high(1s, 60s);
  Backoff low(1s, 60s);
  for (int n = 0; n < 10; ++n) {
    const auto ceiling = high.ceiling();
    EXPECT_LE(high.next(std::numeric_limits<uint64_t>::max()), ceiling);
    EXPECT_EQ(low.next(0), 0s);
  }
  Backoff exact(1s, 60s);
  EXPECT_EQ(exact.next(1'000'000'000), 1s);  // 1e9 % (1e9 + 1): the top of [0, 1 s]
}

TEST(Backoff, SeededDelaysStayWithinFullJitterBoundsForManyAttempts) {
  std::mt19937_64 rng(42);
  Backoff backoff(1s, 60s);
  for (int n = 0; n < 200; ++n) {
    const Duration bound = std::min<Duration>(60s, Duration{1s} * (1LL << std::min(n, 20)));
    const auto delay = backoff.next(rng());
    EXPECT_GE(delay, 0s) << "attempt " << n;
    EXPECT_LE(delay, bound) << "attempt " << n;
  }
}

TEST(Backoff, ResetStartsOverAtTheBase) {
  Backoff backoff(1s, 60s);
  for (int n = 0; n < 5; ++n) (void)backoff.next(0);
  EXPECT_EQ(backoff.ceiling(), 32s);
  backoff.reset();
  EXPECT_EQ(backoff.ceiling(), 1s);
  EXPECT_EQ(backoff.attempt(), 0u);
}
