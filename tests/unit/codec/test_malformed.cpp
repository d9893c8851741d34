// The malformed corpus: every broken datagram is refused with its own error
// and the offset of the byte that broke the rule.
#include <gtest/gtest.h>

#include "common/channel_data.hpp"
#include "controlplane/core/stun/stun.hpp"
#include "tests/unit/codec/vectors.hpp"

namespace relay::stun {
namespace {

using test::Bytes;
using test::hex;
using test::message;

constexpr uint16_t kBindingRequest = 0x0001;

ParseFailure failure_of(const Bytes& datagram) {
  auto m = parse(datagram);
  EXPECT_FALSE(m.ok());
  if (m.ok()) return {};
  return m.error();
}

TEST(MalformedStun, NineteenBytesAreTooShortForAHeader) {
  Bytes d = message(kBindingRequest, {});
  d.pop_back();
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::TooShort, 19}));
}

TEST(MalformedStun, AnEmptyDatagramIsTooShort) {
  EXPECT_EQ(failure_of({}), (ParseFailure{ParseError::TooShort, 0}));
}

TEST(MalformedStun, FirstTwoBitsSetIsNotStun) {
  Bytes d = message(kBindingRequest, {});
  d[0] = 0x80;
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::NotStun, 0}));
}

TEST(MalformedStun, WrongMagicCookieIsRefusedAtByteFour) {
  Bytes d = message(kBindingRequest, {});
  d[7] = 0x43;
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::BadMagicCookie, 4}));
}

TEST(MalformedStun, LengthFieldClaimingMoreThanTheDatagramIsALie) {
  Bytes d = message(kBindingRequest, hex("001a0000"));
  store_be16(d.data() + 2, 8);
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::LengthMismatch, 2}));
}

TEST(MalformedStun, LengthFieldClaimingLessThanTheDatagramIsALie) {
  Bytes d = message(kBindingRequest, hex("001a0000 001a0000"));
  store_be16(d.data() + 2, 4);
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::LengthMismatch, 2}));
}

TEST(MalformedStun, OddLengthLeavesStrayBytesWhereAnAttributeShouldStart) {
  // DONT-FRAGMENT, then one byte that cannot be an attribute header.
  EXPECT_EQ(failure_of(message(kBindingRequest, hex("001a0000 ff"))),
            (ParseFailure{ParseError::LengthNotMultipleOf4, 24}));
}

TEST(MalformedStun, AttributeRunningPastTheEndIsAnOverrun) {
  // USERNAME claims 16 bytes, 8 follow.
  EXPECT_EQ(failure_of(message(kBindingRequest, hex("001a0000 00060010 61626364 65666768"))),
            (ParseFailure{ParseError::AttributeOverrun, 24}));
}

TEST(MalformedStun, LastAttributeWithoutItsPaddingIsRefused) {
  // USERNAME "evtj:h6vY" (9 bytes) with its 3 bytes of padding missing.
  EXPECT_EQ(failure_of(message(kBindingRequest, hex("00060009 6576746a 3a683676 59"))),
            (ParseFailure{ParseError::MissingPadding, 20}));
}

TEST(MalformedStun, UsernameAfterMessageIntegrityIsRefused) {
  const Bytes body = hex("00080014 00000000 00000000 00000000 00000000 00000000 00060004 61626364");
  EXPECT_EQ(failure_of(message(kBindingRequest, body)),
            (ParseFailure{ParseError::AttributeAfterMessageIntegrity, 44}));
}

TEST(MalformedStun, SecondMessageIntegrityIsRefused) {
  Bytes mi = hex("00080014 00000000 00000000 00000000 00000000 00000000");
  Bytes body = mi;
  body.insert(body.end(), mi.begin(), mi.end());
  EXPECT_EQ(failure_of(message(kBindingRequest, body)),
            (ParseFailure{ParseError::AttributeAfterMessageIntegrity, 44}));
}

