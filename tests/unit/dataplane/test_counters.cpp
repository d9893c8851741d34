// The counters an operator reads: relayed traffic by direction and address
// families, received bytes, the table sizes a worker publishes, and the
// "<prefix>counters" memzone layout.
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {


class RelayedCounters : public FamilyCombinationTest {
 protected:
  uint64_t relayed_total(uint64_t RelayedTraffic::*field) const {
    uint64_t total = 0;
    for (const auto& by_in : worker->counters().relayed)
      for (const auto& by_out : by_in)
        for (const RelayedTraffic& t : by_out) total += t.*field;
    return total;
  }
};

TEST_P(RelayedCounters, ChannelDataToThePeerCountsItsDataUnderClientToPeerAndBothFamilies) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer());
  const auto data = bytes_of("23 bytes of application");
  FakeMbuf m(udp_frame(from_gateway(client().family()), client(), listen(), channel_data(0x4001, data, 1)));

  ASSERT_EQ(run(m), Next::Tx);

  const RelayedTraffic& t = worker->counters().relayed_of(Direction::ClientToPeer, client().family(), peer().family());
  EXPECT_EQ(t.packets, 1u);
  EXPECT_EQ(t.bytes, data.size());
  EXPECT_EQ(relayed_total(&RelayedTraffic::packets), 1u);
}

TEST_P(RelayedCounters, UdpFromThePeerCountsItsPayloadUnderPeerToClientWithThePeersFamilyFirst) {
  allocate(50000, client());
  bind(50000, client(), 0x4001, peer());
  const auto data = bytes_of("reply");
  FakeMbuf m(udp_frame(from_gateway(peer().family()), peer(), relayed(), data));

  ASSERT_EQ(run(m), Next::Tx);

  const RelayedTraffic& t = worker->counters().relayed_of(Direction::PeerToClient, peer().family(), client().family());
  EXPECT_EQ(t.packets, 1u);
  EXPECT_EQ(t.bytes, data.size());
  EXPECT_EQ(relayed_total(&RelayedTraffic::bytes), data.size());
}

TEST_P(RelayedCounters, ChannelDataOnAnUnknownChannelIsDroppedAndRelaysNothing) {
  allocate(50000, client());
  FakeMbuf m(udp_frame(from_gateway(client().family()), client(), listen(), channel_data(0x4001, bytes_of("x"))));

  ASSERT_EQ(run(m), Next::Free);

  EXPECT_EQ(count(Counter::DropUnknownChannel), 1u);
  EXPECT_EQ(relayed_total(&RelayedTraffic::packets), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, RelayedCounters, ::testing::ValuesIn(kFamilyCombinations),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_F(WorkerTest, ClientToClientTrafficIsCountedUnderItsOwnDirection) {
  const SocketAddress client_a = sock("198.51.100.10:40000");
  const SocketAddress client_b = sock("[2001:db8:2::10]:41000");
  allocate(50000, client_a);
  allocate(50001, client_b);
  bind(50000, client_a, 0x4001, sock("203.0.113.1:50001"));
  bind(50001, client_b, 0x4007, sock("203.0.113.1:50000"));
  const auto data = bytes_of("symmetric NAT");
  FakeMbuf m(udp_frame(from_gateway(Family::V4), client_a, sock("203.0.113.1:3478"), channel_data(0x4001, data)));

  ASSERT_EQ(run(m), Next::Tx);

  const RelayedTraffic& t = worker->counters().relayed_of(Direction::ClientToClient, Family::V4, Family::V6);
  EXPECT_EQ(t.packets, 1u);
  EXPECT_EQ(t.bytes, data.size());
  EXPECT_EQ(worker->counters().relayed_of(Direction::ClientToPeer, Family::V4, Family::V4).packets, 0u);
}

TEST_F(WorkerTest, ReceivedBytesAreTheFrameLengthsOfTheWholeBurstDroppedOrNot) {
  FakeMbuf relayed(udp_frame(from_gateway(Family::V4), sock("198.51.100.10:40000"), sock("203.0.113.1:3478"),
                             bytes_of("neither STUN nor ChannelData")));
  FakeMbuf closed(udp_frame(from_gateway(Family::V4), sock("198.51.100.10:40000"), sock("203.0.113.1:9"),
                            bytes_of("closed port")));
  rte_mbuf* pkts[2] = {relayed.get(), closed.get()};
  const uint64_t expected = relayed.get()->pkt_len + closed.get()->pkt_len;
  Next next[2];

  worker->classify({pkts, 2}, now, now, next);

  EXPECT_EQ(worker->counters().rx_bytes, expected);
  EXPECT_EQ(count(Counter::RxPackets), 2u);
}

TEST_F(WorkerTest, TheWorkerPublishesItsTableSizesAfterEachCommand) {
  const SocketAddress client = sock("198.51.100.10:40000");
  allocate(50000, client);
  allocate(50001, client);
  EXPECT_EQ(worker->counters().tables.allocations, 2u);
  bind(50000, client, 0x4001, sock("192.0.2.20:5000"));
  EXPECT_EQ(worker->counters().tables.channels, 1u);
  EXPECT_EQ(worker->counters().tables.bindings, 1u);

  allocate(50000, client);  // re-created: still one allocation on that port
  EXPECT_EQ(worker->counters().tables.allocations, 2u);
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50001})), Applied::Ok);
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50001})), Applied::Ok);
  EXPECT_EQ(worker->counters().tables.allocations, 1u);
}

