// RFC 8489 §9.2 long-term credentials with the portal's usernames.
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

// connlib's requests: USERNAME, then REALM and NONCE unless left out,
// MESSAGE-INTEGRITY with `who`'s key, FINGERPRINT.
std::vector<uint8_t> connlib_request(Method method, const stun::TransactionId& id, const Attrs& attrs,
                                     const Credentials& who, bool with_realm = true) {
  std::vector<uint8_t> buf(1500);
  stun::Builder b(buf, method, stun::MessageClass::Request, id);
  if (attrs) attrs(b);
  b.add_username(who.username);
  if (with_realm) b.add_realm(who.realm);
  if (!who.nonce.empty()) b.add_nonce(who.nonce);
  b.add_message_integrity(who.key()).add_fingerprint();
  auto n = b.finish();
  EXPECT_TRUE(n.ok());
  buf.resize(n.ok() ? *n : 0);
  return buf;
}

TEST_F(ServerTest, BindingIsAnsweredWithTheSendersXorMappedAddressWithoutAuthentication) {
  auto out = feed(request(Method::Binding, txid(1), {}, nullptr), at(1));
  ASSERT_EQ(out.size(), 1u);
  auto r = response_of(out[0]);
  ASSERT_TRUE(r->is_success());
  EXPECT_EQ(r->msg().transaction_id(), txid(1));
  EXPECT_EQ(*r->msg().xor_mapped_address().value(), client.value);
  EXPECT_EQ(*r->msg().software().value(), "relay/" RELAY_VERSION);
  EXPECT_TRUE(r->msg().has_fingerprint());
  EXPECT_FALSE(r->msg().has_message_integrity());
  const auto& send = std::get<SendMessage>(out[0]);
  EXPECT_EQ(send.to, client);
  EXPECT_EQ(send.from, listen);
  EXPECT_EQ(server().stats().response(MethodLabel::Binding, ResponseCode::Success), 1u);
}

TEST_F(ServerTest, NothingIsServedBeforePortalInitAndDropsCountAsNotReady) {
  config.has_portal = true;
  EXPECT_TRUE(feed(request(Method::Binding, txid(1), {}, nullptr), at(1)).empty());
  EXPECT_TRUE(feed(request(Method::Allocate, txid(2), udp(), nullptr), at(1)).empty());
  EXPECT_EQ(server().stats().drop(DropReason::NotReady), 2u);
  server().handle_portal_init();
  EXPECT_EQ(feed(request(Method::Binding, txid(1), {}, nullptr), at(2)).size(), 1u);
}

TEST_F(ServerTest, WithoutAPortalTheServerServesAtOnce) {
  config.has_portal = false;
  EXPECT_TRUE(server().ready());
  EXPECT_EQ(feed(request(Method::Binding, txid(1), {}, nullptr), at(1)).size(), 1u);
}

TEST_F(ServerTest, AllocateWithoutIntegrityIsChallengedWith401RealmAndNonce) {
  auto out = feed(request(Method::Allocate, txid(1), udp(), nullptr), at(1));
  ASSERT_EQ(out.size(), 1u);
  auto r = response_of(out[0]);
  EXPECT_EQ(r->error_code(), 401);
  EXPECT_EQ(*r->msg().realm().value(), "firezone");
  EXPECT_EQ(r->nonce().size(), 36u);  // a UUID
  EXPECT_EQ(r->nonce()[14], '4');     // version 4
  EXPECT_FALSE(r->msg().has_message_integrity());
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MissingIntegrity), 1u);
  EXPECT_EQ(server().allocation_count(), 0u);
}

