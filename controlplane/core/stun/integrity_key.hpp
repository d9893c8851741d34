// The key of MESSAGE-INTEGRITY (RFC 8489 §14.5, HMAC-SHA1) in the form the
// codec signs and verifies with: the SHA-1 states after the key's inner and
// outer pad blocks (RFC 2104 §2). HMAC-SHA1 of a 140-byte Allocate request
// hashes five SHA-1 blocks, two of them the pads; computed once per key,
// they cost nothing per message (bench-codec: ~235 -> ~180 ns per HMAC,
// the rest being the three other blocks). The Server keeps one per cached
// long-term key and per allocation.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace relay::stun {

class IntegrityKey;
namespace wire {
bool stun_hmac_sha1(const IntegrityKey& key, std::span<const uint8_t> covered, uint16_t length_field, uint8_t* out);
}  // namespace wire

class IntegrityKey {
 public:
  // Any length (RFC 2104 hashes a key longer than a block first); for the
  // long-term credential mechanism, the 16-byte key of RFC 8489 §9.2.2.
  explicit IntegrityKey(std::span<const uint8_t> key);

 private:
  friend bool wire::stun_hmac_sha1(const IntegrityKey& key, std::span<const uint8_t> covered, uint16_t length_field,
                                   uint8_t* out);
  // SHA-1 chaining values h0..h4 after one block: 40 bytes where a SHA_CTX
  // is 96, since the Server holds one per allocation.
  using Sha1State = std::array<uint32_t, 5>;
  Sha1State inner_{};
  Sha1State outer_{};
  bool valid_ = false;  // false if libcrypto failed: every HMAC with it fails
};

}  // namespace relay::stun
