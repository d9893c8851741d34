// RFC 5769: decode each sample, verify its MESSAGE-INTEGRITY and
// FINGERPRINT, and build it again byte for byte.
#include <gtest/gtest.h>

#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/stun.hpp"
#include "tests/unit/codec/vectors.hpp"

namespace relay::stun {
namespace {

using test::as_bytes;
using test::Bytes;

constexpr TransactionId kSampleTransaction{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

Bytes finished(const Builder& b, std::span<uint8_t> buffer) {
  auto size = b.finish();
  EXPECT_TRUE(size.ok());
  if (!size.ok()) return {};
  return Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(size.value()));
}

TEST(Rfc5769, SampleRequestDecodesWithItsIceAttributesAndUsername) {
  auto m = parse(test::kSampleRequest);
  ASSERT_TRUE(m.ok()) << to_string(m.error().error);
  EXPECT_EQ(m->method(), Method::Binding);
  EXPECT_EQ(m->message_class(), MessageClass::Request);
  EXPECT_EQ(m->transaction_id(), kSampleTransaction);
  EXPECT_EQ(m->attribute_count(), 6u);
  EXPECT_EQ(m->software().value(), "STUN test client");
  EXPECT_EQ(m->username().value(), "evtj:h6vY");
  EXPECT_TRUE(m->has_fingerprint());
  // PRIORITY is understood; ICE-CONTROLLED is comprehension-optional.
  EXPECT_TRUE(m->unknown_comprehension_required().empty());
}

TEST(Rfc5769, SampleRequestIntegrityVerifiesWithThePasswordAsShortTermKey) {
  auto m = parse(test::kSampleRequest);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->verify_message_integrity(as_bytes(test::kSamplePassword)), Integrity::Valid);
  EXPECT_EQ(m->verify_message_integrity(as_bytes("VOkJxbRl1RmTxUk/WvJxBu")), Integrity::Mismatch);
}

TEST(Rfc5769, SampleRequestIsRebuiltByteForByte) {
  std::array<uint8_t, 256> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, kSampleTransaction);
  b.padding_byte(0x20)
      .add_software("STUN test client")
      .add_attribute(static_cast<uint16_t>(AttributeType::Priority), test::hex("6e0001ff"))
      .add_attribute(0x8029, test::hex("932ff9b1 51263b36"))
      .add_username("evtj:h6vY")
      .add_message_integrity(as_bytes(test::kSamplePassword))
      .add_fingerprint();
  EXPECT_EQ(finished(b, buffer), test::kSampleRequest);
}

TEST(Rfc5769, Ipv4ResponseDecodesTheXorMappedAddress) {
  auto m = parse(test::kSampleIpv4Response);
  ASSERT_TRUE(m.ok()) << to_string(m.error().error);
  EXPECT_EQ(m->method(), Method::Binding);
  EXPECT_EQ(m->message_class(), MessageClass::SuccessResponse);
  EXPECT_EQ(m->software().value(), "test vector");
  EXPECT_EQ(m->xor_mapped_address().value(), SocketAddress::parse("192.0.2.1:32853"));
  EXPECT_EQ(m->verify_message_integrity(as_bytes(test::kSamplePassword)), Integrity::Valid);
  EXPECT_TRUE(m->has_fingerprint());
}

TEST(Rfc5769, Ipv4ResponseIsRebuiltByteForByte) {
  std::array<uint8_t, 256> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::SuccessResponse, kSampleTransaction);
  b.padding_byte(0x20)
      .add_software("test vector")
      .add_xor_mapped_address(*SocketAddress::parse("192.0.2.1:32853"))
      .add_message_integrity(as_bytes(test::kSamplePassword))
      .add_fingerprint();
  EXPECT_EQ(finished(b, buffer), test::kSampleIpv4Response);
}

TEST(Rfc5769, Ipv6ResponseDecodesTheXorMappedAddressWithTheTransactionId) {
  auto m = parse(test::kSampleIpv6Response);
  ASSERT_TRUE(m.ok()) << to_string(m.error().error);
  EXPECT_EQ(m->xor_mapped_address().value(), SocketAddress::parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_EQ(m->verify_message_integrity(as_bytes(test::kSamplePassword)), Integrity::Valid);
  EXPECT_TRUE(m->has_fingerprint());
}

TEST(Rfc5769, Ipv6ResponseIsRebuiltByteForByte) {
  std::array<uint8_t, 256> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::SuccessResponse, kSampleTransaction);
  b.padding_byte(0x20)
      .add_software("test vector")
      .add_xor_mapped_address(*SocketAddress::parse("[2001:db8:1234:5678:11:2233:4455:6677]:32853"))
      .add_message_integrity(as_bytes(test::kSamplePassword))
      .add_fingerprint();
  EXPECT_EQ(finished(b, buffer), test::kSampleIpv6Response);
}

TEST(Rfc5769, LongTermRequestVerifiesWithTheMd5KeyOfUsernameRealmPassword) {
  auto m = parse(test::kSampleLongTermRequest);
  ASSERT_TRUE(m.ok()) << to_string(m.error().error);
  EXPECT_EQ(m->username().value(), test::kLongTermUsername);
  EXPECT_EQ(m->nonce().value(), test::kLongTermNonce);
  EXPECT_EQ(m->realm().value(), test::kLongTermRealm);
  EXPECT_FALSE(m->has_fingerprint());
  const LongTermKey key = long_term_key(test::kLongTermUsername, test::kLongTermRealm, test::kLongTermPassword);
  EXPECT_EQ(m->verify_message_integrity(key), Integrity::Valid);
  const LongTermKey unprepared = long_term_key(test::kLongTermUsername, test::kLongTermRealm, "TheMatrix");
  EXPECT_EQ(m->verify_message_integrity(unprepared), Integrity::Mismatch);
}

TEST(Rfc5769, LongTermRequestIsRebuiltByteForByte) {
  std::array<uint8_t, 256> buffer{};
  const TransactionId id{0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e};
  Builder b(buffer, Method::Binding, MessageClass::Request, id);
  b.add_username(test::kLongTermUsername)
      .add_nonce(test::kLongTermNonce)
      .add_realm(test::kLongTermRealm)
      .add_message_integrity(long_term_key(test::kLongTermUsername, test::kLongTermRealm, test::kLongTermPassword));
  EXPECT_EQ(finished(b, buffer), test::kSampleLongTermRequest);
}

}  // namespace
}  // namespace relay::stun
