// The portal's credentials: username "<expiry>:<salt>", password
// base64(SHA-256("<expiry>:<secret>:<salt>")) without padding, and the
// RFC 8489 §9.2.2 long-term key derived from them.
#include <gtest/gtest.h>

#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/stun.hpp"

namespace relay::stun {
namespace {

TEST(Credentials, PortalPasswordMatchesTheFirstReferenceVector) {
  EXPECT_EQ(mint_password("1cab293a-4032-46f4-862a-40e5d174b0d2", 1685984278, "uvdgKvS9GXYZ_vmv"),
            "6xUIoZ+QvxKhRasLifwfRkMXl+ETLJUsFkHlXjlHAkg");
}

TEST(Credentials, PortalPasswordMatchesTheSecondReferenceVector) {
  EXPECT_EQ(mint_password("4c98bf59c99b3e467ecd7cf9d6b3e5279645fca59be67bc5bb4af3cf653761ab", 1892160000,
                          "n23JJ2wKKtt30oXi"),
            "00hqldgk5xLeKKOB+xls9mHMVtgqzie9DulfgQwMv68");
}

TEST(Credentials, UsernameSplitsIntoExpiryAndSalt) {
  const auto u = parse_username("1685984278:uvdgKvS9GXYZ_vmv");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->expiry_unix_seconds, 1685984278u);
  EXPECT_EQ(u->user, "uvdgKvS9GXYZ_vmv");
}

TEST(Credentials, SaltMayItselfContainAColon) {
  const auto u = parse_username("1:a:b");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user, "a:b");
}

TEST(Credentials, UsernameWithoutColonIsMissingTheSeparator) {
  EXPECT_EQ(parse_username("1685984278").error(), UsernameError::MissingSeparator);
}

TEST(Credentials, NonDigitExpiryIsBad) {
  EXPECT_EQ(parse_username("16859x4278:salt").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_username("-1:salt").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_username(":salt").error(), UsernameError::BadExpiry);
}

TEST(Credentials, ExpiryBeyondSixtyFourBitsIsBad) {
  EXPECT_TRUE(parse_username("18446744073709551615:s").ok());
  EXPECT_EQ(parse_username("18446744073709551616:s").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_username("000000000000000000001:s").error(), UsernameError::BadExpiry);
}

TEST(Credentials, AnExpiryIsCanonicalDecimalOrRefused) {
  // One expiry, one spelling: "01:s" and "1:s" would be two users with one
  // Firezone password.
  EXPECT_EQ(parse_username("01685984278:s").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_username("00:s").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_username("+1685984278:s").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_username("123456789012345678901:s").error(), UsernameError::BadExpiry);  // 21 digits
  EXPECT_EQ(parse_username("0:s")->expiry_unix_seconds, 0u);
}

TEST(Credentials, RestUsernameIsAnExpiryAndAnOptionalUser) {
  const auto with_user = parse_rest_username("1700000000:alice");
  ASSERT_TRUE(with_user.ok());
  EXPECT_EQ(with_user->expiry_unix_seconds, 1700000000u);
  EXPECT_EQ(with_user->user, "alice");
  // Without a user the whole username is the user.
  const auto bare = parse_rest_username("1700000000");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->expiry_unix_seconds, 1700000000u);
  EXPECT_EQ(bare->user, "1700000000");
  EXPECT_EQ(parse_rest_username("1700000000:a:b")->user, "a:b");
}

TEST(Credentials, RestUsernameIsCanonicalOrRefused) {
  EXPECT_EQ(parse_rest_username("01700000000:alice").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_rest_username("01700000000").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_rest_username("-1700000000:alice").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_rest_username("123456789012345678901").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_rest_username("alice:1700000000").error(), UsernameError::BadExpiry);
  EXPECT_EQ(parse_rest_username("1700000000:").error(), UsernameError::EmptySalt);
  EXPECT_EQ(parse_rest_username("").error(), UsernameError::BadExpiry);
}

TEST(Credentials, RestPasswordMatchesOpensslsHmacSha1) {
  // printf '%s' '1700000000:alice' | openssl dgst -sha1 -hmac rotation-secret-old-0001 -binary | base64
  EXPECT_EQ(rest_password("rotation-secret-old-0001", "1700000000:alice"), "DcmARCi+XrduCUGKrqkJTzFzJso=");
  // printf '%s' '4102444800' | openssl dgst -sha1 -hmac rotation-secret-new-0002 -binary | base64
  EXPECT_EQ(rest_password("rotation-secret-new-0002", "4102444800"), "dMF0zfif+xeD+77tY9lRdLKc/lk=");
}

TEST(Credentials, EmptySaltIsRefused) { EXPECT_EQ(parse_username("1685984278:").error(), UsernameError::EmptySalt); }

TEST(Credentials, LongTermKeyIsMd5OfUsernameRealmPassword) {
  // MD5("user:realm:pass") computed independently.
  const LongTermKey expected{0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb,
                             0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb};
  EXPECT_EQ(long_term_key("user", "realm", "pass"), expected);
}

TEST(Credentials, RequestSignedWithThePortalPasswordVerifiesWithTheDerivedKey) {
  const std::string username = "1685984278:uvdgKvS9GXYZ_vmv";
  const std::string password = mint_password("1cab293a-4032-46f4-862a-40e5d174b0d2", 1685984278, "uvdgKvS9GXYZ_vmv");
  const LongTermKey key = long_term_key(username, kRealm, password);
  std::array<uint8_t, 256> buffer{};
  Builder b(buffer, Method::Allocate, MessageClass::Request, TransactionId{});
  b.add_requested_transport(kTransportUdp).add_username(username).add_realm(kRealm).add_nonce("abc");
  b.add_message_integrity(key).add_fingerprint();
  auto m = parse(std::span<const uint8_t>(buffer.data(), b.finish().value()));
  ASSERT_TRUE(m.ok());
  const auto parsed = parse_username(*m->username().value());
  ASSERT_TRUE(parsed.ok());
  const std::string minted = mint_password("1cab293a-4032-46f4-862a-40e5d174b0d2", parsed->expiry_unix_seconds,
                                           parsed->user);
  EXPECT_EQ(m->verify_message_integrity(long_term_key(*m->username().value(), kRealm, minted)), Integrity::Valid);
  const std::string wrong = mint_password("another-secret", parsed->expiry_unix_seconds, parsed->user);
  EXPECT_EQ(m->verify_message_integrity(long_term_key(*m->username().value(), kRealm, wrong)), Integrity::Mismatch);
}

}  // namespace
}  // namespace relay::stun
