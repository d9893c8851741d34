#include "controlplane/core/response_cache.hpp"

namespace relay::core {

const std::vector<uint8_t>* ResponseCache::find(const ClientFiveTuple& client, const stun::TransactionId& id) const {
  auto it = map_.find(Key{client, id});
  return it == map_.end() ? nullptr : &it->second;
}

void ResponseCache::insert(const ClientFiveTuple& client, const stun::TransactionId& id,
                           std::span<const uint8_t> response, Instant now) {
  Key key{client, id};
  if (map_.contains(key)) return;
  if (map_.size() >= capacity_) {
    map_.erase(order_.front().key);
    order_.pop_front();
  }
  map_.emplace(key, std::vector<uint8_t>(response.begin(), response.end()));
  order_.push_back({now, key});
}

void ResponseCache::expire(Instant now) {
  while (!order_.empty() && now - order_.front().inserted >= kResponseCacheTime) {
    map_.erase(order_.front().key);
    order_.pop_front();
  }
}

}  // namespace relay::core
