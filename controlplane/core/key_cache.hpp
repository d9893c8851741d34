// Long-term keys by username, so an authenticated request costs one
// HMAC-SHA1 check instead of SHA-256 + base64 + MD5 first.
//
// Bounded by two generations: lookups hit `current_` or promote from
// `previous_`; when `current_` is full it becomes `previous_` and the old
// previous generation is dropped. That is an LRU approximation with no
// per-entry list links, at most 2 x capacity entries. Only keys that just
// verified a MESSAGE-INTEGRITY are inserted, so unauthenticated senders
// cannot fill it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace relay::core {

template <class Key>
class KeyCache {
 public:
  explicit KeyCache(size_t capacity) : capacity_(capacity) {}

  std::optional<Key> find(std::string_view username) {
    if (auto it = current_.find(username); it != current_.end()) return it->second;
    auto it = previous_.find(username);
    if (it == previous_.end()) return std::nullopt;
    Key key = it->second;
    insert(username, key);
    return key;
  }

  void insert(std::string_view username, const Key& key) {
    if (current_.size() >= capacity_) {
      previous_ = std::move(current_);
      current_.clear();
    }
    current_.insert_or_assign(std::string(username), key);
  }

  void clear() {
    current_.clear();
    previous_.clear();
  }

  [[nodiscard]] size_t size() const { return current_.size() + previous_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, Key, Hash, std::equal_to<>>;
  size_t capacity_;
  Map current_, previous_;
};

}  // namespace relay::core
