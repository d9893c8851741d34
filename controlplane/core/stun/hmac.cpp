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

template <class H>
bool hmac(std::span<const uint8_t> key, std::span<const uint8_t> header, std::span<const uint8_t> body, uint8_t* out) {
  std::array<uint8_t, kBlock> k{};
  typename H::Ctx c;
  if (key.size() > kBlock) {
    if (!H::init(&c) || !H::update(&c, key.data(), key.size()) || !H::final(k.data(), &c)) return false;
  } else {
    std::copy(key.begin(), key.end(), k.begin());
  }
  std::array<uint8_t, kBlock> pad{};
  std::array<uint8_t, H::kSize> inner{};
  std::transform(k.begin(), k.end(), pad.begin(), [](uint8_t b) { return static_cast<uint8_t>(b ^ kInnerPad); });
  bool ok = H::init(&c) && H::update(&c, pad.data(), pad.size()) && H::update(&c, header.data(), header.size()) &&
            H::update(&c, body.data(), body.size()) && H::final(inner.data(), &c);
  std::transform(k.begin(), k.end(), pad.begin(), [](uint8_t b) { return static_cast<uint8_t>(b ^ kOuterPad); });
  ok = ok && H::init(&c) && H::update(&c, pad.data(), pad.size()) && H::update(&c, inner.data(), inner.size()) &&
       H::final(out, &c);
  // The pads carry the long-term key; do not leave it on the stack.
  OPENSSL_cleanse(k.data(), k.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  OPENSSL_cleanse(&c, sizeof c);
  return ok;
}

}  // namespace

bool stun_hmac(Hmac algorithm, std::span<const uint8_t> key, std::span<const uint8_t> covered, uint16_t length_field,
               uint8_t* out) {
  if (covered.size() < kHeaderSize) return false;
  std::array<uint8_t, kHeaderSize> header{};
  std::copy_n(covered.data(), kHeaderSize, header.begin());
  store_be16(header.data() + 2, length_field);
  const auto body = covered.subspan(kHeaderSize);
  return algorithm == Hmac::Sha1 ? hmac<Sha1>(key, header, body, out) : hmac<Sha256>(key, header, body, out);
}

}  // namespace relay::stun::wire
