#include "controlplane/core/response_cache.hpp"

namespace relay::core {

const std::vector<uint8_t>* ResponseCache::find(const ClientFiveTuple& client, const stun::TransactionId& id) const {
  auto it = map_.find(Key{client, id});
  return it == map_.end() ? nullptr : &it->second;
}

void ResponseCache::insert(const ClientFiveTuple& client, const stun::TransactionId& id,
                           std::span<const uint8_t> response, Instant now) {
  // One lookup: a miss walks a whole bucket chain of a large table.
  auto [it, inserted] = map_.try_emplace(Key{client, id});
  if (!inserted) return;
  it->second.assign(response.begin(), response.end());
  order_.push_back({now, it->first});
  if (map_.size() > capacity_) {
    map_.erase(order_.front().key);
    order_.pop_front();
  }
}

void ResponseCache::expire(Instant now) {
  bool expired = false;
  while (!order_.empty() && now - order_.front().inserted >= kResponseCacheTime) {
    map_.erase(order_.front().key);
    order_.pop_front();
    expired = true;
  }
  // The bucket array keeps the size of the busiest 40 s; after a surge it
  // shrinks back once seven eighths of it are unused (amortized O(1), as
  // growing is).
  if (expired && map_.bucket_count() > kKeptBuckets && map_.size() < map_.bucket_count() / 8) map_.rehash(0);
}

}  // namespace relay::core
