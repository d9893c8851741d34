// Power-aware polling (idle_backoff.hpp): within 10 ms of the last work the
// worker polls (spinning, then pausing); past it, it sleeps ever longer up
// to the bound; any work returns it to full polling at once.
#include <gtest/gtest.h>

#include <vector>

#include "dataplane/idle_backoff.hpp"

namespace relay::dataplane::testing {
namespace {

using Kind = IdleWait::Kind;
constexpr uint64_t kHz = 1'000'000'000;  // TSC ticks are ns
constexpr uint64_t kUs = 1'000;

TEST(IdleBackoff, PollModeNeverWaits) {
  IdleBackoff b(IdleMode::Poll, 200, kHz);
  for (uint64_t t = 0; t < 1'000'000 * kUs; t += 10'000 * kUs) ASSERT_EQ(b.after(false, t), IdleWait{});
  EXPECT_FALSE(b.sleeping());
}

TEST(IdleBackoff, WithinTenMillisecondsOfWorkItSpinsThenPausesButNeverSleeps) {
  IdleBackoff b(IdleMode::Adaptive, 200, kHz);
  uint64_t t = 1'000'000 * kUs;
  b.after(true, t);
  for (uint32_t i = 0; i < IdleBackoff::kSpinPolls; ++i) ASSERT_EQ(b.after(false, t + i), IdleWait{});
  for (uint64_t dt = 300; dt < IdleBackoff::kPollBeforeSleepUs * kUs; dt += 100 * kUs)
    ASSERT_EQ(b.after(false, t + dt).kind, Kind::Pause);
  EXPECT_FALSE(b.sleeping());
}

TEST(IdleBackoff, PastTenMillisecondsItSleepsDoublingUpToTheBound) {
  IdleBackoff b(IdleMode::Adaptive, 200, kHz);
  uint64_t t = 1'000'000 * kUs;
  b.after(true, t);
  t += IdleBackoff::kPollBeforeSleepUs * kUs;
  std::vector<uint32_t> sleeps;
  for (int i = 0; i < 10; ++i) {
    const IdleWait w = b.after(false, t + i);
    ASSERT_EQ(w.kind, Kind::Sleep);
    sleeps.push_back(w.sleep_us);
  }
  EXPECT_EQ(sleeps, (std::vector<uint32_t>{1, 2, 4, 8, 16, 32, 64, 128, 200, 200}));
  EXPECT_TRUE(b.sleeping());
}

TEST(IdleBackoff, AnyWorkReturnsToFullPollingAndTheNextQuietSpellStartsOver) {
  IdleBackoff b(IdleMode::Adaptive, 200, kHz);
  const uint64_t t = 1'000'000 * kUs;
  b.after(true, t);
  b.after(false, t + 20'000 * kUs);
  ASSERT_TRUE(b.sleeping());
  EXPECT_EQ(b.after(true, t + 20'001 * kUs), IdleWait{});
  EXPECT_FALSE(b.sleeping());
  EXPECT_EQ(b.after(false, t + 20'002 * kUs), IdleWait{});  // spinning again, not sleeping
}

}  // namespace
}  // namespace relay::dataplane::testing