// ---- the memzone layout ----

struct alignas(64) Memory {
  std::byte bytes[counters_zone_size(2) + 64];
};

TEST(CountersZone, TheHeaderNamesEveryWorkersLcoreAndPortAndTheCountersStartZeroed) {
  Memory memory;
  std::memset(memory.bytes, 0xAB, sizeof memory.bytes);
  const WorkerPlacement placement[] = {{2, 0}, {3, 0}};
  auto workers = init_counters_zone(memory.bytes, 3'000'000'000, placement);
  ASSERT_TRUE(workers.ok()) << workers.error();
  ASSERT_EQ(workers->size(), 2u);
  EXPECT_EQ((*workers)[1].get(Counter::RxPackets), 0u);
  EXPECT_EQ((*workers)[1].tables.channels, 0u);

  auto view = view_counters_zone(memory.bytes);
  ASSERT_TRUE(view.ok()) << view.error();
  EXPECT_EQ(view->header->tsc_hz, 3'000'000'000u);
  EXPECT_EQ(view->header->placement[1].lcore, 3);
  EXPECT_EQ(view->workers.data(), workers->data());
  EXPECT_EQ(counters_memzone_name("relay0."), "relay0.counters");
}

TEST(CountersZone, TooLittleMemoryMisalignedMemoryOrNoWorkersAreRefused) {
  Memory memory;
  const WorkerPlacement placement[] = {{2, 0}, {3, 0}};
  EXPECT_FALSE(init_counters_zone(std::span(memory.bytes).first(counters_zone_size(2) - 1), 1, placement).ok());
  EXPECT_FALSE(init_counters_zone(std::span(memory.bytes).subspan(8), 1, placement).ok());
  EXPECT_FALSE(init_counters_zone(memory.bytes, 1, {}).ok());
}

TEST(CountersZone, SummingAddsEveryCounterAndTakesTableSizesFromTheFirstReplica) {
  std::vector<WorkerCounters> workers(2);
  workers[0].add(Counter::DropExpired, 2);
  workers[1].add(Counter::DropExpired, 3);
  workers[0].add_relayed(Direction::PeerToClient, Family::V6, Family::V4, 10);
  workers[1].add_relayed(Direction::PeerToClient, Family::V6, Family::V4, 5);
  workers[0].busy_cycles = 7;
  workers[1].busy_cycles = 8;
  workers[0].tables = {1, 2, 3};
  workers[1].tables = {1, 2, 3};

  const WorkerCounters sum = sum_counters(workers);

  EXPECT_EQ(sum.get(Counter::DropExpired), 5u);
  EXPECT_EQ(sum.relayed_of(Direction::PeerToClient, Family::V6, Family::V4).packets, 2u);
  EXPECT_EQ(sum.relayed_of(Direction::PeerToClient, Family::V6, Family::V4).bytes, 15u);
  EXPECT_EQ(sum.busy_cycles, 15u);
  EXPECT_EQ(sum.tables.channels, 2u);
}

}  // namespace
}  // namespace relay::dataplane::testing
