// Deadlines of everything that expires on its own: allocations, channel
// bindings (and their cool-down), EVEN-PORT reservations, held ports, the
// drain deadline.
//
// An indexed binary min-heap: each entity keeps the TimerId of its one
// entry and moves it when its deadline changes, so the queue is bounded by
// the live state (never by how often clients refresh) and earliest() is
// exact. A refresh pushes a deadline later, and a later deadline only sifts
// down from where the entry is, which for most entries (the leaves) is at
// once: cheaper than the erase + insert of a balanced tree.
// Ties pop in TimerKey order, so runs are reproducible.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/time.hpp"

namespace relay::core {

enum class TimerKind : uint8_t { Allocation, Channel, Reservation, PortHold, Drain };

struct TimerKey {
  TimerKind kind;
  uint16_t port = 0;     // Allocation, Channel, PortHold
  uint16_t channel = 0;  // Channel
  uint64_t token = 0;    // Reservation
  auto operator<=>(const TimerKey&) const = default;
};

using TimerId = uint32_t;
constexpr TimerId kNoTimer = UINT32_MAX;  // an entity whose entry has fired

class TimerQueue {
 public:
  TimerId schedule(Instant at, const TimerKey& key);
  void move(TimerId id, Instant at);
  void cancel(TimerId id);
  [[nodiscard]] std::optional<Instant> earliest() const {
    if (heap_.empty()) return std::nullopt;
    return heap_.front().at;
  }
  // The earliest entry due at `now`, removed from the queue.
  std::optional<TimerKey> pop_due(Instant now);
  [[nodiscard]] size_t size() const { return heap_.size(); }
  [[nodiscard]] size_t capacity() const { return heap_.capacity(); }

 private:
  struct Entry {
    Instant at;
    TimerKey key;
    TimerId id;
  };
  static constexpr uint32_t kNotQueued = UINT32_MAX;
  static constexpr size_t kKeptCapacity = 1024;  // never shrunk below: 32 KiB
  static bool before(const Entry& a, const Entry& b) { return a.at != b.at ? a.at < b.at : a.key < b.key; }
  void place(size_t pos, Entry e);
  void sift_up(size_t pos);
  void sift_down(size_t pos);
  void remove_at(size_t pos);

  std::vector<Entry> heap_;
  std::vector<uint32_t> position_;  // TimerId -> index in heap_, or kNotQueued
  std::vector<TimerId> free_ids_;
};

}  // namespace relay::core
