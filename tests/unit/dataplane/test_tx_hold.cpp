// Holding a partial TX batch across loop turns (tx_hold.hpp): a full batch
// goes at once, a partial one when its oldest packet has waited the bound,
// and a bound of zero sends every turn as before.
#include <gtest/gtest.h>

#include "dataplane/tx_hold.hpp"

namespace relay::dataplane::testing {
namespace {

constexpr uint64_t kUs = 1'000;  // TSC ticks are ns

TEST(TxHold, ABoundOfZeroSendsEveryTurnThatQueuedAnything) {
  TxHold h(0);
  EXPECT_FALSE(h.send_now(0, 0, 10 * kUs));
  EXPECT_TRUE(h.send_now(0, 1, 11 * kUs));
  EXPECT_TRUE(h.send_now(0, 40, 12 * kUs));
}

TEST(TxHold, APartialBatchWaitsUntilItsOldestPacketReachesTheBound) {
  TxHold h(4 * kUs);
  const uint64_t t = 100 * kUs;
  EXPECT_FALSE(h.send_now(0, 1, t));           // the first packet starts the clock
  EXPECT_FALSE(h.send_now(1, 1, t + 1 * kUs));  // an empty turn keeps holding
  EXPECT_FALSE(h.send_now(1, 3, t + 3 * kUs));  // later packets do not restart it
  EXPECT_TRUE(h.send_now(3, 3, t + 4 * kUs));
}

TEST(TxHold, AFullBatchGoesAtOnce) {
  TxHold h(4 * kUs);
  EXPECT_TRUE(h.send_now(0, TxHold::kSendAt, 100 * kUs));
  EXPECT_FALSE(h.send_now(0, 5, 101 * kUs));
  EXPECT_TRUE(h.send_now(5, TxHold::kSendAt + 7, 102 * kUs));
}

TEST(TxHold, AfterASendTheNextBatchHasAClockOfItsOwn) {
  TxHold h(4 * kUs);
  EXPECT_FALSE(h.send_now(0, 2, 100 * kUs));
  EXPECT_TRUE(h.send_now(2, 2, 104 * kUs));  // sent: the worker's count is 0 again
  EXPECT_FALSE(h.send_now(0, 1, 107 * kUs));
  EXPECT_TRUE(h.send_now(1, 1, 111 * kUs));
}

TEST(TxHold, NothingQueuedIsNeverSent) {
  TxHold h(4 * kUs);
  EXPECT_FALSE(h.send_now(0, 0, 0));
  EXPECT_FALSE(h.send_now(0, 0, 1'000 * kUs));
}

}  // namespace
}  // namespace relay::dataplane::testing
