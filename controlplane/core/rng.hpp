// The Server's only source of randomness (nonces, ports, reservation tokens).
// Seeded, it is a deterministic xoshiro256** stream so tests and fuzzers
// replay exactly; unseeded, it draws from OpenSSL RAND_bytes in 4 KiB refills
// so a nonce costs a memcpy rather than a DRBG call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace relay::core {

class Rng {
 public:
  explicit Rng(std::optional<uint64_t> seed);

  uint64_t next_u64();
  // Uniform in [0, bound); bound > 0 (Lemire's multiply-shift, unbiased).
  uint64_t below(uint64_t bound);
  void fill(std::span<uint8_t> out);

 private:
  void refill();

  bool seeded_;
  std::array<uint64_t, 4> state_{};  // xoshiro256**
  std::array<uint8_t, 4096> buffer_{};
  size_t used_ = sizeof buffer_;
};

}  // namespace relay::core
