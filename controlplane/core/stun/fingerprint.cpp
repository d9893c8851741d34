// FINGERPRINT (RFC 8489 §14.7): CRC-32 as zlib computes it, XOR 0x5354554E.
//
// The CRC is most of what parse() costs: zlib's table-driven crc32 spends
// ~110 ns on a 140-byte Allocate request (bench-codec), five times the
// parser's budget. On x86-64 with PCLMULQDQ the 16-byte blocks are folded
// with carry-less multiplication (Gopal et al., "Fast CRC Computation for
// Generic Polynomials Using PCLMULQDQ Instruction", Intel 2009, with the
// bit-reflected constants for the CRC-32 polynomial 0x04C11DB7); a byte
// table finishes the last 0..15 bytes (a call into zlib for 4 bytes cost a
// quarter of the parse). zlib is the whole path elsewhere. The unit tests
// compare both paths with zlib over every length up to 300 bytes.
#include <zlib.h>

#include <array>
#include <cstdint>
#include <span>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "controlplane/core/stun/wire.hpp"

namespace relay::stun::wire {

namespace {

constexpr size_t kFoldBlock = 64;  // four 16-byte lanes folded in parallel
constexpr size_t kFoldUnit = 16;

// The reflected CRC-32 polynomial, as zlib uses it.
constexpr uint32_t kReflectedPoly = 0xEDB88320;
constexpr std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? kReflectedPoly ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = make_table();

// Continues an inverted CRC register over a few bytes.
uint32_t crc32_bytes(uint32_t reg, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) reg = kTable[(reg ^ p[i]) & 0xFF] ^ (reg >> 8);
  return reg;
}

#if defined(__x86_64__)
#define RELAY_CRC_CLMUL 1

bool cpu_has_clmul() {
  static const bool yes = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return yes;
}

__attribute__((target("pclmul,sse4.1"))) inline __m128i fold(__m128i acc, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

__attribute__((target("pclmul,sse4.1"))) inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// `len` >= 64 and a multiple of 16; `crc` and the result are the inverted
// (internal) register, as in the paper.
__attribute__((target("pclmul,sse4.1"))) uint32_t crc32_clmul(const uint8_t* p, size_t len, uint32_t crc) {
  // x^(4*128+64) mod P, x^(4*128) mod P: fold by 64 bytes.
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
  // x^(128+64) mod P, x^128 mod P: fold by 16 bytes.
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
  // x^64 mod P: 96 -> 64 bits.
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
  // P' and the Barrett constant mu for the final reduction.
  const __m128i poly_mu = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);

  __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(crc)));
  __m128i x2 = load(p + 16);
  __m128i x3 = load(p + 32);
  __m128i x4 = load(p + 48);
  p += kFoldBlock;
  len -= kFoldBlock;
  for (; len >= kFoldBlock; p += kFoldBlock, len -= kFoldBlock) {
    x1 = fold(x1, k1k2, load(p));
    x2 = fold(x2, k1k2, load(p + 16));
    x3 = fold(x3, k1k2, load(p + 32));
    x4 = fold(x4, k1k2, load(p + 48));
  }
  x1 = fold(x1, k3k4, x2);
  x1 = fold(x1, k3k4, x3);
  x1 = fold(x1, k3k4, x4);
  for (; len >= kFoldUnit; p += kFoldUnit, len -= kFoldUnit) x1 = fold(x1, k3k4, load(p));

  // 128 -> 64 bits, then Barrett reduction to 32.
  __m128i x2r = _mm_clmulepi64_si128(x1, k3k4, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2r);
  x2r = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), x2r);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly_mu, 0x10);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x2r, low32), poly_mu, 0x00);
  x1 = _mm_xor_si128(x1, x2r);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}
#endif

}  // namespace

uint32_t crc32(std::span<const uint8_t> data, bool allow_clmul) {
  uint32_t crc = 0;
  const uint8_t* p = data.data();
  size_t n = data.size();
#ifdef RELAY_CRC_CLMUL
  if (allow_clmul && n >= kFoldBlock && cpu_has_clmul()) {
    const size_t folded = n & ~(kFoldUnit - 1);
    return ~crc32_bytes(crc32_clmul(p, folded, ~crc), p + folded, n - folded);
  }
#else
  (void)allow_clmul;
#endif
  // zlib's crc32 takes a uInt length; a STUN message is below 64 KiB.
  return static_cast<uint32_t>(::crc32(crc, p, static_cast<uInt>(n)));
}

uint32_t fingerprint(std::span<const uint8_t> covered) { return crc32(covered, true) ^ kFingerprintXor; }

}  // namespace relay::stun::wire
