// The FINGERPRINT CRC: both carry-less-multiply paths must equal zlib's
// crc32 for every length and alignment a STUN message can have.
#include <gtest/gtest.h>
#include <zlib.h>

#include <vector>

#include "controlplane/core/stun/wire.hpp"

namespace relay::stun {
namespace {

std::vector<uint8_t> pseudo_random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  uint32_t x = 2463534242u;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

TEST(Fingerprint, FastCrcEqualsZlibForEveryLengthUpTo300AndEveryAlignment) {
  const std::vector<uint8_t> data = pseudo_random_bytes(320);
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t len = 0; len <= 300; ++len) {
      const std::span<const uint8_t> s(data.data() + offset, len);
      const auto zlib = static_cast<uint32_t>(::crc32(0, s.data(), static_cast<uInt>(s.size())));
      for (const auto path : {wire::CrcPath::Zlib, wire::CrcPath::Clmul, wire::CrcPath::WideClmul})
        ASSERT_EQ(wire::crc32(s, path), zlib)
            << "path " << static_cast<int>(path) << " offset " << offset << " length " << len;
    }
  }
}

TEST(Fingerprint, FastCrcEqualsZlibForAMaximumSizeMessage) {
  const std::vector<uint8_t> data = pseudo_random_bytes(65535 + 20 - 8);
  const auto zlib = static_cast<uint32_t>(::crc32(0, data.data(), static_cast<uInt>(data.size())));
  EXPECT_EQ(wire::crc32(data, wire::CrcPath::Clmul), zlib);
  EXPECT_EQ(wire::crc32(data, wire::CrcPath::WideClmul), zlib);
}

TEST(Fingerprint, IsTheCrcXorStun) {
  // RFC 8489 §14.7: CRC-32 of "123456789" is 0xCBF43926.
  const std::string_view check = "123456789";
  const std::span<const uint8_t> s(reinterpret_cast<const uint8_t*>(check.data()), check.size());
  EXPECT_EQ(wire::fingerprint(s), 0xCBF43926u ^ 0x5354554Eu);
}

}  // namespace
}  // namespace relay::stun