TEST(MalformedStun, MessageIntegrityAfterMessageIntegritySha256IsRefused) {
  const Bytes body = hex(
      "001c0010 00000000 00000000 00000000 00000000"
      "00080014 00000000 00000000 00000000 00000000 00000000");
  EXPECT_EQ(failure_of(message(kBindingRequest, body)),
            (ParseFailure{ParseError::AttributeAfterMessageIntegrity, 40}));
}

TEST(MalformedStun, AnyAttributeAfterFingerprintIsRefused) {
  Bytes d = message(kBindingRequest, hex("80280004 00000000 001a0000"));
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::AttributeAfterFingerprint, 28}));
}

TEST(MalformedStun, FingerprintMismatchAfterOneFlippedBitIsRefused) {
  Bytes d = test::kSampleRequest;
  d[24] ^= 0x01;  // first byte of SOFTWARE
  EXPECT_EQ(failure_of(d), (ParseFailure{ParseError::FingerprintMismatch, 100}));
}

TEST(MalformedStun, MessageIntegrityOfNineteenBytesHasABadLength) {
  EXPECT_EQ(failure_of(message(kBindingRequest, hex("00080013 00000000 00000000 00000000 00000000 00000000"))),
            (ParseFailure{ParseError::BadMessageIntegrityLength, 20}));
}

TEST(MalformedStun, MessageIntegritySha256OfTwelveBytesHasABadLength) {
  EXPECT_EQ(failure_of(message(kBindingRequest, hex("001c000c 00000000 00000000 00000000"))),
            (ParseFailure{ParseError::BadMessageIntegritySha256Length, 20}));
}

TEST(MalformedStun, FingerprintOfEightBytesHasABadLength) {
  EXPECT_EQ(failure_of(message(kBindingRequest, hex("80280008 00000000 00000000"))),
            (ParseFailure{ParseError::BadFingerprintLength, 20}));
}

TEST(MalformedStun, ThirtyThreeAttributesAreTooMany) {
  Bytes body;
  for (size_t i = 0; i < kMaxAttributes + 1; ++i) {
    const Bytes software = hex("80220000");
    body.insert(body.end(), software.begin(), software.end());
  }
  EXPECT_EQ(failure_of(message(kBindingRequest, body)),
            (ParseFailure{ParseError::TooManyAttributes, kHeaderSize + 4 * kMaxAttributes}));
}

TEST(MalformedStun, ThirtyTwoAttributesAreStillAccepted) {
  Bytes body;
  for (size_t i = 0; i < kMaxAttributes; ++i) {
    const Bytes software = hex("80220000");
    body.insert(body.end(), software.begin(), software.end());
  }
  const Bytes d = message(kBindingRequest, body);
  auto m = parse(d);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->attribute_count(), kMaxAttributes);
}

TEST(MalformedStun, EveryTruncationOfAValidMessageIsRefusedWithoutReadingPastIt) {
  for (size_t n = 0; n < test::kSampleRequest.size(); ++n) {
    // A fresh heap copy of exactly n bytes, so ASan sees any overread.
    const Bytes prefix(test::kSampleRequest.begin(), test::kSampleRequest.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_FALSE(parse(prefix).ok()) << n;
  }
}

TEST(MalformedChannelData, LengthClaimingMoreThanTheDatagramIsRefused) {
  const Bytes d = hex("4001 0008 01020304");
  auto frame = parse_channel_data(d);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error(), ChannelDataError::LengthExceedsData);
}

TEST(MalformedChannelData, StunMessageIsNotChannelData) {
  auto frame = parse_channel_data(test::kSampleRequest);
  ASSERT_FALSE(frame.ok());
  EXPECT_EQ(frame.error(), ChannelDataError::NotChannelData);
}

TEST(MalformedChannelData, ChannelDataIsNotStun) {
  const Bytes d = hex("4001 0004 01020304 00000000 00000000 00000000");
  auto m = parse(d);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error(), (ParseFailure{ParseError::NotStun, 0}));
}

}  // namespace
}  // namespace relay::stun
