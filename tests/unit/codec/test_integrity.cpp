// MESSAGE-INTEGRITY (HMAC-SHA1) and MESSAGE-INTEGRITY-SHA256: what is
// covered, what is not, truncation, and the answers for absent and wrong.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

#include "controlplane/core/stun/stun.hpp"
#include "controlplane/core/stun/wire.hpp"
#include "tests/unit/codec/vectors.hpp"

namespace relay::stun {
namespace {

using test::as_bytes;
using test::Bytes;

const Bytes kKey = test::hex("000102030405060708090a0b0c0d0e0f");
const Bytes kOtherKey = test::hex("ff0102030405060708090a0b0c0d0e0f");

Bytes signed_refresh(size_t sha256_length, bool with_sha1, bool with_fingerprint) {
  std::array<uint8_t, 512> buffer{};
  Builder b(buffer, Method::Refresh, MessageClass::Request, TransactionId{9, 9, 9});
  b.add_lifetime(std::chrono::seconds(0)).add_username("1:salt").add_realm("firezone").add_nonce("n");
  if (with_sha1) b.add_message_integrity(kKey);
  if (sha256_length != 0) b.add_message_integrity_sha256(kKey, sha256_length);
  if (with_fingerprint) b.add_fingerprint();
  const size_t size = b.finish().value();
  return Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size));
}

TEST(Integrity, MessageWithoutIntegrityReportsAbsent) {
  const Bytes d = signed_refresh(0, false, true);
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity(kKey), Integrity::Absent);
  EXPECT_EQ(m->verify_message_integrity_sha256(kKey), Integrity::Absent);
}

TEST(Integrity, Sha1VerifiesWithTheKeyAndNotWithAnother) {
  const Bytes d = signed_refresh(0, true, true);
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->has_message_integrity());
  EXPECT_EQ(m->verify_message_integrity(kKey), Integrity::Valid);
  EXPECT_EQ(m->verify_message_integrity(kOtherKey), Integrity::Mismatch);
}

TEST(Integrity, FingerprintAfterIntegrityIsNotCoveredByTheHmac) {
  // Same message, with and without FINGERPRINT: the HMAC must be equal,
  // because the length field is adjusted to end at MESSAGE-INTEGRITY.
  const Bytes with = signed_refresh(0, true, true);
  const Bytes without = signed_refresh(0, true, false);
  ASSERT_EQ(with.size(), without.size() + 8);
  EXPECT_TRUE(std::equal(without.begin() + 4, without.end(), with.begin() + 4));
}

TEST(Integrity, TamperedAttributeValueFailsVerification) {
  Bytes d = signed_refresh(0, true, false);
  d[d.size() - 24 - 1] ^= 0x01;  // last byte before MESSAGE-INTEGRITY
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity(kKey), Integrity::Mismatch);
}

TEST(Integrity, TamperedHmacFailsVerification) {
  Bytes d = signed_refresh(0, true, false);
  d.back() ^= 0x80;
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity(kKey), Integrity::Mismatch);
}

TEST(Integrity, Sha256VerifiesAtFullLength) {
  const Bytes d = signed_refresh(32, false, true);
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->has_message_integrity_sha256());
  EXPECT_EQ(m->verify_message_integrity_sha256(kKey), Integrity::Valid);
  EXPECT_EQ(m->verify_message_integrity_sha256(kOtherKey), Integrity::Mismatch);
}

TEST(Integrity, Sha256TruncatedToSixteenBytesStillVerifies) {
  const Bytes d = signed_refresh(16, false, true);
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->attribute(static_cast<uint16_t>(AttributeType::MessageIntegritySha256))->size(), 16u);
  EXPECT_EQ(m->verify_message_integrity_sha256(kKey), Integrity::Valid);
}

TEST(Integrity, BothHmacsAfterEachOtherEachVerify) {
  const Bytes d = signed_refresh(24, true, true);
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity(kKey), Integrity::Valid);
  EXPECT_EQ(m->verify_message_integrity_sha256(kKey), Integrity::Valid);
}

TEST(Integrity, PreparedKeySignsTheSameBytesAndVerifiesLikeTheRawKey) {
  const IntegrityKey prepared(kKey);
  std::array<uint8_t, 512> buffer{};
  Builder b(buffer, Method::Refresh, MessageClass::Request, TransactionId{9, 9, 9});
  b.add_lifetime(std::chrono::seconds(0)).add_username("1:salt").add_realm("firezone").add_nonce("n");
  b.add_message_integrity(prepared).add_fingerprint();
  const Bytes d(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(b.finish().value()));
  EXPECT_EQ(d, signed_refresh(0, true, true));
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity(prepared), Integrity::Valid);
  EXPECT_EQ(m->verify_message_integrity(IntegrityKey(kOtherKey)), Integrity::Mismatch);
}

TEST(Integrity, EmptyKeyIsAKeyLikeAnyOther) {
  std::array<uint8_t, 64> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_message_integrity({});
  auto m = parse(std::span<const uint8_t>(buffer.data(), b.finish().value()));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity({}), Integrity::Valid);
  EXPECT_EQ(m->verify_message_integrity(kKey), Integrity::Mismatch);
}

}  // namespace
}  // namespace relay::stun

namespace relay::stun {
namespace {

// The codec's own HMAC against OpenSSL's HMAC() one-shot, over the same
// bytes (header with its length field replaced, then the body).
std::vector<uint8_t> openssl_hmac(const EVP_MD* md, const Bytes& key, Bytes covered, uint16_t length_field) {
  store_be16(covered.data() + 2, length_field);
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), covered.data(), covered.size(), out.data(), &len);
  out.resize(len);
  return out;
}

TEST(Integrity, CodecHmacEqualsOpenSslForShortLongAndEmptyKeysAndManySizesRawOrPrepared) {
  Bytes covered(400);
  for (size_t i = 0; i < covered.size(); ++i) covered[i] = static_cast<uint8_t>(i * 7 + 3);
  for (const size_t key_len : {0, 1, 16, 20, 63, 64, 65, 200}) {
    const Bytes key(key_len, static_cast<uint8_t>(key_len + 1));
    for (size_t len = kHeaderSize; len <= covered.size(); len += 13) {
      const Bytes prefix(covered.begin(), covered.begin() + static_cast<std::ptrdiff_t>(len));
      std::array<uint8_t, 32> mine{};
      ASSERT_TRUE(wire::stun_hmac(wire::Hmac::Sha1, key, prefix, 0x1234, mine.data()));
      EXPECT_EQ(Bytes(mine.begin(), mine.begin() + 20), openssl_hmac(EVP_sha1(), key, prefix, 0x1234));
      ASSERT_TRUE(wire::stun_hmac_sha1(IntegrityKey(key), prefix, 0x1234, mine.data()));
      EXPECT_EQ(Bytes(mine.begin(), mine.begin() + 20), openssl_hmac(EVP_sha1(), key, prefix, 0x1234));
      ASSERT_TRUE(wire::stun_hmac(wire::Hmac::Sha256, key, prefix, 0x1234, mine.data()));
      EXPECT_EQ(Bytes(mine.begin(), mine.end()), openssl_hmac(EVP_sha256(), key, prefix, 0x1234));
    }
  }
}

}  // namespace
}  // namespace relay::stun
