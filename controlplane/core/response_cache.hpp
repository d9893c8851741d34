// Responses to non-idempotent authenticated requests, kept so a
// retransmitted request gets the identical answer instead of being processed
// twice (RFC 8489 §6.3.1: "40 seconds"). An Allocate retransmitted after its
// success would otherwise meet its own allocation and get 437; a
// retransmitted Refresh(0) would get 437 instead of its success.
//
// Entries are inserted in time order, so a FIFO ring of keys gives both
// expiry (pop from the front while old) and the capacity bound.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/net_types.hpp"
#include "common/time.hpp"
#include "controlplane/core/fast_hash.hpp"
#include "controlplane/core/stun/protocol.hpp"

namespace relay::core {

// RFC 8489 §6.3.1: a server SHOULD remember responses for 40 s (Ti).
constexpr Duration kResponseCacheTime = std::chrono::seconds(40);

class ResponseCache {
 public:
  explicit ResponseCache(size_t capacity) : capacity_(capacity) {}

  [[nodiscard]] const std::vector<uint8_t>* find(const ClientFiveTuple& client, const stun::TransactionId& id) const;
  void insert(const ClientFiveTuple& client, const stun::TransactionId& id, std::span<const uint8_t> response,
              Instant now);
  void expire(Instant now);
  [[nodiscard]] size_t size() const { return map_.size(); }
  [[nodiscard]] size_t bucket_count() const { return map_.bucket_count(); }

 private:
  struct Key {
    ClientFiveTuple client;
    stun::TransactionId id;
    bool operator==(const Key& o) const { return same_five_tuple(client, o.client) && id == o.id; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept {
      uint64_t head;
      uint32_t tail;
      std::memcpy(&head, k.id.data(), sizeof head);
      std::memcpy(&tail, k.id.data() + sizeof head, sizeof tail);
      return FiveTupleHash{}(k.client) ^ mix64(head ^ mix64(tail));
    }
  };
  struct Order {
    Instant inserted;
    Key key;
  };
  static constexpr size_t kKeptBuckets = 1024;
  size_t capacity_;
  std::unordered_map<Key, std::vector<uint8_t>, KeyHash> map_;
  std::deque<Order> order_;
};

}  // namespace relay::core
