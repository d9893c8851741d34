// The operator's side of the Server (server_admin.cpp): listing and ending
// allocations, drain mode and its deadline, a reload's peer policy and
// secrets, minted test credentials.
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

struct AdminTest : AllocatedTest {
  std::vector<Command> permit(const char* peer, Instant now) {
    const SocketAddress p = addr(peer);
    return call(Method::CreatePermission, [=](stun::Builder& b) { b.add_xor_peer_address(p); }, now);
  }
  std::vector<Command> refresh(Instant now) {
    return call(Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(600)); }, now);
  }
  template <class T>
  static size_t count(const std::vector<Command>& out) {
    return static_cast<size_t>(std::count_if(out.begin(), out.end(), [](const Command& c) {
      return std::holds_alternative<T>(c);
    }));
  }
};

TEST_F(AdminTest, AllocationsShowEachWithItsUserClientRelayExpiryAndCounts) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  ASSERT_EQ(permit("192.0.2.30:1", at(2)).size(), 2u);
  const auto list = server().allocations();
  ASSERT_EQ(list.size(), 1u);
  const AllocationView& a = list[0];
  EXPECT_EQ(a.port, alloc.port);
  EXPECT_EQ(a.client, five_tuple());
  EXPECT_EQ(a.relay_v4, alloc.relay_v4);
  EXPECT_EQ(a.relay_v6, alloc.relay_v6);
  EXPECT_EQ(a.expiry, alloc.expiry);
  EXPECT_EQ(a.user, "fixture_salt");  // the salt names the user
  EXPECT_EQ(a.channels, 1u);
  EXPECT_EQ(a.permissions, 2u);  // the channel's peer and the permitted one
}

TEST_F(AdminTest, EndingAnAllocationFreesItAndItsClientsNextRefreshGets437) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  EXPECT_FALSE(server().end_allocation(AllocationPort{static_cast<uint16_t>(alloc.port.value ^ 1)}, at(2)));
  EXPECT_TRUE(drain().empty());
  EXPECT_TRUE(server().end_allocation(alloc.port, at(2)));
  auto out = drain();
  EXPECT_EQ(count<RemoveChannel>(out), 1u);
  ASSERT_EQ(count<FreeAllocation>(out), 1u);
  EXPECT_EQ(std::get<FreeAllocation>(out.back()).port, alloc.port);
  EXPECT_EQ(server().allocation_count(), 0u);
  EXPECT_EQ(server().stats().allocations_ended, 1u);
  out = refresh(at(3));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 437);
}

TEST_F(AdminTest, DrainingAnswersANewAllocate508AndKeepsServingTheExistingOnes) {
  server().drain(std::nullopt);
  EXPECT_TRUE(server().drain_state().draining);
  ClientSocket other{addr("198.51.100.11:40000")};
  Credentials who = portal_credentials(kUnixAtBoot + 3600, "other");
  auto out = call_from(other, who, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 508, who);
  EXPECT_EQ(server().stats().quota_rejection(Quota::Draining), 1u);
  // The allocation that exists goes on: refresh, channels, permissions.
  expect_success(refresh(at(2)).back());
  EXPECT_EQ(bind(0x4000, "192.0.2.20:5000", at(3)).size(), 3u);
  server().stop_draining();
  EXPECT_FALSE(server().drain_state().draining);
  out = call_from(other, who, Method::Allocate, udp(), at(4));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<CreateAllocation>(out[0]));
}

TEST_F(AdminTest, AtTheDrainDeadlineWhatIsLeftIsEndedAndACancelledDrainEndsNothing) {
  server().drain(at(100));
  EXPECT_EQ(server().drain_state().deadline, at(100));
  EXPECT_TRUE(tick(at(99)).empty());
  server().stop_draining();
  EXPECT_TRUE(tick(at(100)).empty());
  EXPECT_EQ(server().allocation_count(), 1u);

  server().drain(at(200));
  server().drain(at(300));  // moves the deadline
  EXPECT_TRUE(tick(at(250)).empty());
  auto out = tick(at(300));
  ASSERT_EQ(count<FreeAllocation>(out), 1u);
  EXPECT_EQ(server().allocation_count(), 0u);
  EXPECT_EQ(server().stats().allocations_ended, 1u);
  EXPECT_TRUE(server().drain_state().draining);  // still refusing until cancelled
}

