// The MESSAGE-INTEGRITY HMACs (RFC 2104 over SHA-1 / SHA-256).
//
// Why not EVP_MAC or HMAC(): in OpenSSL 3.0 each keyed EVP_MAC_init goes
// through the provider layer, mallocs and frees, and cost ~450 ns per
// verification of a 140-byte Allocate (bench-codec). The low-level digest
// functions run on stack state: no allocation, a third of the time. They are
// deprecated in 3.0 but still exported; the unit tests compare this HMAC
// with OpenSSL's HMAC() for both digests and many key and input sizes.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>

#include "common/channel_data.hpp"
#include "controlplane/core/stun/integrity_key.hpp"
#include "controlplane/core/stun/wire.hpp"

namespace relay::stun::wire {

namespace {

constexpr size_t kBlock = 64;  // SHA-1 and SHA-256 block size (RFC 2104 §2)
constexpr uint8_t kInnerPad = 0x36;
constexpr uint8_t kOuterPad = 0x5c;

struct Sha1 {
  using Ctx = SHA_CTX;
  static constexpr size_t kSize = SHA_DIGEST_LENGTH;
  static bool init(Ctx* c) { return SHA1_Init(c) == 1; }
  static bool update(Ctx* c, const void* p, size_t n) { return SHA1_Update(c, p, n) == 1; }
  static bool final(uint8_t* out, Ctx* c) { return SHA1_Final(out, c) == 1; }
};

struct Sha256 {
  using Ctx = SHA256_CTX;
  static constexpr size_t kSize = SHA256_DIGEST_LENGTH;
  static bool init(Ctx* c) { return SHA256_Init(c) == 1; }
  static bool update(Ctx* c, const void* p, size_t n) { return SHA256_Update(c, p, n) == 1; }
  static bool final(uint8_t* out, Ctx* c) { return SHA256_Final(out, c) == 1; }
};

// RFC 2104 §2: the hash states after the block of key XOR ipad (`inner`)
// and of key XOR opad (`outer`).
template <class H>
bool hash_pads(std::span<const uint8_t> key, typename H::Ctx& inner, typename H::Ctx& outer) {
  std::array<uint8_t, kBlock> k{};
  typename H::Ctx c;
  bool ok = true;
  if (key.size() > kBlock) {
    ok = H::init(&c) && H::update(&c, key.data(), key.size()) && H::final(k.data(), &c);
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::array<uint8_t, kBlock> pad{};
  std::transform(k.begin(), k.end(), pad.begin(), [](uint8_t b) { return static_cast<uint8_t>(b ^ kInnerPad); });
  ok = ok && H::init(&inner) && H::update(&inner, pad.data(), pad.size());
  std::transform(k.begin(), k.end(), pad.begin(), [](uint8_t b) { return static_cast<uint8_t>(b ^ kOuterPad); });
  ok = ok && H::init(&outer) && H::update(&outer, pad.data(), pad.size());
  // The pads carry the key; do not leave it on the stack.
  OPENSSL_cleanse(k.data(), k.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(&c, sizeof c);
  return ok;
}

// The HMAC from the two pad states, which it consumes: the inner hash of
// the header and body, then the outer hash of that digest. Once a state has
// hashed more data it no longer reveals the pad state, so nothing is wiped.
template <class H>
bool finish(typename H::Ctx& inner, typename H::Ctx& outer, std::span<const uint8_t> header,
            std::span<const uint8_t> body, uint8_t* out) {
  std::array<uint8_t, H::kSize> digest{};
  return H::update(&inner, header.data(), header.size()) && H::update(&inner, body.data(), body.size()) &&
         H::final(digest.data(), &inner) && H::update(&outer, digest.data(), digest.size()) && H::final(out, &outer);
}

// RFC 8489 §14.5: the header as covered, with its length field replaced.
std::array<uint8_t, kHeaderSize> covered_header(std::span<const uint8_t> covered, uint16_t length_field) {
  std::array<uint8_t, kHeaderSize> header{};
  std::copy_n(covered.data(), kHeaderSize, header.begin());
  store_be16(header.data() + 2, length_field);
  return header;
}

// A SHA-1 state after exactly one block, rebuilt from its chaining values:
// SHA_CTX's fields are public, and after 64 bytes its bit count is 512 and
// its buffer empty.
SHA_CTX sha1_after_one_block(const std::array<uint32_t, 5>& h) {
  SHA_CTX c{};
  c.h0 = h[0];
  c.h1 = h[1];
  c.h2 = h[2];
  c.h3 = h[3];
  c.h4 = h[4];
  c.Nl = kBlock * 8;
  return c;
}

std::array<uint32_t, 5> chaining_values(const SHA_CTX& c) { return {c.h0, c.h1, c.h2, c.h3, c.h4}; }

}  // namespace

bool stun_hmac(Hmac algorithm, std::span<const uint8_t> key, std::span<const uint8_t> covered, uint16_t length_field,
               uint8_t* out) {
  if (algorithm == Hmac::Sha1) return stun_hmac_sha1(IntegrityKey(key), covered, length_field, out);
  if (covered.size() < kHeaderSize) return false;
  SHA256_CTX inner, outer;
  return hash_pads<Sha256>(key, inner, outer) &&
         finish<Sha256>(inner, outer, covered_header(covered, length_field), covered.subspan(kHeaderSize), out);
}

bool stun_hmac_sha1(const IntegrityKey& key, std::span<const uint8_t> covered, uint16_t length_field, uint8_t* out) {
  if (!key.valid_ || covered.size() < kHeaderSize) return false;
  SHA_CTX inner = sha1_after_one_block(key.inner_);
  SHA_CTX outer = sha1_after_one_block(key.outer_);
  return finish<Sha1>(inner, outer, covered_header(covered, length_field), covered.subspan(kHeaderSize), out);
}

}  // namespace relay::stun::wire

namespace relay::stun {

IntegrityKey::IntegrityKey(std::span<const uint8_t> key) {
  SHA_CTX inner, outer;
  valid_ = wire::hash_pads<wire::Sha1>(key, inner, outer);
  inner_ = wire::chaining_values(inner);
  outer_ = wire::chaining_values(outer);
  OPENSSL_cleanse(&inner, sizeof inner);
  OPENSSL_cleanse(&outer, sizeof outer);
}

}  // namespace relay::stun
