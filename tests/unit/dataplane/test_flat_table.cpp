// The open-addressing table behind every worker replica.
#include <gtest/gtest.h>
#include <nmmintrin.h>

#include <map>
#include <random>
#include <vector>

#include "dataplane/flat_table.hpp"
#include "dataplane/tables.hpp"

namespace relay::dataplane {
namespace {

struct Key {
  uint64_t a;
  uint64_t b;
  bool operator<(const Key& o) const { return a != o.a ? a < o.a : b < o.b; }
};
struct Value {
  uint64_t v;
};
using Table = FlatTable<Key, Value>;

TEST(FlatTable, InsertedKeysAreFoundAndOthersAreNot) {
  Table t(100);
  EXPECT_EQ(t.upsert({1, 2}, {42}), Table::Upsert::Inserted);
  ASSERT_NE(t.find({1, 2}), nullptr);
  EXPECT_EQ(t.find({1, 2})->v, 42u);
  EXPECT_EQ(t.find({2, 1}), nullptr);
}

TEST(FlatTable, UpsertOfAnExistingKeyReplacesItsValue) {
  Table t(4);
  t.upsert({1, 1}, {1});
  EXPECT_EQ(t.upsert({1, 1}, {2}), Table::Upsert::Updated);
  EXPECT_EQ(t.find({1, 1})->v, 2u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(FlatTable, ATableAtItsLimitRefusesNewKeysButStillUpdates) {
  Table t(3);
  for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(t.upsert({i, 0}, {i}), Table::Upsert::Inserted);
  EXPECT_EQ(t.upsert({9, 0}, {9}), Table::Upsert::Full);
  EXPECT_EQ(t.upsert({1, 0}, {7}), Table::Upsert::Updated);
}

TEST(FlatTable, RandomChurnAgreesWithStdMapAfterEveryBackwardShiftDelete) {
  Table t(512);
  std::map<Key, uint64_t> model;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 50000; ++step) {
    const Key k{rng() % 700, 0};
    if (rng() % 3 == 0) {
      EXPECT_EQ(t.erase(k), model.erase(k) == 1);
    } else if (model.size() < 512 || model.count(k) != 0) {
      t.upsert(k, {static_cast<uint64_t>(step)});
      model[k] = static_cast<uint64_t>(step);
    }
  }
  EXPECT_EQ(t.size(), model.size());
  for (uint64_t a = 0; a < 700; ++a) {
    const auto it = model.find({a, 0});
    const Value* v = t.find({a, 0});
    ASSERT_EQ(v != nullptr, it != model.end()) << a;
    if (v != nullptr) {
      EXPECT_EQ(v->v, it->second);
    }
  }
}

// The hash the tables used before: CRC32-C from a fixed seed. CRC is linear,
// so which keys share a home slot is the same for every seed and anyone
// can compute it offline.
uint64_t old_crc_hash(const ChannelKey& key) {
  uint64_t w[3];
  std::memcpy(w, &key, sizeof w);
  uint64_t h = 0x9E3779B9u;
  for (const uint64_t x : w) h = _mm_crc32_u64(h, x);
  return h;
}

// Channel keys of one client address, all of whose home slot is `home` in a
// table of `capacity` slots under `hash`: what a client that picks its own
// ports and channel numbers could install.
template <class Hash>
std::vector<ChannelKey> keys_homed_at(uint64_t home, uint64_t capacity, size_t n, Hash&& hash) {
  std::vector<ChannelKey> keys;
  const uint8_t client[4] = {198, 51, 100, 10};
  for (uint32_t port = 1024; keys.size() < n && port < 65536; ++port)
    for (uint16_t channel = 0x4000; keys.size() < n && channel < 0x5000; ++channel) {
      const ChannelKey k = make_channel_key(Family::V4, client, static_cast<uint16_t>(port), channel);
      if ((ChannelTable::tag_of(hash(k)) & (capacity - 1)) == home) keys.push_back(k);
    }
  return keys;
}

TEST(FlatTable, KeysThatShareAHomeSlotUnderTheOldCrcSpreadOutUnderTheKeyedHash) {
  ChannelTable t(3000);  // 4096 slots, a random secret
  const auto keys = keys_homed_at(0, t.capacity(), 2000, old_crc_hash);
  ASSERT_EQ(keys.size(), 2000u);  // under CRC, one chain of 2000 slots that every lookup near slot 0 walks

  for (const ChannelKey& k : keys) ASSERT_EQ(t.upsert(k, ChannelEntry{}), Upsert::Inserted);

  // Load 0.49: Robin Hood keeps every entry within a few slots of its home
  // (~8 is the longest seen in simulation).
  EXPECT_LE(t.longest_probe(), 16u);
  for (const ChannelKey& k : keys) EXPECT_NE(t.find(k), nullptr);
}

TEST(FlatTable, AnInsertThatWouldSitTooFarFromHomeIsRefusedAndTheChainStaysBounded) {
  const HashSecret secret{0xA4093822299F31D0, 0x082EFA98EC4E6C89};  // known, as if it had leaked
  ChannelTable t(3000, secret);
  const auto keys = keys_homed_at(7, t.capacity(), ChannelTable::kMaxProbe + 3,
                                  [&](const ChannelKey& k) { return keyed_hash(k, secret); });
  ASSERT_EQ(keys.size(), ChannelTable::kMaxProbe + 3);

  for (uint64_t i = 0; i <= ChannelTable::kMaxProbe; ++i) ASSERT_EQ(t.upsert(keys[i], ChannelEntry{}), Upsert::Inserted);
  EXPECT_EQ(t.upsert(keys[ChannelTable::kMaxProbe + 1], ChannelEntry{}), Upsert::ProbeLimit);
  EXPECT_EQ(t.upsert(keys[ChannelTable::kMaxProbe + 2], ChannelEntry{}), Upsert::ProbeLimit);

  EXPECT_EQ(t.size(), ChannelTable::kMaxProbe + 1);
  EXPECT_EQ(t.longest_probe(), ChannelTable::kMaxProbe);
  for (uint64_t i = 0; i <= ChannelTable::kMaxProbe; ++i) EXPECT_NE(t.find(keys[i]), nullptr);
  EXPECT_EQ(t.find(keys[ChannelTable::kMaxProbe + 1]), nullptr);  // the search stops at the limit
  // Room in the chain again: the refused key fits.
  EXPECT_TRUE(t.erase(keys[3]));
  EXPECT_EQ(t.upsert(keys[ChannelTable::kMaxProbe + 1], ChannelEntry{}), Upsert::Inserted);
  EXPECT_NE(t.find(keys[ChannelTable::kMaxProbe + 1]), nullptr);
}

TEST(FlatTable, ChurnAmongCollidingKeysAgreesWithStdMap) {
  const HashSecret secret{0x452821E638D01377, 0xBE5466CF34E90C6C};
  ChannelTable t(3000, secret);
  // Two neighbouring home slots, so runs of the two interleave and wrap.
  auto keys = keys_homed_at(4095, t.capacity(), 40, [&](const ChannelKey& k) { return keyed_hash(k, secret); });
  const auto more = keys_homed_at(0, t.capacity(), 40, [&](const ChannelKey& k) { return keyed_hash(k, secret); });
  keys.insert(keys.end(), more.begin(), more.end());
  std::map<size_t, uint64_t> model;
  std::mt19937_64 rng(11);
  for (int step = 0; step < 20000; ++step) {
    const size_t i = rng() % keys.size();
    ChannelEntry e{};
    e.deadline_tsc = static_cast<uint64_t>(step);
    if (rng() % 3 == 0) {
      EXPECT_EQ(t.erase(keys[i]), model.erase(i) == 1);
    } else {
      const Upsert u = t.upsert(keys[i], e);
      if (u == Upsert::Inserted || u == Upsert::Updated) model[i] = e.deadline_tsc;
    }
  }
  EXPECT_LE(t.longest_probe(), ChannelTable::kMaxProbe);
  EXPECT_EQ(t.size(), model.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    const ChannelEntry* e = t.find(keys[i]);
    ASSERT_EQ(e != nullptr, model.count(i) == 1) << i;
    if (e != nullptr) {
      EXPECT_EQ(e->deadline_tsc, model[i]);
    }
  }
}

TEST(FlatTable, EraseIfRemovesExactlyTheChosenEntries) {
  const HashSecret secret{0xC0AC29B7C97C50DD, 0x3F84D5B5B5470917};
  ChannelTable t(3000, secret);
  // Colliding keys around the wrap-around point, where a run crosses slot 0.
  auto keys = keys_homed_at(4094, t.capacity(), 30, [&](const ChannelKey& k) { return keyed_hash(k, secret); });
  for (size_t i = 0; i < keys.size(); ++i) {
    ChannelEntry e{};
    e.deadline_tsc = i;
    ASSERT_EQ(t.upsert(keys[i], e), Upsert::Inserted);
  }
  EXPECT_EQ(t.erase_if([](const ChannelKey&, const ChannelEntry& e) { return e.deadline_tsc % 2 == 0; }), 15u);
  EXPECT_EQ(t.size(), 15u);
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(t.find(keys[i]) != nullptr, i % 2 == 1) << i;
}

TEST(FlatTable, CapacityKeepsTheLoadFactorAtMostThreeQuarters) {
  Table t(1u << 20);
  EXPECT_EQ(t.capacity(), 1u << 21);
  EXPECT_EQ(sizeof(Table::Slot), 4 + 16 + 4 + 8);
}

}  // namespace
}  // namespace relay::dataplane
