#include "controlplane/core/nonce_store.hpp"

#include <algorithm>
#include <array>
#include <cassert>

#include "common/channel_data.hpp"

namespace relay::core {

namespace {
constexpr char kHex[] = "0123456789abcdef";
// Character positions of the four dashes in 8-4-4-4-12.
constexpr std::array<size_t, 4> kDashesAt = {8, 13, 18, 23};
constexpr bool is_dash_position(size_t i) { return std::ranges::find(kDashesAt, i) != kDashesAt.end(); }

// Digit values of the lower-case hex format() writes; 0xFF for any other
// character, so one OR over all values tells whether any was not a digit.
constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xFF);
  for (uint8_t v = 0; v < 16; ++v) t[static_cast<uint8_t>(kHex[v])] = v;
  return t;
}();
// Where each of the 16 bytes' two digits start.
constexpr std::array<size_t, 16> kDigitsAt = [] {
  std::array<size_t, 16> at{};
  size_t pos = 0;
  for (size_t& a : at) {
    if (is_dash_position(pos)) ++pos;
    a = pos;
    pos += 2;
  }
  return at;
}();

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

// Table lookups without a branch per character: a per-character loop with
// optional digits was a tenth of an authenticated request.
std::optional<std::array<uint8_t, 16>> parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  for (size_t dash : kDashesAt)
    if (text[dash] != '-') return std::nullopt;
  std::array<uint8_t, 16> id{};
  uint8_t all = 0;
  for (size_t i = 0; i < id.size(); ++i) {
    const uint8_t hi = kHexValue[static_cast<uint8_t>(text[kDigitsAt[i]])];
    const uint8_t lo = kHexValue[static_cast<uint8_t>(text[kDigitsAt[i] + 1])];
    all |= hi | lo;
    id[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  if (all > 0xF) return std::nullopt;
  return id;
}
}  // namespace

NonceStore::NonceStore(uint32_t capacity, uint8_t uses) : slots_(capacity), uses_(uses) {
  assert(capacity > 0 && uses > 0);
}

NonceText NonceStore::mint(Rng& rng) {
  uint32_t slot = next_;
  next_ = next_ + 1 == slots_.size() ? 0 : next_ + 1;
  Slot& s = slots_[slot];
  rng.fill(s.id);
  store_be32(s.id.data(), slot);
  s.id[6] = static_cast<uint8_t>((s.id[6] & 0x0F) | 0x40);  // RFC 9562 §5.4: version 4
  s.id[8] = static_cast<uint8_t>((s.id[8] & 0x3F) | 0x80);  // RFC 9562 §4.1: variant 10
  s.uses_left = uses_;
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
