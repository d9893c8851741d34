// Table commands on their way to the workers: every "cmd.<lcore>" ring sees
// every command in the Server's order, whatever ring stalls when.
#include <gtest/gtest.h>

#include "controlplane/process/command_fanout.hpp"
#include "tests/unit/process/fake_rings.hpp"

namespace relay::process::testing {
namespace {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;

const ClientFiveTuple kClient{ClientSocket{sa("198.51.100.10:40000")}, ListenSocket{sa("203.0.113.1:3478")}};
const PeerSocket kPeer{sa("192.0.2.20:5000")};

// Distinct, recognisable messages: the port numbers them.
CommandMessage numbered(uint16_t n) { return ring_abi::make_free_allocation(AllocationPort{n}); }
std::vector<uint16_t> ports_of(const FakeCommandRing& ring) {
  std::vector<uint16_t> out;
  for (const auto& m : ring.taken) out.push_back(m.port);
  return out;
}

struct FanoutTest : ::testing::Test {
  FakeCommandRing a, b, c;
  CommandFanout fanout{{a, b, c}, 4};
};

TEST_F(FanoutTest, EveryRingReceivesEveryCommandInOrder) {
  for (uint16_t n = 1; n <= 3; ++n) fanout.publish(numbered(n));
  for (auto* ring : {&a, &b, &c}) EXPECT_EQ(ports_of(*ring), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(fanout.ring_count(), 3u);
}

TEST_F(FanoutTest, AFullRingDelaysOnlyItsOwnCommandsAndGetsThemInOrderOnceItDrains) {
  b.room = 1;
  for (uint16_t n = 1; n <= 3; ++n) fanout.publish(numbered(n));
  EXPECT_EQ(ports_of(a), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1}));
  EXPECT_EQ(ports_of(c), (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_FALSE(fanout.idle());
  EXPECT_EQ(fanout.waiting(), 2u);

  EXPECT_EQ(fanout.flush(at(0)), 0u);  // still full: nothing moves
  b.room = 1;
  EXPECT_EQ(fanout.flush(at(0)), 1u);
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1, 2}));

