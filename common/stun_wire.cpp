// FINGERPRINT (RFC 8489 §14.7): CRC-32 as zlib computes it, XOR 0x5354554E.
//
// The CRC is a third of what parse() costs: zlib's table-driven crc32
// spends ~110 ns on a 140-byte Allocate request and ~100 ns on a 60-byte
// ChannelBind response (bench-codec). On x86-64 with PCLMULQDQ the 16-byte
// blocks are folded with carry-less multiplication (Gopal et al., "Fast CRC
// Computation for Generic Polynomials Using PCLMULQDQ Instruction", Intel
// 2009, with the bit-reflected constants for the CRC-32 polynomial
// 0x04C11DB7), two blocks per instruction where VPCLMULQDQ exists; the last
// 1..15 bytes are folded in as one more, overlapping block (as Intel's
// ISA-L does) rather than through a byte table. Any message of 16 bytes or
// more takes this path: 132 bytes in ~10 ns (~13 ns without VPCLMULQDQ),
// 60 in ~8. zlib is the whole path elsewhere. The unit tests compare every
// path with zlib over every length up to 300 bytes and every alignment.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "common/stun_wire.hpp"

namespace relay::stun {

namespace {

#if defined(__x86_64__)
#define RELAY_CRC_CLMUL 1
#define RELAY_TARGET_CLMUL __attribute__((target("pclmul,sse4.1")))
#define RELAY_TARGET_WIDE_CLMUL __attribute__((target("pclmul,sse4.1,avx2,vpclmulqdq")))

constexpr size_t kFoldBlock = 64;  // four 16-byte lanes (two 32-byte ones) folded in parallel
constexpr size_t kFoldUnit = 16;

// Chosen once, from what the CPU (and the OS, for the AVX state) supports.
CrcPath fastest_path() {
  static const CrcPath path = [] {
    if (!__builtin_cpu_supports("pclmul") || !__builtin_cpu_supports("sse4.1")) return CrcPath::Zlib;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("vpclmulqdq")) return CrcPath::Clmul;
    return CrcPath::WideClmul;
  }();
  return path;
}

// Folding a block over the next 16m bytes multiplies its halves by
// x^(128m+32) mod P (low) and x^(128m-32) mod P (high), bit-reflected and
// shifted left by one.
constexpr int64_t kFoldBy16Low = 0x01751997d0, kFoldBy16High = 0x00ccaa009e;
constexpr int64_t kFoldBy32Low = 0x00f1da05aa, kFoldBy32High = 0x015a546366;
constexpr int64_t kFoldBy48Low = 0x003db1ecdc, kFoldBy48High = 0x0174359406;
constexpr int64_t kFoldBy64Low = 0x0154442bd4, kFoldBy64High = 0x01c6e41596;

RELAY_TARGET_CLMUL inline __m128i fold(__m128i acc, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(hi, lo), next);
}

RELAY_TARGET_WIDE_CLMUL inline __m256i fold(__m256i acc, __m256i k, __m256i next) {
  const __m256i lo = _mm256_clmulepi64_epi128(acc, k, 0x00);
  const __m256i hi = _mm256_clmulepi64_epi128(acc, k, 0x11);
  return _mm256_xor_si256(_mm256_xor_si256(hi, lo), next);
}

RELAY_TARGET_CLMUL inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

RELAY_TARGET_WIDE_CLMUL inline __m256i load_wide(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// pshufb masks for a tail of r bytes (lanes whose mask has the top bit set
// become 0). The 16 bytes at offset r move a block's first r bytes to its
// end; those at offset 16 + r drop its first r bytes and move the rest to
// its start, marking the r lanes freed at the end.
constexpr std::array<uint8_t, 48> kShiftMasks = [] {
  std::array<uint8_t, 48> t{};
  for (size_t i = 0; i < t.size(); ++i) t[i] = i >= 16 && i < 32 ? static_cast<uint8_t>(i - 16) : 0x80;
  return t;
}();

// Folds the 16-byte blocks from `p` to `end` into `x1`, then the last
// 0..15 bytes, and reduces to the inverted (internal) register.
RELAY_TARGET_CLMUL inline uint32_t fold_rest_and_reduce(__m128i x1, const uint8_t* p, const uint8_t* end) {
  const __m128i fold_by_16 = _mm_set_epi64x(kFoldBy16High, kFoldBy16Low);
  // x^64 mod P: 96 -> 64 bits.
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);
  // P' and the Barrett constant mu for the final reduction.
  const __m128i poly_mu = _mm_set_epi64x(0x01f7011641, 0x01db710641);
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);

  for (; end - p >= static_cast<ptrdiff_t>(kFoldUnit); p += kFoldUnit) x1 = fold(x1, fold_by_16, load(p));
  if (const auto rest = static_cast<size_t>(end - p); rest != 0) {
    // The message ends with x1's 16 bytes then `rest` more: split that into
    // x1's first `rest` bytes (zero-extended) and the last 16 bytes of the
    // message, with x1's tail spliced in front of the unread bytes.
    const __m128i head_mask = load(kShiftMasks.data() + rest);
    const __m128i tail_mask = load(kShiftMasks.data() + kFoldUnit + rest);
    const __m128i head = _mm_shuffle_epi8(x1, head_mask);
    const __m128i last = _mm_blendv_epi8(_mm_shuffle_epi8(x1, tail_mask), load(end - kFoldUnit), tail_mask);
    x1 = fold(head, fold_by_16, last);
  }

  // 128 -> 64 bits, then Barrett reduction to 32.
  __m128i x2r = _mm_clmulepi64_si128(x1, fold_by_16, 0x10);
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), x2r);
  x2r = _mm_srli_si128(x1, 4);
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), x2r);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly_mu, 0x10);
  x2r = _mm_clmulepi64_si128(_mm_and_si128(x2r, low32), poly_mu, 0x00);
  x1 = _mm_xor_si128(x1, x2r);
  return static_cast<uint32_t>(_mm_extract_epi32(x1, 1));
}

