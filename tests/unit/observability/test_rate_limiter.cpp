// Repeated warnings: a burst per key per interval, then one summary.
#include <gtest/gtest.h>

#include "tests/unit/observability/log_test_support.hpp"

using namespace relay;
using namespace relay::test;
using namespace std::chrono_literals;

namespace {
Instant at(Duration d) { return Instant{d}; }
}  // namespace

using RateLimiterLog = CapturedLog;

TEST_F(RateLimiterLog, ABurstPassesThenTheRestIsHeldBackUntilTheIntervalEnds) {
  log::RateLimiter limiter(3, 1s);
  for (int i = 0; i < 5; ++i)
    limiter.warn(at(100ms), "drop.bad_checksum", "dataplane", "bad checksum", {{"n", i}});
  ASSERT_EQ(lines().size(), 3u);
  limiter.warn(at(900ms), "drop.bad_checksum", "dataplane", "bad checksum", {{"n", 5}});
  ASSERT_EQ(lines().size(), 3u);
  limiter.warn(at(1100ms), "drop.bad_checksum", "dataplane", "bad checksum", {{"n", 6}});
  auto out = lines();
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[3],
            "2026-11-26T09:51:02.123456Z WARN  dataplane: suppressed 3 similar messages "
            "key=drop.bad_checksum suppressed=3");
  EXPECT_TRUE(out[4].ends_with("bad checksum n=6"));
}

TEST_F(RateLimiterLog, KeysAreLimitedIndependently) {
  log::RateLimiter limiter(1, 1s);
  limiter.warn(at(0s), "a", "t", "first a");
  limiter.warn(at(0s), "a", "t", "second a");
  limiter.warn(at(0s), "b", "t", "first b");
  auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].ends_with("first a"));
  EXPECT_TRUE(out[1].ends_with("first b"));
}

TEST_F(RateLimiterLog, FlushReportsHeldBackEventsOnlyOnceTheIntervalHasEnded) {
  log::RateLimiter limiter(1, 1s);
  limiter.warn(at(0s), "k", "portal", "reconnect failed");
  limiter.warn(at(10ms), "k", "portal", "reconnect failed");
  limiter.warn(at(20ms), "k", "portal", "reconnect failed");
  limiter.flush(at(500ms));
  ASSERT_EQ(lines().size(), 1u);
  limiter.flush(at(1s));
  auto out = lines();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[1].ends_with("WARN  portal: suppressed 2 similar messages key=k suppressed=2"));
  limiter.flush(at(5s));
  limiter.warn(at(5s), "k", "portal", "reconnect failed");
  EXPECT_EQ(lines().size(), 3u);  // no second summary for the same events
}

TEST_F(RateLimiterLog, TheDecisionAloneCountsWhatWasHeldBack) {
  log::RateLimiter limiter(2, 1s);
  EXPECT_TRUE(limiter.admit(at(0s), "k").pass);
  EXPECT_TRUE(limiter.admit(at(0s), "k").pass);
  EXPECT_FALSE(limiter.admit(at(0s), "k").pass);
  EXPECT_FALSE(limiter.admit(at(999ms), "k").pass);
  auto next = limiter.admit(at(1s), "k");
  EXPECT_TRUE(next.pass);
  EXPECT_EQ(next.suppressed_before, 2u);
  EXPECT_TRUE(lines().empty());
}

TEST_F(RateLimiterLog, KeysBeyondTheBoundShareOneWindow) {
  log::RateLimiter limiter(1, 1s, 2);
  EXPECT_TRUE(limiter.admit(at(0s), "198.51.100.1").pass);
  EXPECT_TRUE(limiter.admit(at(0s), "198.51.100.2").pass);
  EXPECT_TRUE(limiter.admit(at(0s), "198.51.100.3").pass);   // first into <overflow>
  EXPECT_FALSE(limiter.admit(at(0s), "198.51.100.4").pass);  // shares it
  // Once the old windows have expired, they make room again.
  EXPECT_TRUE(limiter.admit(at(2s), "198.51.100.5").pass);
  EXPECT_FALSE(limiter.admit(at(2s), "198.51.100.5").pass);
}

TEST_F(RateLimiterLog, ADisabledLevelCostsNoBudget) {
  log::set_level(log::Level::Error);
  log::RateLimiter limiter(1, 1s);
  limiter.warn(at(0s), "k", "t", "dropped by level");
  log::set_level(log::Level::Trace);
  limiter.warn(at(0s), "k", "t", "still within budget");
  auto out = lines();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ends_with("still within budget"));
}
