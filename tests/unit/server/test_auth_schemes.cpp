// relay.auth.scheme: coturn's REST credentials, a users file, several
// secrets at once (rotation), and one canonical spelling per username.
// Vectors are computed outside this code: `openssl dgst -sha1 -hmac` for
// REST passwords, `turnadmin -k` for a users-file key.
#include "controlplane/core/static_users.hpp"
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

constexpr const char* kOldSecret = "rotation-secret-old-0001";
constexpr const char* kNewSecret = "rotation-secret-new-0002";

Credentials login(std::string username, std::string password) {
  Credentials c;
  c.username = std::move(username);
  c.password = std::move(password);
  return c;
}

// printf '%s' USERNAME | openssl dgst -sha1 -hmac SECRET -binary | base64
Credentials old_alice() { return login("4102444800:alice", "bhwDc4oUGue46T+h9iJO27yuvQY="); }
Credentials new_alice() { return login("4102444800:alice", "8PK7d1mZICWri0uHJt26U5h0vZk="); }
Credentials new_bare() { return login("4102444800", "dMF0zfif+xeD+77tY9lRdLKc/lk="); }

const ClientSocket kSecondClient{addr("198.51.100.11:40000")};

struct RestTest : ServerTest {
  RestTest() {
    config.auth_scheme = AuthScheme::Rest;
    config.auth_secrets = {kNewSecret};
  }
};

TEST_F(RestTest, ACoturnRestCredentialAllocatesAndEveryResponseIsSignedWithItsKey) {
  config.auth_secrets = {kOldSecret};
  // printf '%s' 1700000000:alice | openssl dgst -sha1 -hmac rotation-secret-old-0001 -binary | base64
  creds = login("1700000000:alice", "DcmARCi+XrduCUGKrqkJTzFzJso=");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<CreateAllocation>(out[0]));
  expect_signed_success(out[1], creds);
}

TEST_F(RestTest, AUsernameWithoutAUserAllocates) {
  creds = new_bare();
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
}

TEST_F(RestTest, DuringARotationBothSecretsVerifyAndAfterItOnlyTheNewOne) {
  config.auth_secrets = {kNewSecret, kOldSecret};
  creds = old_alice();
  auto old_out = allocate(at(0));
  ASSERT_EQ(old_out.size(), 2u);
  expect_signed_success(old_out[1], creds);
  Credentials rotated = new_alice();
  auto new_out = call_from(kSecondClient, rotated, Method::Allocate, udp(), at(1));
  ASSERT_EQ(new_out.size(), 2u);
  expect_signed_success(new_out[1], rotated);
  // The old client refreshes with its credential until it is rotated out.
  auto refreshed = call(Method::Refresh, {}, at(2));
  ASSERT_EQ(refreshed.size(), 2u);
  expect_signed_success(refreshed[1], creds);

  // The operator removed the old secret and restarted.
  config.auth_secrets = {kNewSecret};
  server_.reset();
  creds = old_alice();
  auto refused = allocate(at(3));
  ASSERT_EQ(refused.size(), 1u);
  expect_signed_error(refused[0], 401, new_alice());  // the first secret's key: the old one is gone
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::BadIntegrity), 1u);
  rotated = new_alice();
  auto still = call_from(kSecondClient, rotated, Method::Allocate, udp(), at(4));
  ASSERT_EQ(still.size(), 2u);
  expect_signed_success(still[1], rotated);
}

TEST_F(RestTest, AChallengeToAClientOfTheOlderSecretIsSignedWithThatSecretsKey) {
  config.auth_secrets = {kNewSecret, kOldSecret};
  creds = old_alice();
  // connlib's first request: MESSAGE-INTEGRITY but no NONCE yet.
  auto out = feed(request(Method::Allocate, txid(1), udp(), &creds), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, old_alice());
}

TEST_F(RestTest, AWrongPasswordGets401SignedWithTheUsernamesKeyAndCountsAsBadIntegrity) {
  creds = login("4102444800:alice", "bm90IHRoZSBwYXNzd29yZA==");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, new_alice());
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::BadIntegrity), 1u);
  EXPECT_EQ(server().allocation_count(), 0u);
}

TEST_F(RestTest, AnExpiredUsernameGets401) {
  const std::string username = std::to_string(kUnixAtBoot - 1) + ":alice";
  creds = login(username, stun::rest_password(kNewSecret, username));
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::ExpiredUsername), 1u);
}

TEST_F(RestTest, AnExpiryWithALeadingZeroGets401EvenWithItsOwnValidPassword) {
  // "04102444800:alice" is alice at the same expiry: as a second spelling it
  // would be a second quota user.
  for (const std::string username : {"04102444800:alice", "+4102444800:alice", "123456789012345678901:alice"}) {
    creds = login(username, stun::rest_password(kNewSecret, username));
    creds.nonce.clear();
    auto out = allocate(at(0));
    ASSERT_EQ(out.size(), 1u) << username;
    expect_error(out[0], 401);
    EXPECT_FALSE(response_of(out[0])->msg().has_message_integrity()) << username;
  }
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MalformedUsername), 3u);
  EXPECT_EQ(server().allocation_count(), 0u);
}

TEST_F(RestTest, TheUserAfterTheColonCarriesTheQuotaWhateverItsExpiry) {
  config.quotas.allocations_per_user = 1;
  creds = new_alice();
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  const std::string later = "4102444801:alice";
  Credentials again = login(later, stun::rest_password(kNewSecret, later));
  auto out = call_from(kSecondClient, again, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 486, again);
  Credentials bob = login("4102444800:bob", stun::rest_password(kNewSecret, "4102444800:bob"));
  out = call_from(ClientSocket{addr("198.51.100.12:40000")}, bob, Method::Allocate, udp(), at(2));
  ASSERT_EQ(out.size(), 2u);
}