// `len` >= 16; `crc` and the result are the inverted register, as in the
// paper.
RELAY_TARGET_CLMUL uint32_t crc32_clmul(const uint8_t* p, size_t len, uint32_t crc) {
  const uint8_t* const end = p + len;
  __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(crc)));
  p += kFoldUnit;
  if (len >= kFoldBlock) {
    const __m128i fold_by_64 = _mm_set_epi64x(kFoldBy64High, kFoldBy64Low);
    __m128i x2 = load(p);
    __m128i x3 = load(p + 16);
    __m128i x4 = load(p + 32);
    for (p += kFoldBlock - kFoldUnit; end - p >= static_cast<ptrdiff_t>(kFoldBlock); p += kFoldBlock) {
      x1 = fold(x1, fold_by_64, load(p));
      x2 = fold(x2, fold_by_64, load(p + 16));
      x3 = fold(x3, fold_by_64, load(p + 32));
      x4 = fold(x4, fold_by_64, load(p + 48));
    }
    // The four lanes onto the last one at once rather than one by one:
    // three independent multiplications instead of a chain of three.
    const __m128i to_last = fold(x2, _mm_set_epi64x(kFoldBy32High, kFoldBy32Low), x4);
    x1 = _mm_xor_si128(fold(x1, _mm_set_epi64x(kFoldBy48High, kFoldBy48Low), to_last),
                       fold(x3, _mm_set_epi64x(kFoldBy16High, kFoldBy16Low), _mm_setzero_si128()));
  }
  return fold_rest_and_reduce(x1, p, end);
}

// The same with two 32-byte lanes (VPCLMULQDQ): half the multiply
// instructions for the 64-byte blocks, which is what the narrow version
// spends its time on (~13 -> ~10 ns for 132 bytes).
RELAY_TARGET_WIDE_CLMUL uint32_t crc32_wide_clmul(const uint8_t* p, size_t len, uint32_t crc) {
  const __m256i fold_by_64 = _mm256_set_epi64x(kFoldBy64High, kFoldBy64Low, kFoldBy64High, kFoldBy64Low);
  const __m256i fold_by_32 = _mm256_set_epi64x(kFoldBy32High, kFoldBy32Low, kFoldBy32High, kFoldBy32Low);
  const uint8_t* const end = p + len;
  __m256i y1 = _mm256_xor_si256(load_wide(p), _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m256i y2 = load_wide(p + 32);
  for (p += kFoldBlock; end - p >= static_cast<ptrdiff_t>(kFoldBlock); p += kFoldBlock) {
    y1 = fold(y1, fold_by_64, load_wide(p));
    y2 = fold(y2, fold_by_64, load_wide(p + 32));
  }
  y1 = fold(y1, fold_by_32, y2);
  const __m128i x1 = fold(_mm256_castsi256_si128(y1), _mm_set_epi64x(kFoldBy16High, kFoldBy16Low),
                          _mm256_extracti128_si256(y1, 1));
  return fold_rest_and_reduce(x1, p, end);
}
#endif

}  // namespace

uint32_t crc32(std::span<const uint8_t> data, CrcPath fastest) {
  const uint8_t* p = data.data();
  const size_t n = data.size();
#ifdef RELAY_CRC_CLMUL
  const CrcPath path = std::min(fastest, fastest_path());
  if (path == CrcPath::WideClmul && n >= kFoldBlock) return ~crc32_wide_clmul(p, n, ~uint32_t{0});
  if (path != CrcPath::Zlib && n >= kFoldUnit) return ~crc32_clmul(p, n, ~uint32_t{0});
#else
  (void)fastest;
#endif
  // zlib's crc32 takes a uInt length; a STUN message is below 64 KiB.
  return static_cast<uint32_t>(::crc32(0, p, static_cast<uInt>(n)));
}

}  // namespace relay::stun