  fanout.publish(numbered(4));  // must queue behind 3, not overtake it
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1, 2}));
  b.room = 100;
  EXPECT_EQ(fanout.flush(at(0)), 2u);
  EXPECT_EQ(ports_of(b), (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_EQ(ports_of(a), (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(fanout.overflowed(), 0u);
}

TEST_F(FanoutTest, BeyondTheWaitingBoundCommandsAreLostCountedAndTheRestKeepsItsOrder) {
  c.room = 0;
  for (uint16_t n = 1; n <= 6; ++n) fanout.publish(numbered(n));  // bound is 4
  EXPECT_EQ(fanout.overflowed(), 2u);
  EXPECT_EQ(fanout.reconcile_stats().divergences[static_cast<size_t>(Divergence::Overflow)], 2u);
  EXPECT_EQ(fanout.waiting(), 4u);
  c.room = 100;
  EXPECT_EQ(fanout.flush(at(0)), 4u);
  EXPECT_EQ(ports_of(c), (std::vector<uint16_t>{1, 2, 3, 4}));
  EXPECT_EQ(ports_of(a), (std::vector<uint16_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Fanout, WithoutWorkersThereIsNothingToWaitFor) {
  CommandFanout fanout{{}};
  fanout.publish(numbered(1));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(fanout.flush(at(0)), 0u);
}

// ---- Reconciliation ------------------------------------------------------

// The truth of a relay with ports 50000..50003: an allocation on 50001 with
// one channel, nothing elsewhere. `digest` is what the tests say it is.
class FakeReplicaSource final : public ReplicaSource {
 public:
  [[nodiscard]] uint16_t first_port() const override { return 50000; }
  [[nodiscard]] uint16_t last_port() const override { return 50003; }
  std::vector<CommandMessage> replica_of(uint16_t port, Instant) override {
    if (port != 50001) return {ring_abi::make_free_allocation(AllocationPort{port})};
    std::vector<CommandMessage> group{
        ring_abi::make_create_allocation(AllocationPort{50001}, sa("203.0.113.1:50001"), std::nullopt, kClient,
                                         at(600))};
    for (size_t i = 0; i < channels; ++i)
      group.push_back(ring_abi::make_install_channel(kClient, ChannelNumber{static_cast<uint16_t>(0x4000 + i)}, kPeer,
                                                     sa("203.0.113.1:50001"), at(600)));
    return group;
  }
  Digest digest() override { return {truth, entries}; }
  size_t channels = 1;
  uint64_t truth = 0xd16e57;
  uint64_t entries = 2;
};

constexpr uint16_t kSession = 7;
ring_abi::AckMessage ack(uint8_t worker, uint32_t seq, uint64_t digest = 0xd16e57,
                         ring_abi::AckResult result = ring_abi::AckResult::Ok) {
  return {seq, kSession, worker, result, digest};
}
uint64_t divergences(const CommandFanout& f, Divergence why) {
  return f.reconcile_stats().divergences[static_cast<size_t>(why)];
}
// Acknowledges, as worker `w`, everything ring `r` took after the first `from`.
void ack_all(CommandFanout& f, uint8_t w, const FakeCommandRing& r, size_t from, Instant now) {
  for (size_t i = from; i < r.taken.size(); ++i) f.take_ack(ack(w, r.taken[i].seq), now);
}

struct ReconcileTest : ::testing::Test {
  FakeCommandRing a, b;
  FakeReplicaSource truth;
  CommandFanout fanout{{a, b}, 4, &truth, kSession};
};

TEST_F(ReconcileTest, MessagesAreNumberedPerRingAsTheyEnterItAndCarryTheSession) {
  b.room = 1;
  for (uint16_t n = 1; n <= 3; ++n) fanout.publish(numbered(n));
  ASSERT_EQ(a.taken.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a.taken[i].seq, i + 1);
    EXPECT_EQ(a.taken[i].session, kSession);
    EXPECT_EQ(a.taken[i].group_rest, 0);
  }
  b.room = 100;
  fanout.flush(at(0));
  ASSERT_EQ(b.taken.size(), 3u);
  EXPECT_EQ(b.taken[2].seq, 3u);  // waiting took no number
  EXPECT_EQ(fanout.lane_status(1).sent, 3u);
}

TEST_F(ReconcileTest, AnAcknowledgedLaneIsInSyncAndItsDigestIsCompared) {
  fanout.publish(numbered(1));
  fanout.take_ack(ack(0, 1), at(0));
  fanout.take_ack(ack(1, 1), at(0));
  fanout.reconcile(at(1), true);
  EXPECT_EQ(fanout.reconcile_stats().digest_checks, 2u);
  EXPECT_EQ(fanout.reconcile_stats().digest_mismatches, 0u);
  EXPECT_EQ(fanout.lane_status(0).acked, 1u);
  EXPECT_EQ(fanout.reconcile_stats().lanes_resyncing, 0u);
}

TEST_F(ReconcileTest, AGapInTheAcknowledgementsResynchronisesThatWorkerPortByPortInGroups) {
  for (uint16_t n = 1; n <= 3; ++n) fanout.publish(numbered(n));
  fanout.take_ack(ack(0, 1), at(0));
  fanout.take_ack(ack(0, 3), at(0));  // 2 never arrived: the worker lost it
  EXPECT_EQ(divergences(fanout, Divergence::Gap), 1u);
  EXPECT_TRUE(fanout.lane_status(0).resyncing);
  ack_all(fanout, 1, b, 0, at(0));
  EXPECT_FALSE(fanout.lane_status(1).resyncing);

  const size_t before = a.taken.size();
  EXPECT_EQ(fanout.flush(at(0)), 5u);  // 50000 free, 50001 create + channel, 50002 and 50003 free
  ASSERT_EQ(a.taken.size(), before + 5);
  std::vector<CommandKind> kinds;
  for (size_t i = before; i < a.taken.size(); ++i) kinds.push_back(a.taken[i].kind);
  EXPECT_EQ(kinds, (std::vector<CommandKind>{CommandKind::FreeAllocation, CommandKind::CreateAllocation,
                                             CommandKind::InstallChannel, CommandKind::FreeAllocation,
                                             CommandKind::FreeAllocation}));
  EXPECT_EQ(a.taken[before + 1].group_rest, 1);  // the allocation and its channel go together
  EXPECT_EQ(a.taken[before + 2].group_rest, 0);
  EXPECT_EQ(a.taken[before + 4].seq, 8u);        // numbered on after 3
  EXPECT_EQ(a.groups, 4u);
  EXPECT_TRUE(b.taken.size() == 3);              // the other worker is left alone
  EXPECT_FALSE(fanout.lane_status(0).resyncing);
  EXPECT_EQ(fanout.reconcile_stats().resyncs_completed, 1u);
  EXPECT_EQ(fanout.reconcile_stats().resync_messages, 5u);
}

TEST_F(ReconcileTest, AResyncWaitsForRoomAndResendsAPortWhoseGroupDidNotFit) {
  fanout.resync_all(Divergence::Restart);
  EXPECT_EQ(divergences(fanout, Divergence::Restart), 2u);
  a.room = 2;  // 50000's free fits, 50001's two messages do not
  fanout.flush(at(0));
  EXPECT_EQ(a.taken.size(), 1u);
  EXPECT_TRUE(fanout.lane_status(0).resyncing);
  a.room = 100;
  fanout.flush(at(0));
  EXPECT_EQ(a.taken.size(), 5u);
  EXPECT_FALSE(fanout.lane_status(0).resyncing);
}

TEST_F(ReconcileTest, AGroupLargerThanTheBoundIsSplitIntoGroupsOfTheBound) {
  truth.channels = CommandFanout::kMaxGroup + 10;
  fanout.resync_all(Divergence::Restart);
  fanout.flush(at(0));
  // 50000, then 50001 as two groups (1024 and 11 messages), then 50002, 50003.
  EXPECT_EQ(a.groups, 5u);
  EXPECT_EQ(a.taken[1].group_rest, CommandFanout::kMaxGroup - 1);
  EXPECT_EQ(a.taken[1 + CommandFanout::kMaxGroup].group_rest, 10);
}

TEST_F(ReconcileTest, AnOverflowedLaneDropsWhatWaitsAndIsResynchronisedOnceItsRingHasRoom) {
  a.room = 0;
  for (uint16_t n = 1; n <= 5; ++n) fanout.publish(numbered(n));  // bound 4: one lost
  EXPECT_EQ(divergences(fanout, Divergence::Overflow), 1u);
  EXPECT_EQ(fanout.waiting(), 0u);  // superseded by the resync
  EXPECT_TRUE(fanout.idle());
  a.room = 100;
  fanout.flush(at(0));
  EXPECT_EQ(a.taken.size(), 5u);  // the replica of 50000..50003, not the lost commands
  EXPECT_EQ(a.taken[0].kind, CommandKind::FreeAllocation);
  EXPECT_EQ(a.taken[0].port, 50000);
}

TEST_F(ReconcileTest, AStalledWorkerHoldsOthersBackOnlyUntilTheStallTimeout) {
  b.room = 0;
  fanout.publish(numbered(1));
  fanout.flush(at(0));
  EXPECT_FALSE(fanout.idle());  // answers wait for worker b for now
  fanout.flush(at(0) + CommandFanout::kStallTimeout);
  EXPECT_FALSE(fanout.idle());
  fanout.flush(at(0) + CommandFanout::kStallTimeout + std::chrono::milliseconds(1));
  EXPECT_TRUE(fanout.idle());
  EXPECT_EQ(divergences(fanout, Divergence::Stalled), 1u);
  fanout.publish(numbered(2));  // b is still stalled: this waits, a gets it
  EXPECT_EQ(a.taken.size(), 2u);
}

TEST_F(ReconcileTest, ACommandNeverAcknowledgedWithinTheAckTimeoutIsGivenUpAndRepaired) {
  fanout.flush(at(10));
  fanout.publish(numbered(1));
  fanout.take_ack(ack(1, 1), at(10));
  fanout.flush(at(10));
  fanout.flush(at(10) + CommandFanout::kAckTimeout);
  EXPECT_EQ(divergences(fanout, Divergence::Unacknowledged), 0u);
  fanout.flush(at(10) + CommandFanout::kAckTimeout + std::chrono::milliseconds(1));
  EXPECT_EQ(divergences(fanout, Divergence::Unacknowledged), 1u);
  EXPECT_FALSE(fanout.lane_status(0).resyncing);  // that same flush streamed it
  EXPECT_EQ(fanout.reconcile_stats().resyncs_completed, 1u);
  fanout.take_ack(ack(0, 1), at(12));  // the lost one, late after all
  EXPECT_EQ(fanout.reconcile_stats().stale_acks, 1u);
}

TEST_F(ReconcileTest, ARejectedCommandDivergesButATableFullIsARefusalNotADivergence) {
  for (uint16_t n = 1; n <= 2; ++n) fanout.publish(numbered(n));
  fanout.take_ack(ack(0, 1, 0, ring_abi::AckResult::TableFull), at(0));
  EXPECT_EQ(fanout.reconcile_stats().install_refused, 1u);
  EXPECT_FALSE(fanout.lane_status(0).resyncing);
  fanout.take_ack(ack(0, 2, 0, ring_abi::AckResult::Rejected), at(0));
  EXPECT_EQ(divergences(fanout, Divergence::Rejected), 1u);
  EXPECT_TRUE(fanout.lane_status(0).resyncing);
}

TEST_F(ReconcileTest, RejectionsOfWhatWasSentBeforeAResyncEndedDoNotStartAnother) {
  fanout.publish(numbered(1));
  fanout.resync_all(Divergence::Restart);
  fanout.flush(at(0));  // resync streamed: seq 2..6
  EXPECT_FALSE(fanout.lane_status(0).resyncing);
  fanout.take_ack(ack(0, 1, 0, ring_abi::AckResult::Rejected), at(0));  // before the resync
  EXPECT_EQ(divergences(fanout, Divergence::Rejected), 0u);
  fanout.publish(numbered(2));
  ack_all(fanout, 0, a, 1, at(0));
  fanout.take_ack(ack(0, 7, 0, ring_abi::AckResult::Rejected), at(0));
  EXPECT_EQ(divergences(fanout, Divergence::Rejected), 0u);  // 7 was acked Ok just before: a duplicate
  EXPECT_EQ(fanout.reconcile_stats().stale_acks, 1u);
}

TEST_F(ReconcileTest, ADigestThatDisagreesTwiceInARowResynchronisesOnceDoesNot) {
  fanout.publish(numbered(1));
  fanout.take_ack(ack(0, 1, 0xbad), at(0));
  fanout.take_ack(ack(1, 1), at(0));
  fanout.reconcile(at(1));
  EXPECT_EQ(fanout.reconcile_stats().digest_mismatches, 1u);
  EXPECT_FALSE(fanout.lane_status(0).resyncing);
  fanout.reconcile(at(1) + std::chrono::milliseconds(10));  // not due yet
  EXPECT_EQ(fanout.reconcile_stats().digest_checks, 2u);
  fanout.reconcile(at(2) + std::chrono::milliseconds(1));
  EXPECT_EQ(fanout.reconcile_stats().digest_mismatches, 2u);
  EXPECT_EQ(divergences(fanout, Divergence::Digest), 1u);
  EXPECT_TRUE(fanout.lane_status(0).resyncing);
  EXPECT_FALSE(fanout.lane_status(1).resyncing);
}

TEST_F(ReconcileTest, ALargeTruthIsComparedLessOftenSoItsDigestStaysUnderOnePercentOfTheLoop) {
  truth.entries = 1'000'000;  // 10 µs each: every 10 s
  fanout.publish(numbered(1));
  fanout.take_ack(ack(0, 1), at(0));
  fanout.take_ack(ack(1, 1), at(0));
  fanout.reconcile(at(1));
  EXPECT_EQ(fanout.reconcile_stats().digest_checks, 2u);
  fanout.reconcile(at(5));
  EXPECT_EQ(fanout.reconcile_stats().digest_checks, 2u);
  fanout.reconcile(at(11) + std::chrono::milliseconds(1));
  EXPECT_EQ(fanout.reconcile_stats().digest_checks, 4u);
}

TEST_F(ReconcileTest, ALaneWithCommandsInFlightIsNotCompared) {
  fanout.publish(numbered(1));
  fanout.reconcile(at(1), true);
  EXPECT_EQ(fanout.reconcile_stats().digest_checks, 0u);
}

TEST_F(ReconcileTest, AcknowledgementsOfAnotherSessionOrAnUnknownWorkerAreStale) {
  fanout.publish(numbered(1));
  fanout.take_ack({1, kSession + 1, 0, ring_abi::AckResult::Ok, 0}, at(0));
  fanout.take_ack(ack(9, 1), at(0));
  EXPECT_EQ(fanout.reconcile_stats().stale_acks, 2u);
  EXPECT_EQ(fanout.lane_status(0).acked, 0u);
}

}  // namespace
}  // namespace relay::process::testing
