// Reading the "<prefix>counters" memzone bytes: what the data plane wrote
// comes back per worker, and a zone from another build or a half-written
// one is refused instead of being misread.
#include <gtest/gtest.h>

#include <vector>

#include "controlplane/metrics/dataplane_snapshot.hpp"

namespace relay::metrics {
namespace {


struct Zone {
  explicit Zone(size_t workers) : words((counters_zone_size(workers) + 63) / 64) {}
  std::span<std::byte> bytes() { return {reinterpret_cast<std::byte*>(words.data()), words.size() * 64}; }
  struct alignas(64) Line {
    std::byte b[64];
  };
  std::vector<Line> words;
};

TEST(DataplaneSnapshot, EachWorkersCountersComeBackWithItsLcoreAndPort) {
  Zone zone(2);
  const WorkerPlacement placement[] = {{3, 0}, {5, 1}};
  auto workers = init_counters_zone(zone.bytes(), 2'500'000'000, placement);
  ASSERT_TRUE(workers.ok()) << workers.error();
  (*workers)[0].add(Counter::RxPackets, 7);
  (*workers)[1].add(Counter::DropExpired, 2);
  (*workers)[1].rx_bytes = 900;

  auto s = snapshot_dataplane(zone.bytes());

  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->tsc_hz, 2'500'000'000u);
  ASSERT_EQ(s->workers.size(), 2u);
  EXPECT_EQ(s->workers[0].lcore, 3);
  EXPECT_EQ(s->workers[0].counters.get(Counter::RxPackets), 7u);
  EXPECT_EQ(s->workers[1].lcore, 5);
  EXPECT_EQ(s->workers[1].port, 1);
  EXPECT_EQ(s->workers[1].counters.get(Counter::DropExpired), 2u);
  EXPECT_EQ(s->workers[1].counters.rx_bytes, 900u);
}

TEST(DataplaneSnapshot, AZoneWithoutMagicIsNotReadYet) {
  Zone zone(1);
  auto s = snapshot_dataplane(zone.bytes());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("magic"), std::string::npos);
}

TEST(DataplaneSnapshot, AZoneFromABuildWithAnotherCounterTableIsRefused) {
  Zone zone(1);
  const WorkerPlacement placement[] = {{1, 0}};
  ASSERT_TRUE(init_counters_zone(zone.bytes(), 1, placement).ok());
  reinterpret_cast<CountersZoneHeader*>(zone.bytes().data())->counter_count += 1;
  auto s = snapshot_dataplane(zone.bytes());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("another counter table"), std::string::npos);
}

TEST(DataplaneSnapshot, AnotherLayoutVersionIsRefused) {
  Zone zone(1);
  const WorkerPlacement placement[] = {{1, 0}};
  ASSERT_TRUE(init_counters_zone(zone.bytes(), 1, placement).ok());
  reinterpret_cast<CountersZoneHeader*>(zone.bytes().data())->version = 99;
  EXPECT_FALSE(snapshot_dataplane(zone.bytes()).ok());
}

TEST(DataplaneSnapshot, AWorkerCountBeyondTheMemzoneIsRefusedNotReadOutOfBounds) {
  Zone zone(1);
  const WorkerPlacement placement[] = {{1, 0}};
  ASSERT_TRUE(init_counters_zone(zone.bytes(), 1, placement).ok());
  reinterpret_cast<CountersZoneHeader*>(zone.bytes().data())->worker_count = 2;
  EXPECT_FALSE(snapshot_dataplane(zone.bytes()).ok());
  EXPECT_FALSE(snapshot_dataplane(zone.bytes().first(10)).ok());
}

}  // namespace
}  // namespace relay::metrics
