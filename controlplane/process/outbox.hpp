// A bounded FIFO in front of a ring that may refuse for a while: what the
// ring cannot take now waits here, in order, and goes first on the next
// turn. Nothing overtakes what waits, so a full ring delays but never
// reorders; only overflowing the bound loses an item, and that is counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace relay::process {

// What a ring said to one item.
enum class Delivery : uint8_t {
  Accepted,
  Busy,     // full ring or empty mempool: try again later
  Refused,  // never deliverable (e.g. larger than an mbuf): dropped, counted
  Gone,     // its receiver is gone (a closed stream): dropped, counted apart
};

struct OutboxStats {
  uint64_t delivered = 0;
  uint64_t refused = 0;
  uint64_t gone = 0;
  uint64_t overflowed = 0;  // dropped because `capacity` items already waited
};

template <class T>
class Outbox {
 public:
  explicit Outbox(size_t capacity) : capacity_(capacity) {}

  // Delivers `item` at once when nothing waits ahead of it and `may_deliver`
  // allows (the caller may hold items back behind another outbox), else
  // queues it. `deliver` is `Delivery(const T&)`.
  template <class Deliver>
  void offer(T item, Deliver&& deliver, bool may_deliver = true) {
    if (may_deliver && waiting_.empty() && settle(deliver(std::as_const(item)))) return;
    if (waiting_.size() >= capacity_) {
      ++stats_.overflowed;
      return;
    }
    waiting_.push_back(std::move(item));
  }

  // Delivers waiting items from the front until the ring is busy again.
  // Returns how many left the queue (delivered or refused).
  template <class Deliver>
  size_t flush(Deliver&& deliver) {
    size_t done = 0;
    while (!waiting_.empty() && settle(deliver(std::as_const(waiting_.front())))) {
      waiting_.pop_front();
      ++done;
    }
    return done;
  }

  // Forgets what waits (superseded, e.g. by a resynchronisation); not
  // counted as lost.
  void clear() { waiting_.clear(); }

  [[nodiscard]] bool empty() const { return waiting_.empty(); }
  [[nodiscard]] size_t waiting() const { return waiting_.size(); }
  [[nodiscard]] size_t capacity() const { return capacity_; }
  [[nodiscard]] const OutboxStats& stats() const { return stats_; }

 private:
  // True when the item is finished with (accepted or refused for good).
  bool settle(Delivery d) {
    if (d == Delivery::Accepted) ++stats_.delivered;
    if (d == Delivery::Refused) ++stats_.refused;
    if (d == Delivery::Gone) ++stats_.gone;
    return d != Delivery::Busy;
  }

  size_t capacity_;
  std::deque<T> waiting_;
  OutboxStats stats_;
};

}  // namespace relay::process
