// NONCE values for the long-term credential mechanism (RFC 8489 §9.2): random
// UUIDs, each good for a configured number of authenticated requests
// (ServerConfig::nonce_uses).
//
// Why a fixed ring and not a map or stateless HMAC nonces: every 401/438 mints
// a nonce for a sender we know nothing about, so the store must not grow with
// unauthenticated traffic, yet each nonce needs a use counter. The ring has
// `capacity` slots allocated once; minting overwrites the oldest slot (FIFO
// eviction) and the slot number is written into the UUID's first 4 bytes, so
// lookup is one index and a 16-byte compare: no hashing, no allocation. The
// other 90 bits are random, which is what makes a nonce unguessable. A flood
// can only evict nonces early; the victim then gets one 438 and retries.
// HMAC-signed nonces would survive floods but still need per-nonce counters,
// i.e. a second bounded table; the ring is one structure with one bound.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "controlplane/core/rng.hpp"

namespace relay::core {

struct NonceText {
  std::array<char, 36> chars{};  // 8-4-4-4-12 hex digits, RFC 9562 §4
  [[nodiscard]] std::string_view view() const { return {chars.data(), chars.size()}; }
};

class NonceStore {
 public:
  // `uses` (> 0): authenticated requests per nonce before it reads as unknown.
  NonceStore(uint32_t capacity, uint8_t uses);

  NonceText mint(Rng& rng);
  // The slot of a known nonce with uses left; nullopt means 438.
  [[nodiscard]] std::optional<uint32_t> find(std::string_view nonce) const;
  void use(uint32_t slot);

 private:
  struct Slot {
    std::array<uint8_t, 16> id{};
    uint8_t uses_left = 0;
  };
  std::vector<Slot> slots_;
  uint32_t next_ = 0;
  uint8_t uses_;
};

}  // namespace relay::core
