// The restart dump (ARCHITECTURE.md, "Control-plane restart"): a worker's
// replica read back as the commands that would rebuild it, a bounded slice
// per iteration.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;

constexpr uint16_t kDumpId = 0x5a5a;
constexpr uint64_t kSecond = 1'000'000'000;

class DumpTest : public WorkerTest {
 protected:
  SocketAddress client() const { return sock("192.0.2.10:40000"); }
  SocketAddress peer() const { return sock("198.51.100.20:5000"); }

  TscClock clock() const { return TscClock{kHz, now, now}; }

  // Runs a whole dump, `per_call` messages and `visits` slots at a time.
  std::vector<CommandMessage> dump_all(size_t per_call = 32, uint64_t visits = 512, size_t* calls = nullptr) {
    DumpCursor cursor;
    cursor.start(kDumpId);
    std::vector<CommandMessage> all;
    std::vector<CommandMessage> out(per_call);
    size_t n_calls = 0;
    while (cursor.active()) {
      const size_t n = worker->tables().dump(cursor, out, visits, clock());
      EXPECT_LE(n, per_call);
      all.insert(all.end(), out.begin(), out.begin() + static_cast<ptrdiff_t>(n));
      ++n_calls;
    }
    if (calls != nullptr) *calls = n_calls;
    return all;
  }

  static size_t count_kind(const std::vector<CommandMessage>& ms, CommandKind k) {
    size_t n = 0;
    for (const auto& m : ms) n += m.kind == k ? 1 : 0;
    return n;
  }
};

TEST_F(DumpTest, AnAllocationWithAChannelDumpsAsCreateThenInstallThenDumpEndAllTaggedWithTheRequest) {
  allocate(50000, client(), 600 * kSecond);
  bind(50000, client(), 0x4001, peer(), 300 * kSecond);

  const auto dump = dump_all();

  ASSERT_EQ(dump.size(), 3u);
  for (const auto& m : dump) EXPECT_EQ(m.dump_id, kDumpId);
  EXPECT_EQ(dump[0].kind, CommandKind::CreateAllocation);
  EXPECT_EQ(dump[0].port, 50000);
  EXPECT_EQ(dump[0].expiry_ns, now + 600 * kSecond);
  EXPECT_EQ(ring_abi::from_wire(dump[0].client), client());
  EXPECT_EQ(ring_abi::from_wire(dump[0].listen), sock("203.0.113.1:3478"));
  EXPECT_EQ(ring_abi::from_wire(dump[0].relay_v4), sock("203.0.113.1:50000"));
  EXPECT_EQ(ring_abi::from_wire(dump[0].relay_v6), sock("[2001:db8:1::1]:50000"));
  EXPECT_EQ(dump[1].kind, CommandKind::InstallChannel);
  EXPECT_EQ(dump[1].channel, 0x4001);
  EXPECT_EQ(dump[1].port, 50000);
  EXPECT_EQ(dump[1].expiry_ns, now + 300 * kSecond);
  EXPECT_EQ(ring_abi::from_wire(dump[1].client), client());
  EXPECT_EQ(ring_abi::from_wire(dump[1].listen), sock("203.0.113.1:3478"));
  EXPECT_EQ(ring_abi::from_wire(dump[1].peer), peer());
  EXPECT_EQ(ring_abi::from_wire(dump[1].relay), sock("203.0.113.1:50000"));
  EXPECT_EQ(dump[2].kind, CommandKind::DumpEnd);
}

TEST_F(DumpTest, TheOwnerAnAllocationWasCreatedWithIsDumpedWithIt) {
  constexpr uint64_t kOwner = 0x0123'4567'89ab'cdef;  // core::OwnerId, opaque here
  ASSERT_EQ(apply(ring_abi::make_create_allocation(
                AllocationPort{50000}, SocketAddress{ip("203.0.113.1"), 50000}, std::nullopt,
                ClientFiveTuple{ClientSocket{client()}, ListenSocket{sock("203.0.113.1:3478")}},
                Instant::from_ns(now + 600 * kSecond), kOwner)),
            Applied::Ok);
  allocate(50001, sock("192.0.2.11:40000"));  // no owner recorded

  const auto dump = dump_all();

  ASSERT_EQ(dump.size(), 3u);
  EXPECT_EQ(dump[0].port, 50000);
  EXPECT_EQ(dump[0].owner, kOwner);
  EXPECT_EQ(dump[1].port, 50001);
  EXPECT_EQ(dump[1].owner, 0u);
}

TEST_F(DumpTest, AnEmptyReplicaDumpsOnlyDumpEnd) {
  const auto dump = dump_all();
  ASSERT_EQ(dump.size(), 1u);
  EXPECT_EQ(dump[0].kind, CommandKind::DumpEnd);
  EXPECT_EQ(dump[0].dump_id, kDumpId);
}