TEST_F(AdminTest, AReloadedDenyListRemovesTheDeniedPeersChannelAndPermissionAndRefusesThemFromThenOn) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  ASSERT_EQ(permit("192.0.2.30:1", at(2)).size(), 2u);
  ServerConfig next = server().config();
  next.peer_deny = {*Cidr::parse("192.0.2.20/32")};
  const ReconfigureReport r = server().reconfigure(next, at(10));
  EXPECT_TRUE(r.peer_policy_changed);
  EXPECT_FALSE(r.quotas_changed);
  EXPECT_FALSE(r.secrets_changed);
  EXPECT_EQ(r.channels_revoked, 1u);
  EXPECT_EQ(r.permissions_revoked, 1u);
  auto out = drain();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<RemoveChannel>(out[0]).peer, PeerSocket{addr("192.0.2.20:5000")});
  EXPECT_EQ(std::get<RemovePermission>(out[1]).peer, *IpAddress::parse("192.0.2.20"));
  EXPECT_EQ(server().stats().active_channels, 0u);
  EXPECT_EQ(server().stats().channels_revoked, 1u);
  EXPECT_EQ(server().allocations()[0].permissions, 1u);  // 192.0.2.30 stays
  expect_error(permit("192.0.2.20:1", at(11)).back(), 403);
  expect_error(bind(0x4001, "192.0.2.20:5000", at(12)).back(), 403);
  // The revoked number and peer cool down as after an expiry (RFC 8656 §12).
  next.peer_deny.clear();
  EXPECT_EQ(server().reconfigure(next, at(13)).channels_revoked, 0u);
  expect_error(bind(0x4001, "192.0.2.20:5000", at(14)).back(), 400);
  EXPECT_EQ(bind(0x4000, "192.0.2.20:5000", at(15)).size(), 3u);  // the same pair binds again
}

TEST_F(AdminTest, AReloadedSecretListVerifiesNothingFromARemovedSecretFromTheNextRequestOn) {
  expect_success(refresh(at(1)).back());  // the owner's key is known now
  ServerConfig next = server().config();
  next.auth_secrets = {"a-new-secret-a-new-secret"};
  EXPECT_TRUE(server().reconfigure(next, at(2)).secrets_changed);
  auto out = refresh(at(3));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 401);
  const std::string nonce = creds.nonce;
  creds = portal_credentials(kUnixAtBoot + 24 * 3600, "fixture_salt", "a-new-secret-a-new-secret");
  creds.nonce = nonce;
  expect_signed_success(refresh(at(4)).back(), creds);
}

TEST(ServerAdmin, MintedCredentialsAreTheSchemesOwnAndStaticMintsNone) {
  ServerConfig c = ServerTest::default_config();
  const Server firezone(c, 1);
  const auto f = firezone.mint_credential("alice", 1700000000);
  ASSERT_TRUE(f);
  const Credentials portal = portal_credentials(1700000000, "alice");
  EXPECT_EQ(f->username, portal.username);
  EXPECT_EQ(f->password, portal.password);
  c.auth_scheme = AuthScheme::Rest;
  const auto r = Server(c, 1).mint_credential("alice", 1700000000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->username, "1700000000:alice");
  EXPECT_EQ(r->password, stun::rest_password(kSecret, "1700000000:alice"));
  c.auth_scheme = AuthScheme::Static;
  c.auth_secrets.clear();
  EXPECT_FALSE(Server(c, 1).mint_credential("alice", 1700000000));
}

}  // namespace
}  // namespace relay::core::testing