TEST_F(ServerTest, PortalCredentialVectorsAllocateEndToEnd) {
  // The portal's vector: this secret, expiry and salt give this password.
  Credentials vector = portal_credentials(1685984278, "uvdgKvS9GXYZ_vmv");
  ASSERT_EQ(vector.password, "6xUIoZ+QvxKhRasLifwfRkMXl+ETLJUsFkHlXjlHAkg");
  ASSERT_EQ(vector.username, "1685984278:uvdgKvS9GXYZ_vmv");
  server().set_wall_clock(at(0), std::chrono::seconds(1685984000));  // 278 s before expiry

  auto challenge = feed(request(Method::Allocate, txid(1), udp(), nullptr), at(10));
  ASSERT_EQ(challenge.size(), 1u);
  vector.nonce = response_of(challenge[0])->nonce();

  auto out = feed(request(Method::Allocate, txid(2), udp(), &vector), at(11));
  ASSERT_EQ(out.size(), 2u);
  const auto& create = std::get<CreateAllocation>(out[0]);
  EXPECT_EQ(create.client, five_tuple());
  EXPECT_EQ(create.expiry, at(611));
  ASSERT_TRUE(create.relay_v4);
  EXPECT_EQ(create.relay_v4->ip, *config.relay_v4);
  EXPECT_EQ(create.relay_v4->port, create.port.value);
  EXPECT_FALSE(create.relay_v6);
  auto r = response_of(out[1]);
  ASSERT_TRUE(r->is_success());
  EXPECT_EQ(r->relayed(), std::vector<SocketAddress>{*create.relay_v4});
  EXPECT_EQ(*r->msg().xor_mapped_address().value(), client.value);
  EXPECT_EQ(r->lifetime(), std::chrono::seconds(600));
  // Every response to an authenticated request carries MI with the same key.
  EXPECT_EQ(r->msg().verify_message_integrity(vector.key()), stun::Integrity::Valid);

  // 268 s later the username has expired (1685984278 < 1685984279).
  auto late = feed(request(Method::Refresh, txid(3), {}, &vector), at(279));
  ASSERT_EQ(late.size(), 1u);
  expect_error(late[0], 401);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::ExpiredUsername), 1u);
}

TEST_F(ServerTest, ExpiredUsernameIsRejectedWith401SignedWithItsStillDerivableKey) {
  creds = portal_credentials(kUnixAtBoot - 1, "old");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  EXPECT_EQ(*response_of(out[0])->msg().realm().value(), "firezone");
  EXPECT_EQ(response_of(out[0])->nonce().size(), 36u);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::ExpiredUsername), 1u);
  EXPECT_EQ(server().allocation_count(), 0u);
}

TEST_F(ServerTest, MalformedUsernameIsRejectedWithAnUnsigned401) {
  creds.username = "not-expiry-and-salt";
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 401);
  EXPECT_FALSE(response_of(out[0])->msg().has_message_integrity());
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MalformedUsername), 1u);
}

TEST_F(ServerTest, WrongPasswordIsRejectedWith401AFreshNonceAndTheUsernamesRealKey) {
  const Credentials real = creds;
  creds.password = "guessed";
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  auto r = response_of(out[0]);
  EXPECT_EQ(r->error_code(), 401);
  EXPECT_FALSE(r->nonce().empty());
  EXPECT_NE(r->nonce(), creds.nonce);
  // Signed for the username, so a client with the wrong password cannot
  // verify it (connlib drops it) and the right one could.
  expect_signed_error(out[0], 401, real);
  EXPECT_EQ(r->msg().verify_message_integrity(creds.key()), stun::Integrity::Mismatch);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::BadIntegrity), 1u);
}

TEST_F(ServerTest, SecretOfAnotherRelayDoesNotAuthenticate) {
  creds = portal_credentials(kUnixAtBoot + 60, "salt", "another-secret");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 401);
}

TEST_F(ServerTest, UnknownNonceGets438WithAFreshNonceSignedWithTheUsersKey) {
  creds.nonce = "3f2a0c1e-0000-4000-8000-000000000000";
  auto out = feed(request(Method::Allocate, txid(1), udp(), &creds), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 438, creds);
  auto r = response_of(out[0]);
  EXPECT_EQ(*r->msg().realm().value(), "firezone");
  EXPECT_EQ(r->nonce().size(), 36u);
  EXPECT_EQ(server().stats().stale_nonces, 1u);
  creds.nonce = r->nonce();
  auto retry = feed(request(Method::Allocate, txid(2), udp(), &creds), at(0));
  ASSERT_EQ(retry.size(), 2u);
  expect_success(retry[1]);
}

TEST_F(ServerTest, NonceIsGoodForTenAuthenticatedRequestsThenStale) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);  // use 1
  for (int i = 2; i <= 10; ++i) {
    auto out = feed(request(Method::Refresh, txid(static_cast<uint8_t>(100 + i)), {}, &creds), at(i));
    ASSERT_EQ(out.size(), 2u) << "use " << i;
    expect_success(out[1]);
  }
  auto eleventh = feed(request(Method::Refresh, txid(111), {}, &creds), at(11));
  ASSERT_EQ(eleventh.size(), 1u);
  expect_signed_error(eleventh[0], 438, creds);
}

TEST_F(ServerTest, NonceIsGoodForTheConfiguredNumberOfUsesThenStale) {
  config.nonce_uses = 3;
  ASSERT_EQ(allocate(at(0)).size(), 2u);  // use 1
  for (int i = 2; i <= 3; ++i) {
    auto out = feed(request(Method::Refresh, txid(static_cast<uint8_t>(100 + i)), {}, &creds), at(i));
    ASSERT_EQ(out.size(), 2u) << "use " << i;
    expect_signed_success(out[1], creds);
  }
  auto fourth = feed(request(Method::Refresh, txid(104), {}, &creds), at(4));
  ASSERT_EQ(fourth.size(), 1u);
  expect_signed_error(fourth[0], 438, creds);
  EXPECT_EQ(server().stats().stale_nonces, 1u);
}