TEST_F(DumpTest, AnIpv6ClientWithAnIpv4PeerAndAnIpv4OnlyAllocationDumpAsTheyWereInstalled) {
  const SocketAddress client6 = sock("[2001:db8:2::10]:40000");
  ASSERT_EQ(apply(ring_abi::make_create_allocation(
                AllocationPort{50001}, SocketAddress{ip("203.0.113.1"), 50001}, std::nullopt,
                ClientFiveTuple{ClientSocket{client6}, ListenSocket{sock("[2001:db8:1::1]:3478")}},
                Instant::from_ns(now + 600 * kSecond))),
            Applied::Ok);
  bind(50001, client6, 0x7ffe, peer());

  const auto dump = dump_all();

  ASSERT_EQ(dump.size(), 3u);
  EXPECT_EQ(dump[0].relay_v6.family, 0);
  EXPECT_EQ(ring_abi::from_wire(dump[0].client), client6);
  EXPECT_EQ(ring_abi::from_wire(dump[1].listen), sock("[2001:db8:1::1]:3478"));
  EXPECT_EQ(ring_abi::from_wire(dump[1].client), client6);
  EXPECT_EQ(ring_abi::from_wire(dump[1].relay), sock("203.0.113.1:50001"));
}

TEST_F(DumpTest, FreedAllocationsTheirChannelsAndExpiredEntriesAreNotDumped) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer());
  allocate(50002, sock("192.0.2.11:40000"));
  bind(50002, sock("192.0.2.11:40000"), 0x4001, peer());
  allocate(50004, sock("192.0.2.12:40000"), 600 * kSecond);
  bind(50004, sock("192.0.2.12:40000"), 0x4002, peer(), 10 * kSecond);
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50002})), Applied::Ok);
  now += 20 * kSecond;  // the channel of 50004 has expired, its allocation has not

  const auto dump = dump_all();

  EXPECT_EQ(count_kind(dump, CommandKind::CreateAllocation), 2u);
  EXPECT_EQ(count_kind(dump, CommandKind::InstallChannel), 1u);
  for (const auto& m : dump) EXPECT_NE(m.port, 50002);
  for (const auto& m : dump) {
    if (m.kind == CommandKind::InstallChannel) {
      EXPECT_EQ(m.port, 50000);
    }
  }
}

TEST_F(DumpTest, EachCallWritesAtMostItsRoomAndVisitsAtMostItsBudgetYetTheDumpIsComplete) {
  for (uint16_t i = 0; i < 40; ++i) {
    const auto port = static_cast<uint16_t>(50000 + i);
    const SocketAddress c{ip("192.0.2.10"), static_cast<uint16_t>(40000 + i)};
    allocate(port, c);
    for (uint16_t ch = 0; ch < 5; ++ch) bind(port, c, static_cast<uint16_t>(0x4000 + ch), peer());
  }
  size_t calls = 0;
  const uint64_t visits = 64;
  const auto dump = dump_all(7, visits, &calls);

  EXPECT_EQ(count_kind(dump, CommandKind::CreateAllocation), 40u);
  EXPECT_EQ(count_kind(dump, CommandKind::InstallChannel), 200u);
  EXPECT_EQ(count_kind(dump, CommandKind::DumpEnd), 1u);
  EXPECT_EQ(dump.back().kind, CommandKind::DumpEnd);
  // Every port of the range, every channel and every permission slot costs one visit.
  const uint64_t slots =
      (65535 - 49152 + 1) + worker->tables().channels().capacity() + worker->tables().permissions().capacity();
  EXPECT_GE(calls, slots / visits);
}

TEST_F(DumpTest, APermissionDumpsAsInstallPermissionAfterTheChannels) {
  allocate(50000, client(), 600 * kSecond);
  bind(50000, client(), 0x4001, peer());
  ASSERT_EQ(apply(ring_abi::make_install_permission(
                ClientFiveTuple{ClientSocket{client()}, ListenSocket{sock("203.0.113.1:3478")}},
                ip("2001:db8:3::20"), sock("[2001:db8:1::1]:50000"), Instant::from_ns(now + 300 * kSecond))),
            Applied::Ok);

  const auto dump = dump_all();

  ASSERT_EQ(dump.size(), 4u);
  EXPECT_EQ(dump[2].kind, CommandKind::InstallPermission);
  EXPECT_EQ(dump[2].dump_id, kDumpId);
  EXPECT_EQ(dump[2].port, 50000);
  EXPECT_EQ(dump[2].expiry_ns, now + 300 * kSecond);
  EXPECT_EQ(ring_abi::from_wire(dump[2].client), client());
  EXPECT_EQ(ring_abi::from_wire(dump[2].listen), sock("203.0.113.1:3478"));
  EXPECT_EQ(ring_abi::from_wire(dump[2].peer), sock("[2001:db8:3::20]:0"));
  EXPECT_EQ(ring_abi::from_wire(dump[2].relay), sock("[2001:db8:1::1]:50000"));
  EXPECT_EQ(dump[3].kind, CommandKind::DumpEnd);
}

