// The builder's refusals: too little room, values out of range, and
// anything but the integrity attributes and FINGERPRINT at the end.
#include <gtest/gtest.h>

#include "controlplane/core/stun/stun.hpp"
#include "tests/unit/codec/vectors.hpp"

namespace relay::stun {
namespace {

using test::Bytes;

const Bytes kKey = test::hex("0001020304050607");

BuildError error_of(const Builder& b) {
  auto r = b.finish();
  EXPECT_FALSE(r.ok());
  return r.ok() ? BuildError::InvalidValue : r.error();
}

TEST(Builder, BufferShorterThanAHeaderIsTooSmall) {
  std::array<uint8_t, 19> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  EXPECT_EQ(error_of(b), BuildError::BufferTooSmall);
}

TEST(Builder, AttributeThatDoesNotFitIsTooSmallAndNothingIsWrittenPastTheBuffer) {
  std::array<uint8_t, 32> storage{};
  storage.fill(0xEE);
  Builder b(std::span<uint8_t>(storage.data(), 28), Method::Binding, MessageClass::Request, TransactionId{});
  b.add_username("abcde");  // needs 4 + 8 bytes, 8 left
  EXPECT_EQ(error_of(b), BuildError::BufferTooSmall);
  EXPECT_EQ(storage[28], 0xEE);
}

TEST(Builder, FirstFailureSticksThroughLaterCalls) {
  std::array<uint8_t, 28> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_username("too long for eight bytes").add_error_code(999).add_fingerprint();
  EXPECT_EQ(error_of(b), BuildError::BufferTooSmall);
}

TEST(Builder, ExactFitSucceeds) {
  std::array<uint8_t, 28> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_fingerprint();
  EXPECT_EQ(b.finish().value(), 28u);
  EXPECT_TRUE(parse(buffer).ok());
}

TEST(Builder, ErrorCodeOutsideThreeHundredToSixHundredNinetyNineIsInvalid) {
  std::array<uint8_t, 64> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::ErrorResponse, TransactionId{});
  b.add_error_code(299);
  EXPECT_EQ(error_of(b), BuildError::InvalidValue);
  Builder c(buffer, Method::Binding, MessageClass::ErrorResponse, TransactionId{});
  c.add_error_code(700);
  EXPECT_EQ(error_of(c), BuildError::InvalidValue);
}

TEST(Builder, UsernameOver513BytesIsTooLong) {
  std::array<uint8_t, 1024> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_username(std::string(514, 'u'));
  EXPECT_EQ(error_of(b), BuildError::ValueTooLong);
}

TEST(Builder, AttributeAfterMessageIntegrityIsRefused) {
  std::array<uint8_t, 128> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_message_integrity(kKey).add_software("late");
  EXPECT_EQ(error_of(b), BuildError::AttributeAfterIntegrity);
}

TEST(Builder, MessageIntegrityAfterFingerprintIsRefused) {
  std::array<uint8_t, 128> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_fingerprint().add_message_integrity(kKey);
  EXPECT_EQ(error_of(b), BuildError::AttributeAfterFingerprint);
}

TEST(Builder, MessageIntegrityAfterMessageIntegritySha256IsRefused) {
  std::array<uint8_t, 128> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_message_integrity_sha256(kKey).add_message_integrity(kKey);
  EXPECT_EQ(error_of(b), BuildError::AttributeAfterIntegrity);
}

TEST(Builder, Sha256LengthOfTwentyTwoIsInvalid) {
  std::array<uint8_t, 128> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_message_integrity_sha256(kKey, 22);
  EXPECT_EQ(error_of(b), BuildError::InvalidValue);
}

TEST(Builder, SecondFingerprintIsRefused) {
  std::array<uint8_t, 128> buffer{};
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_fingerprint().add_fingerprint();
  EXPECT_EQ(error_of(b), BuildError::AttributeAfterFingerprint);
}

TEST(Builder, NegativeLifetimeIsInvalid) {
  std::array<uint8_t, 128> buffer{};
  Builder b(buffer, Method::Refresh, MessageClass::Request, TransactionId{});
  b.add_lifetime(std::chrono::seconds(-1));
  EXPECT_EQ(error_of(b), BuildError::InvalidValue);
}

TEST(Builder, MessageBodyBeyondSixtyFourKibibytesIsTooLong) {
  std::vector<uint8_t> buffer(70000);
  const std::vector<uint8_t> data(40000, 0xAB);
  Builder b(buffer, Method::Send, MessageClass::Indication, TransactionId{});
  b.add_data(data).add_data(data);
  EXPECT_EQ(error_of(b), BuildError::ValueTooLong);
}

TEST(Builder, PaddingIsZeroByDefault) {
  std::array<uint8_t, 64> buffer{};
  buffer.fill(0xEE);
  Builder b(buffer, Method::Binding, MessageClass::Request, TransactionId{});
  b.add_username("a");
  ASSERT_EQ(b.finish().value(), 28u);
  EXPECT_EQ(buffer[25], 0);
  EXPECT_EQ(buffer[26], 0);
  EXPECT_EQ(buffer[27], 0);
}

}  // namespace
}  // namespace relay::stun
