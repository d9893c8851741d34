#include "controlplane/core/rng.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/mix.hpp"

namespace relay::core {

namespace {
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(std::optional<uint64_t> seed) : seeded_(seed.has_value()) {
  if (!seed) return;
  uint64_t x = *seed;
  for (auto& s : state_) s = splitmix64(x);
}

void Rng::refill() {
  // A DRBG that cannot produce bytes leaves us unable to mint unguessable
  // nonces; serving with predictable ones would be worse than stopping.
  if (RAND_bytes(buffer_.data(), static_cast<int>(buffer_.size())) != 1) std::abort();
  used_ = 0;
}

uint64_t Rng::next_u64() {
  if (seeded_) {
    uint64_t result = rotl(state_[1] * 5, 7) * 9;
    uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  if (used_ + sizeof(uint64_t) > buffer_.size()) refill();
  uint64_t v;
  std::memcpy(&v, buffer_.data() + used_, sizeof v);
  used_ += sizeof v;
  return v;
}

uint64_t Rng::below(uint64_t bound) {
  __extension__ using u128 = unsigned __int128;
  uint64_t x = next_u64();
  u128 m = u128{x} * bound;
  auto low = static_cast<uint64_t>(m);
  if (low < bound) {
    uint64_t threshold = -bound % bound;
    while (low < threshold) {
      x = next_u64();
      m = u128{x} * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

void Rng::fill(std::span<uint8_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    uint64_t v = next_u64();
    size_t n = std::min(sizeof v, out.size() - i);
    std::memcpy(out.data() + i, &v, n);
    i += n;
  }
}

}  // namespace relay::core