TEST_F(DumpTest, ADumpReappliedToAFreshWorkerRebuildsTheSameReplica) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer());
  bind(50000, client(), 0x4002, sock("[2001:db8:3::20]:6000"));
  ASSERT_EQ(apply(ring_abi::make_install_permission(
                ClientFiveTuple{ClientSocket{client()}, ListenSocket{sock("203.0.113.1:3478")}}, ip("192.0.2.99"),
                sock("203.0.113.1:50000"), Instant::from_ns(now + 300 * kSecond))),
            Applied::Ok);
  const auto first = dump_all();

  make_worker(test_config());
  for (const auto& m : first) {
    if (m.kind != CommandKind::DumpEnd) {
      EXPECT_EQ(apply(m), Applied::Ok);
    }
  }
  auto second = dump_all();

  // Each worker hashes with its own secret, so slots (and the dump's order
  // within a table) differ: compare the messages in one canonical order.
  auto first_sorted = first;
  const auto by_bytes = [](const CommandMessage& a, const CommandMessage& b) {
    return std::memcmp(&a, &b, sizeof(CommandMessage)) < 0;
  };
  std::sort(first_sorted.begin(), first_sorted.end(), by_bytes);
  std::sort(second.begin(), second.end(), by_bytes);
  ASSERT_EQ(second.size(), first_sorted.size());
  for (size_t i = 0; i < first_sorted.size(); ++i)
    EXPECT_EQ(std::memcmp(&first_sorted[i], &second[i], sizeof(CommandMessage)), 0) << "message " << i;
}

TEST_F(DumpTest, RestartingTheCursorStartsTheDumpOverWithTheNewId) {
  allocate(50000, client());
  DumpCursor cursor;
  cursor.start(1);
  std::vector<CommandMessage> out(1);
  ASSERT_EQ(worker->tables().dump(cursor, out, 1'000'000, clock()), 1u);
  EXPECT_EQ(out[0].kind, CommandKind::CreateAllocation);

  cursor.start(2);
  ASSERT_EQ(worker->tables().dump(cursor, out, 1'000'000, clock()), 1u);
  EXPECT_EQ(out[0].kind, CommandKind::CreateAllocation);
  EXPECT_EQ(out[0].dump_id, 2);
}

TEST_F(DumpTest, DumpStateIsRejectedByAWorkerWithoutADumpRing) {
  EXPECT_EQ(apply(ring_abi::make_dump_state(kDumpId)), Applied::Rejected);
  EXPECT_FALSE(worker->dumping());
  EXPECT_EQ(count(Counter::CommandsRejected), 1u);
}

TEST(DumpMessages, DumpStateAndDumpEndCarryTheirIdAndNothingElse) {
  for (const CommandMessage& m : {ring_abi::make_dump_state(kDumpId), ring_abi::make_dump_end(kDumpId)}) {
    EXPECT_EQ(m.dump_id, kDumpId);
    EXPECT_EQ(m.port, 0);
    EXPECT_EQ(m.expiry_ns, 0u);
    EXPECT_EQ(m.client.family, 0);
  }
  EXPECT_EQ(ring_abi::make_dump_state(1).kind, CommandKind::DumpState);
  EXPECT_EQ(ring_abi::make_dump_end(1).kind, CommandKind::DumpEnd);
  EXPECT_EQ(ring_abi::make_install_channel({}, ChannelNumber{0x4000}, PeerSocket{}, SocketAddress{}, Instant{}).dump_id,
            0);
}

TEST(TscClockTest, ExpiryRoundTripsThroughTheTscDeadlineWithinANanosecondPerGigahertz) {
  const TscClock clock{2'400'000'000, 7'000'000'000'000, 1'000'000'000'000};
  for (uint64_t lifetime : {1ull, 1'000ull, 600'000'000'000ull, 3'600'000'000'000ull}) {
    const uint64_t expiry = clock.monotonic_now_ns + lifetime;
    const uint64_t back = clock.expiry_ns(clock.deadline(expiry));
    EXPECT_NEAR(static_cast<double>(back), static_cast<double>(expiry), 2.0) << lifetime;
  }
}

TEST(TscClockTest, APassedDeadlineHasNoExpiry) {
  const TscClock clock{2'400'000'000, 7'000'000'000'000, 1'000'000'000'000};
  EXPECT_EQ(clock.expiry_ns(clock.tsc_now), 0u);
  EXPECT_EQ(clock.expiry_ns(0), 0u);
}

}  // namespace
}  // namespace relay::dataplane::testing
