#include "controlplane/core/timer_queue.hpp"

#include <cassert>

namespace relay::core {

TimerId TimerQueue::schedule(Instant at, const TimerKey& key) {
  TimerId id;
  if (free_ids_.empty()) {
    id = static_cast<TimerId>(position_.size());
    position_.push_back(kNotQueued);
  } else {
    id = free_ids_.back();
    free_ids_.pop_back();
  }
  heap_.push_back({});
  place(heap_.size() - 1, Entry{at, key, id});
  sift_up(heap_.size() - 1);
  return id;
}

void TimerQueue::move(TimerId id, Instant at) {
  size_t pos = position_.at(id);
  assert(pos != kNotQueued);
  Instant old = heap_[pos].at;
  heap_[pos].at = at;
  if (at < old) sift_up(pos);
  else sift_down(pos);
}

void TimerQueue::cancel(TimerId id) {
  if (id == kNoTimer) return;
  size_t pos = position_.at(id);
  if (pos == kNotQueued) return;
  remove_at(pos);
}

std::optional<TimerKey> TimerQueue::pop_due(Instant now) {
  if (heap_.empty() || heap_.front().at > now) return std::nullopt;
  TimerKey key = heap_.front().key;
  remove_at(0);
  return key;
}

void TimerQueue::place(size_t pos, Entry e) {
  position_[e.id] = static_cast<uint32_t>(pos);
  heap_[pos] = e;
}

void TimerQueue::sift_up(size_t pos) {
  Entry e = heap_[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!before(e, heap_[parent])) break;
    place(pos, heap_[parent]);
    pos = parent;
  }
  place(pos, e);
}

void TimerQueue::sift_down(size_t pos) {
  Entry e = heap_[pos];
  size_t n = heap_.size();
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], e)) break;
    place(pos, heap_[child]);
    pos = child;
  }
  place(pos, e);
}

void TimerQueue::remove_at(size_t pos) {
  TimerId id = heap_[pos].id;
  Entry last = heap_.back();
  heap_.pop_back();
  position_[id] = kNotQueued;
  free_ids_.push_back(id);
  // After a surge (a minute of churn leaves thousands of port holds) the
  // memory goes back once three quarters of it are unused. Amortized O(1):
  // the copy is paid for by the removals since the capacity was reached.
  if (heap_.capacity() > kKeptCapacity && heap_.size() < heap_.capacity() / 4) heap_.shrink_to_fit();
  if (pos == heap_.size()) return;
  place(pos, last);
  sift_up(pos);
  sift_down(position_[last.id]);
}

}  // namespace relay::core