TEST_F(ServerTest, FirezoneAcceptsACredentialOfAnySecretAndThePortalsFirstStaysFirst) {
  config.auth_secrets = {kSecret, kOldSecret};
  creds = portal_credentials(kUnixAtBoot + 3600, "rotated_out", kOldSecret);
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
  Credentials current = portal_credentials(kUnixAtBoot + 3600, "current");
  out = call_from(kSecondClient, current, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], current);
  Credentials stranger = portal_credentials(kUnixAtBoot + 3600, "stranger", "a-secret-nobody-configured");
  out = call_from(ClientSocket{addr("198.51.100.12:40000")}, stranger, Method::Allocate, udp(), at(2));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, portal_credentials(kUnixAtBoot + 3600, "stranger"));
}

TEST_F(ServerTest, AFirezoneUsernameWithALeadingZeroCannotPoseAsAnotherUser) {
  config.quotas.allocations_per_user = 1;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  // The same salt and expiry, one more digit: the portal's password for it
  // is the same, so only the canonical form keeps the quota whole.
  Credentials padded = creds;
  padded.username = "0" + creds.username;
  padded.nonce.clear();
  auto out = call_from(kSecondClient, padded, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 401);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::MalformedUsername), 1u);
}

// turnadmin -k -u alice -r firezone -p 'correct horse'
constexpr const char* kUsersFile =
    "# alice's key from turnadmin, bob's password\n"
    "alice:firezone:0x307d1d285db1502e4aeeccb462998449\n"
    "\n"
    "bob:hunter2-hunter2\n";

struct StaticTest : ServerTest {
  StaticTest() { config.auth_scheme = AuthScheme::Static; }
  void users(std::string_view text) {
    auto parsed = parse_static_users(text, "users.txt", "firezone");
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    server().set_static_users(std::move(parsed.value()));
  }
};

TEST_F(StaticTest, AUserOfTheFileAllocatesByKeyOrByPassword) {
  users(kUsersFile);
  creds = login("alice", "correct horse");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
  Credentials bob = login("bob", "hunter2-hunter2");
  out = call_from(kSecondClient, bob, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], bob);
}

TEST_F(StaticTest, AnUnknownUserGetsAnUnsigned401AndAWrongPasswordASignedOne) {
  users(kUsersFile);
  creds = login("carol", "anything");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 401);
  EXPECT_FALSE(response_of(out[0])->msg().has_message_integrity());
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::UnknownUser), 1u);
  Credentials guess = login("bob", "hunter3");
  out = call_from(kSecondClient, guess, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, login("bob", "hunter2-hunter2"));
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::BadIntegrity), 1u);
}

TEST_F(StaticTest, ReReadUsersTakeEffectAtTheNextRequest) {
  users(kUsersFile);
  creds = login("bob", "hunter2-hunter2");
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  users("alice:firezone:0x307d1d285db1502e4aeeccb462998449\nbob:a-new-password\n");  // SIGHUP
  auto out = call(Method::Refresh, {}, at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, login("bob", "a-new-password"));
  creds.password = "a-new-password";
  out = call(Method::Refresh, {}, at(2));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
  users("alice:firezone:0x307d1d285db1502e4aeeccb462998449\n");  // bob removed
  out = call(Method::Refresh, {}, at(3));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 401);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::UnknownUser), 1u);
}

std::string users_error(std::string_view text) {
  auto parsed = parse_static_users(text, "users.txt", "firezone");
  return parsed.ok() ? "parsed" : parsed.error();
}

TEST(StaticUsers, ABadLineIsNamedByFileLineAndColumnWithoutItsSecret) {
  EXPECT_EQ(users_error("alice:pw-one\nno-colon-here\n"),
            "users.txt:2:1: relay.auth.users_file: not user:password or user:realm:0xKEY");
  EXPECT_EQ(users_error(":pw\n"), "users.txt:1:1: relay.auth.users_file: an empty user name");
  EXPECT_EQ(users_error("alice:\n"), "users.txt:1:7: relay.auth.users_file: an empty password");
  EXPECT_EQ(users_error("alice:elsewhere:0x307d1d285db1502e4aeeccb462998449\n"),
            "users.txt:1:7: relay.auth.users_file: the realm is not relay.realm \"firezone\"");
  EXPECT_EQ(users_error("# c\nalice:firezone:0x307d1d285db1502e4aeeccb46299844\n"),
            "users.txt:2:16: relay.auth.users_file: the key is not 0x and 32 hex digits (turnadmin -k)");
  EXPECT_EQ(users_error("alice:firezone:secret:more\n"),
            "users.txt:1:16: relay.auth.users_file: the key is not 0x and 32 hex digits (turnadmin -k)");
  EXPECT_EQ(users_error("alice:0x307d1d285db1502e4aeeccb462998449\n"),
            "users.txt:1:7: relay.auth.users_file: a key needs its realm: user:realm:0xKEY");
  EXPECT_EQ(users_error("bob:one-password\r\nalice:x\nbob:two\n"),
            "users.txt:3:1: relay.auth.users_file: the user is listed before, on line 1");
}

TEST(StaticUsers, CommentsBlankLinesAndCrlfAreSkipped) {
  auto parsed = parse_static_users("# users\r\n\r\nalice:pw\r\n\nbob:firezone:0x307d1d285db1502e4aeeccb462998449",
                                   "users.txt", "firezone");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->keys.size(), 2u);
  EXPECT_TRUE(parsed->keys.contains("alice"));
  EXPECT_TRUE(parsed->keys.contains("bob"));
}

}  // namespace
}  // namespace relay::core::testing