TEST_F(ServerTest, OldestNonceIsEvictedWhenTheBoundedStoreIsFull) {
  config.nonce_capacity = 4;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  // A flood of unauthenticated requests mints nonces but only cycles the ring.
  for (uint8_t i = 0; i < 4; ++i)
    feed_from(ClientSocket{addr("192.0.2.99:1000")}, request(Method::Allocate, txid(i), udp(), nullptr), at(1));
  auto out = feed(request(Method::Refresh, txid(200), {}, &creds), at(2));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 438);
}

TEST_F(ServerTest, ConnlibsFirstAllocateWithoutNonceIsChallengedWith401SignedWithTheUsersKey) {
  // USERNAME, REALM and MESSAGE-INTEGRITY, no NONCE: connlib's first Allocate.
  creds.nonce.clear();
  auto out = feed(connlib_request(Method::Allocate, txid(1), udp(), creds), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  auto r = response_of(out[0]);
  EXPECT_EQ(*r->msg().realm().value(), "firezone");
  EXPECT_EQ(r->nonce().size(), 36u);
  EXPECT_TRUE(r->msg().has_fingerprint());
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MissingAttributes), 1u);
  EXPECT_EQ(server().allocation_count(), 0u);

  creds.nonce = r->nonce();
  out = feed(connlib_request(Method::Allocate, txid(2), udp(), creds), at(1));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<CreateAllocation>(out[0]));
  expect_signed_success(out[1], creds);
}

TEST_F(ServerTest, RequestWithIntegrityButNoRealmIsChallengedWith401SignedWithTheUsersKey) {
  auto out = feed(connlib_request(Method::Allocate, txid(1), udp(), creds, false), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  EXPECT_EQ(*response_of(out[0])->msg().realm().value(), "firezone");
  EXPECT_EQ(response_of(out[0])->nonce().size(), 36u);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MissingAttributes), 1u);
}

TEST_F(ServerTest, RequestWithAUsernameButNoIntegrityIsChallengedSignedWithThatUsernamesKey) {
  auto out = feed(request(Method::Allocate, txid(1), [&](stun::Builder& b) {
    b.add_requested_transport(stun::kTransportUdp).add_username(creds.username);
  }, nullptr), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MissingIntegrity), 1u);
}

TEST_F(ServerTest, RequestWithIntegrityButNeitherNonceNorAParsableUsernameGets400) {
  creds.username = "no-salt-here";
  auto out = feed(connlib_request(Method::Allocate, txid(1), udp(), creds), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
  EXPECT_FALSE(response_of(out[0])->msg().has_message_integrity());
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MissingAttributes), 1u);
}

TEST_F(ServerTest, WrongRealmIsRejectedWith401SignedWithTheKeyOfOurRealm) {
  creds.realm = "elsewhere";
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  Credentials ours = creds;
  ours.realm = "firezone";
  expect_signed_error(out[0], 401, ours);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::WrongRealm), 1u);
}

TEST_F(ServerTest, WithoutAWallClockAuthenticationFailsClosed) {
  server_.emplace(config, 42);  // no set_wall_clock
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::ClockUnknown), 1u);
}

TEST_F(ServerTest, EveryTurnMethodNeedsAuthentication) {
  for (Method m : {Method::Refresh, Method::ChannelBind, Method::CreatePermission}) {
    auto out = feed(request(m, txid(static_cast<uint8_t>(m)), {}, nullptr), at(0));
    ASSERT_EQ(out.size(), 1u);
    expect_error(out[0], 401);
  }
}

TEST_F(ServerTest, RepeatedRequestsOfOneUserReuseTheCachedKeyAndStillVerify) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto out = call(Method::Refresh, {}, at(1));
  ASSERT_EQ(out.size(), 2u);
  auto r = response_of(out[1]);
  EXPECT_EQ(r->msg().verify_message_integrity(creds.key()), stun::Integrity::Valid);
  // The cache is keyed by username: a different password for the same
  // username must still fail (the cached key is the real one).
  Credentials forged = creds;
  forged.password = "forged";
  auto bad = feed(request(Method::Refresh, txid(90), {}, &forged), at(2));
  ASSERT_EQ(bad.size(), 1u);
  expect_error(bad[0], 401);
}

}  // namespace
}  // namespace relay::core::testing
