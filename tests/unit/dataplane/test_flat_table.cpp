// The open-addressing table behind every worker replica.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "dataplane/flat_table.hpp"

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

TEST(FlatTable, CapacityKeepsTheLoadFactorAtMostThreeQuarters) {
  Table t(1u << 20);
  EXPECT_EQ(t.capacity(), 1u << 21);
  EXPECT_EQ(sizeof(Table::Slot), 4 + 16 + 4 + 8);
}

}  // namespace
}  // namespace relay::dataplane
