#include "controlplane/core/nonce_store.hpp"

#include <cassert>

#include "common/channel_data.hpp"

namespace relay::core {

namespace {
constexpr char kHex[] = "0123456789abcdef";
// Character positions of the four dashes in 8-4-4-4-12.
constexpr bool is_dash_position(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

std::optional<uint8_t> hex_value(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint8_t>(c - 'a' + 10);
  return std::nullopt;
}

NonceText format(const std::array<uint8_t, 16>& id) {
  NonceText t;
  size_t out = 0;
  for (uint8_t b : id) {
    if (is_dash_position(out)) t.chars[out++] = '-';
    t.chars[out++] = kHex[b >> 4];
    t.chars[out++] = kHex[b & 0xF];
  }
  return t;
}

std::optional<std::array<uint8_t, 16>> parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::array<uint8_t, 16> id{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (is_dash_position(i)) {
      if (text[i++] != '-') return std::nullopt;
      continue;
    }
    auto hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (!hi || !lo) return std::nullopt;
    id[byte++] = static_cast<uint8_t>((*hi << 4) | *lo);
    i += 2;
  }
  return id;
}
}  // namespace

NonceStore::NonceStore(uint32_t capacity) : slots_(capacity) { assert(capacity > 0); }

NonceText NonceStore::mint(Rng& rng) {
  uint32_t slot = next_;
  next_ = next_ + 1 == slots_.size() ? 0 : next_ + 1;
  Slot& s = slots_[slot];
  rng.fill(s.id);
  store_be32(s.id.data(), slot);
  s.id[6] = static_cast<uint8_t>((s.id[6] & 0x0F) | 0x40);  // RFC 9562 §5.4: version 4
  s.id[8] = static_cast<uint8_t>((s.id[8] & 0x3F) | 0x80);  // RFC 9562 §4.1: variant 10
  s.uses_left = kNonceUses;
  return format(s.id);
}

std::optional<uint32_t> NonceStore::find(std::string_view nonce) const {
  auto id = parse(nonce);
  if (!id) return std::nullopt;
  uint32_t slot = load_be32(id->data());
  if (slot >= slots_.size()) return std::nullopt;
  const Slot& s = slots_[slot];
  if (s.uses_left == 0 || s.id != *id) return std::nullopt;
  return slot;
}

void NonceStore::use(uint32_t slot) {
  if (slot < slots_.size() && slots_[slot].uses_left > 0) --slots_[slot].uses_left;
}

}  // namespace relay::core
