// What the network may send that is not a well-behaved request (RFC 8489
// §6.3), quotas, and the state rebuild of a restarted control plane.
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

TEST_F(ServerTest, UnknownComprehensionRequiredAttributeGets420ListingIt) {
  std::vector<uint8_t> value{0, 0, 0, 0};
  auto out = feed(request(Method::Allocate, txid(1), [&](stun::Builder& b) {
    b.add_requested_transport(stun::kTransportUdp).add_attribute(0x0777, value).add_attribute(0xC001, value);
  }, nullptr), at(0));
  ASSERT_EQ(out.size(), 1u);
  auto r = response_of(out[0]);
  EXPECT_EQ(r->error_code(), 420);
  auto unknown = r->msg().unknown_attributes().value();
  ASSERT_TRUE(unknown);
  ASSERT_EQ(unknown->size(), 1u);  // the comprehension-optional 0xC001 is ignored
  EXPECT_EQ((*unknown)[0], 0x0777);
}

TEST_F(ServerTest, IndicationsAndResponsesFromClientsAreIgnoredAndCounted) {
  EXPECT_TRUE(feed(indication(Method::Binding, {}), at(0)).empty());
  std::vector<uint8_t> buf(100);
  stun::Builder b(buf, Method::Binding, stun::MessageClass::SuccessResponse, txid(1));
  b.add_xor_mapped_address(client.value);
  buf.resize(*b.finish());
  EXPECT_TRUE(feed(buf, at(0)).empty());
  EXPECT_EQ(server().stats().drop(DropReason::IndicationFromClient), 1u);
  EXPECT_EQ(server().stats().drop(DropReason::ResponseFromClient), 1u);
}

TEST_F(ServerTest, MalformedInputIsDroppedAndCountedByReason) {
  EXPECT_TRUE(feed({}, at(0)).empty());
  EXPECT_TRUE(feed({0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4}, at(0)).empty());  // ChannelData
  auto truncated = request(Method::Binding, txid(1), {}, nullptr);
  truncated.pop_back();
  EXPECT_TRUE(feed(truncated, at(0)).empty());
  auto corrupted = request(Method::Binding, txid(1), [](stun::Builder& b) { b.add_software("x"); }, nullptr);
  corrupted[24] ^= 1;  // inside SOFTWARE: the FINGERPRINT no longer matches
  EXPECT_TRUE(feed(corrupted, at(0)).empty());
  EXPECT_EQ(server().stats().drop(DropReason::NotStun), 2u);  // empty, ChannelData
  EXPECT_EQ(server().stats().drop(DropReason::Malformed), 1u);
  EXPECT_EQ(server().stats().drop(DropReason::BadFingerprint), 1u);
}

TEST_F(ServerTest, AttributeWithAMalformedValueGets400) {
  std::vector<uint8_t> three_bytes{0, 0, 1};
  auto out = call(Method::Allocate, [&](stun::Builder& b) {
    b.add_attribute(static_cast<uint16_t>(stun::AttributeType::RequestedTransport), three_bytes);
  }, at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

TEST_F(ServerTest, UnknownMethodRequestGets400) {
  auto out = feed(request(static_cast<Method>(0x0ABC), txid(1), {}, nullptr), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

TEST_F(ServerTest, PerUserQuotaIsAnsweredWith486) {
  config.quotas.allocations_per_user = 2;
  for (uint16_t i = 0; i < 2; ++i) {
    client = ClientSocket{SocketAddress{client.value.ip, static_cast<uint16_t>(40000 + i)}};
    ASSERT_EQ(allocate(at(0)).size(), 2u);
  }
  client = ClientSocket{addr("192.0.2.50:40000")};  // another IP, same user
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 486);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PerUser), 1u);
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other");
  EXPECT_EQ(call_from(client, other, Method::Allocate, udp(), at(0)).size(), 2u);
}

TEST_F(ServerTest, ALoweredPerUserQuotaRefusesTheNextAllocationAndKeepsTheExistingOnes) {
  for (uint16_t i = 0; i < 2; ++i) {
    client = ClientSocket{SocketAddress{client.value.ip, static_cast<uint16_t>(40000 + i)}};
    ASSERT_EQ(allocate(at(0)).size(), 2u);
  }
  core::ServerConfig lowered = server().config();
  lowered.quotas.allocations_per_user = 1;
  EXPECT_TRUE(server().reconfigure(lowered, at(1)).quotas_changed);
  client = ClientSocket{addr("192.0.2.50:40000")};
  auto out = allocate(at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 486);
  EXPECT_EQ(server().allocation_count(), 2u);
  lowered.quotas.allocations_per_user = 3;
  server().reconfigure(lowered, at(2));
  EXPECT_EQ(allocate(at(2)).size(), 2u);
}

TEST_F(ServerTest, PerClientIpQuotaIsAnsweredWith486) {
  config.quotas.allocations_per_client_ip = 1;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  client = ClientSocket{addr("198.51.100.10:40001")};
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other");
  auto out = call_from(client, other, Method::Allocate, udp(), at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 486);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PerClientIp), 1u);
}

TEST_F(ServerTest, GlobalQuotaIsAnsweredWith508) {
  config.quotas.allocations_total = 1;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  client = ClientSocket{addr("192.0.2.50:40000")};
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
  EXPECT_EQ(server().stats().quota_rejection(Quota::Total), 1u);
}

TEST_F(ServerTest, ChannelQuotaPerAllocationIsAnsweredWith508) {
  config.quotas.channels_per_allocation = 2;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  ASSERT_EQ(bind(0x4000, "192.0.2.20:1", at(1)).size(), 3u);
  ASSERT_EQ(bind(0x4001, "192.0.2.20:2", at(1)).size(), 3u);
  auto out = bind(0x4002, "192.0.2.20:3", at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
  EXPECT_EQ(bind(0x4001, "192.0.2.20:2", at(2)).size(), 3u);  // refreshing is not a new channel
  EXPECT_EQ(server().stats().quota_rejection(Quota::Channels), 1u);
}

TEST_F(ServerTest, PermissionQuotaPerAllocationIsAnsweredWith508) {
  config.quotas.permissions_per_allocation = 2;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto permit = [&](const char* p, Instant t) {
    SocketAddress a = addr(p);
    return call(Method::CreatePermission, [=](stun::Builder& b) { b.add_xor_peer_address(a); }, t);
  };
  expect_success(permit("192.0.2.1:1", at(1)).at(1));
  expect_success(permit("192.0.2.2:1", at(1)).at(1));
  expect_error(permit("192.0.2.3:1", at(2)).at(0), 508);
  expect_success(permit("192.0.2.3:1", at(301)).at(1));  // the first two expired at 301
}

TEST_F(ServerTest, ChannelsBeyondTheDataPlanesTableGet508) {
  config.quotas.channels_total = 2;  // dataplane.channel_table_capacity, summed over allocations
  config.quotas.channels_per_allocation = 2;
  config.channel_lifetime = std::chrono::seconds(60);
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  ASSERT_EQ(bind(0x4000, "192.0.2.20:1", at(1)).size(), 3u);
  const ClientSocket first = client;
  client = ClientSocket{addr("192.0.2.50:40000")};
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  ASSERT_EQ(bind(0x4000, "192.0.2.20:1", at(2)).size(), 3u);
  auto out = bind(0x4001, "192.0.2.20:2", at(3));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
  EXPECT_EQ(server().stats().quota_rejection(Quota::ChannelTable), 1u);
  EXPECT_EQ(bind(0x4000, "192.0.2.20:1", at(4)).size(), 3u);  // refreshing takes no new slot
  // The first allocation's binding expires at 61: its slot is free again.
  out = tick(at(61));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<RemoveChannel>(out[0]));
  EXPECT_EQ(bind(0x4001, "192.0.2.20:2", at(62)).size(), 3u);
  // Reviving the cooling binding would take a slot again.
  client = first;
  out = bind(0x4000, "192.0.2.20:1", at(63));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
}

TEST_F(ServerTest, PermissionsBeyondTheDataPlanesTableGet508UntilSomeExpire) {
  config.quotas.permissions_total = 2;  // dataplane.permission_table_capacity
  config.quotas.permissions_per_allocation = 0;  // no quota of its own
  auto permit = [&](const char* p, Instant t) {
    SocketAddress a = addr(p);
    return call(Method::CreatePermission, [=](stun::Builder& b) { b.add_xor_peer_address(a); }, t);
  };
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  expect_success(permit("192.0.2.1:1", at(1)).at(1));
  const ClientSocket first = client;
  client = ClientSocket{addr("192.0.2.50:40000")};
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  expect_success(permit("192.0.2.2:1", at(2)).at(1));
  expect_success(permit("192.0.2.2:7", at(3)).at(1));  // the same peer IP: refreshed, no new slot
  expect_error(permit("192.0.2.3:1", at(3)).at(0), 508);
  // A channel to a new peer IP needs a permission slot as well.
  expect_error(bind(0x4000, "192.0.2.4:1", at(3)).at(0), 508);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PermissionTable), 2u);
  // The first allocation's permission expired at 301; it is reclaimed
  // although that allocation never touched its permissions again.
  expect_success(permit("192.0.2.3:1", at(302)).at(1));
  expect_error(permit("192.0.2.5:1", at(302)).at(0), 508);
  // Deleting an allocation returns its permissions' slots at once.
  auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
  ASSERT_EQ(call(Method::Refresh, zero, at(302)).size(), 2u);
  client = first;
  expect_success(permit("192.0.2.5:1", at(302)).at(1));
  expect_success(permit("192.0.2.6:1", at(302)).at(1));
  expect_error(permit("192.0.2.7:1", at(302)).at(0), 508);
}

struct RestoreTest : ServerTest {
  // As the data plane dumps it: the fixture's user (salt) owns it.
  CreateAllocation installed{AllocationPort{50010}, addr("203.0.113.1:50010"), addr("[2001:db8::1]:50010"),
                             ClientFiveTuple{ClientSocket{addr("198.51.100.10:40000")},
                                             ListenSocket{addr("203.0.113.1:3478")}},
                             at(500), owner_id_of("fixture_salt")};
  InstallChannel channel{installed.client, ChannelNumber{0x4000}, PeerSocket{addr("192.0.2.20:5000")},
                         addr("203.0.113.1:50010"), at(300)};

  // The owner's Refresh with the dead process's nonce at 101 s gets 438;
  // with the fresh one at 102 s it succeeds and updates the data plane.
  void refresh_with_a_fresh_nonce() {
    creds.nonce = "7d444840-9dc0-41d2-a1b2-c3d4e5f60718";  // from the previous process
    auto out = feed(request(Method::Refresh, txid(201), {}, &creds), at(101));
    ASSERT_EQ(out.size(), 1u);
    expect_error(out[0], 438);
    creds.nonce = response_of(out[0])->nonce();
    out = feed(request(Method::Refresh, txid(202), {}, &creds), at(102));
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(std::get<UpdateAllocation>(out[0]), (UpdateAllocation{installed.port, at(702)}));
    expect_success(out[1]);
  }
};

TEST_F(RestoreTest, RestoredAllocationKeepsItsPortAndExpiresOnItsOwn) {
  EXPECT_EQ(server().restore_allocation(installed, at(100)), std::nullopt);
  EXPECT_EQ(server().restore_channel(channel, at(100)), std::nullopt);
  EXPECT_TRUE(drain().empty());  // the data plane has them already
  EXPECT_EQ(server().stats().active_allocations_v4, 1u);
  EXPECT_EQ(server().stats().active_allocations_v6, 1u);
  EXPECT_EQ(server().stats().active_channels, 1u);
  ASSERT_EQ(server().allocations().size(), 1u);
  EXPECT_EQ(server().allocations()[0].port, AllocationPort{50010});
  EXPECT_EQ(server().poll_timeout(), at(300));
  auto out = tick(at(300));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<RemoveChannel>(out[0]),
            (RemoveChannel{channel.client, channel.channel, channel.peer, channel.relay}));
  out = tick(at(500));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<FreeAllocation>(out[0]), FreeAllocation{installed.port});
}

TEST_F(RestoreTest, RestoredAllocationIsRefreshedAfterTheClientGetsAFreshNonce) {
  ASSERT_EQ(server().restore_allocation(installed, at(100)), std::nullopt);
  refresh_with_a_fresh_nonce();
}

TEST_F(RestoreTest, WithAPortalAnAdoptedAllocationIsServedBeforeInitWhileNewClientsWait) {
  config.has_portal = true;
  ASSERT_EQ(server().restore_allocation(installed, at(100)), std::nullopt);
  refresh_with_a_fresh_nonce();
  // Another 5-tuple, even of the same owner, waits for the portal's init.
  const ClientSocket newcomer{addr("198.51.100.10:40009")};
  EXPECT_TRUE(call_from(newcomer, creds, Method::Allocate, udp(), at(103)).empty());
  EXPECT_EQ(server().stats().drop(DropReason::NotReady), 1u);
  server().handle_portal_init();
  const auto out = call_from(newcomer, creds, Method::Allocate, udp(), at(104));
  ASSERT_EQ(out.size(), 2u);
  expect_success(out[1]);
}

TEST_F(RestoreTest, OnlyTheOwnerTheDataPlaneRecordedClaimsARestoredAllocation) {
  ASSERT_EQ(server().restore_allocation(installed, at(100)), std::nullopt);
  // Another valid user on the allocation's 5-tuple (a spoofed source, say)
  // before the owner came back: 441, and the allocation stays unclaimed.
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other");
  auto out = call_from(client, other, Method::Refresh, {}, at(101));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 441, other);
  out = call_from(client, other, Method::ChannelBind, [](stun::Builder& b) {
    b.add_channel_number(ChannelNumber{0x4001}).add_xor_peer_address(addr("192.0.2.21:5000"));
  }, at(101));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 441);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::WrongCredentials), 2u);
  // The owner, under a username of its salt, claims it.
  out = call(Method::Refresh, {}, at(102));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
  out = call_from(client, other, Method::Refresh, {}, at(103));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 441);
}

TEST_F(RestoreTest, ARestoredAllocationCountsAgainstItsOwnersQuotasAtOnceAndOnceOnly) {
  config.quotas.allocations_per_user = 2;
  config.quotas.allocations_per_client_ip = 2;
  ASSERT_EQ(server().restore_allocation(installed, at(0)), std::nullopt);
  // The owner from another address: the restored one is its first.
  client = ClientSocket{addr("192.0.2.50:40000")};
  ASSERT_EQ(allocate(at(1)).size(), 2u);
  client = ClientSocket{addr("192.0.2.50:40001")};
  auto out = allocate(at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 486);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PerUser), 1u);
  // Another user behind the restored allocation's address: its IP has one.
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other");
  const ClientSocket same_ip{addr("198.51.100.10:40001")};
  ASSERT_EQ(call_from(same_ip, other, Method::Allocate, udp(), at(2)).size(), 2u);
  out = call_from(ClientSocket{addr("198.51.100.10:40002")}, other, Method::Allocate, udp(), at(2));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 486);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PerClientIp), 1u);
  // Claimed, it is charged to the owner's user instead, not twice: after
  // the owner deletes its other allocation there is room for one more.
  client = ClientSocket{addr("198.51.100.10:40000")};
  ASSERT_EQ(call(Method::Refresh, {}, at(3)).size(), 2u);
  client = ClientSocket{addr("192.0.2.50:40000")};
  auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
  ASSERT_EQ(call(Method::Refresh, zero, at(4)).size(), 2u);
  client = ClientSocket{addr("192.0.2.50:40001")};
  EXPECT_EQ(allocate(at(5)).size(), 2u);
  client = ClientSocket{addr("192.0.2.50:40002")};
  out = allocate(at(5));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 486);
}

TEST_F(RestoreTest, ARestoredAllocationWithoutARecordedOwnerIsClaimedByNobody) {
  installed.owner = OwnerId{};
  ASSERT_EQ(server().restore_allocation(installed, at(0)), std::nullopt);
  auto out = call(Method::Refresh, {}, at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 441);
  // It still ends at its expiry, and its port with it.
  out = tick(at(500));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<FreeAllocation>(out[0]), FreeAllocation{installed.port});
}

TEST_F(RestoreTest, ReportsThatDoNotFitAreRefusedWithAReason) {
  CreateAllocation late = installed;
  late.expiry = at(100);
  EXPECT_EQ(server().restore_allocation(late, at(100)), RestoreError::Expired);
  CreateAllocation outside = installed;
  outside.port = AllocationPort{3478};
  EXPECT_EQ(server().restore_allocation(outside, at(0)), RestoreError::PortOutOfRange);
  CreateAllocation foreign = installed;
  foreign.relay_v4 = addr("192.0.2.1:50010");
  EXPECT_EQ(server().restore_allocation(foreign, at(0)), RestoreError::RelayMismatch);
  EXPECT_EQ(server().restore_channel(channel, at(0)), RestoreError::NoAllocation);
  ASSERT_EQ(server().restore_allocation(installed, at(0)), std::nullopt);
  EXPECT_EQ(server().restore_allocation(installed, at(0)), RestoreError::ClientHasAllocation);
  CreateAllocation same_port = installed;
  same_port.client.client = ClientSocket{addr("198.51.100.99:1")};
  EXPECT_EQ(server().restore_allocation(same_port, at(0)), RestoreError::PortTaken);
  InstallChannel bad = channel;
  bad.channel = ChannelNumber{0x3000};
  EXPECT_EQ(server().restore_channel(bad, at(0)), RestoreError::InvalidChannel);
  ASSERT_EQ(server().restore_channel(channel, at(0)), std::nullopt);
  InstallChannel conflict = channel;
  conflict.peer = PeerSocket{addr("192.0.2.21:5000")};
  EXPECT_EQ(server().restore_channel(conflict, at(0)), RestoreError::ChannelConflict);
  EXPECT_TRUE(drain().empty());
}

TEST_F(RestoreTest, PermissionsAreRestoredSilentlyAndRefusedWithAReasonWhenTheyDoNotFit) {
  const InstallPermission permission{installed.client, *IpAddress::parse("192.0.2.30"), addr("203.0.113.1:50010"),
                                     at(200)};
  EXPECT_EQ(server().restore_permission(permission, at(0)), RestoreError::NoAllocation);
  ASSERT_EQ(server().restore_allocation(installed, at(0)), std::nullopt);
  EXPECT_EQ(server().restore_permission(permission, at(0)), std::nullopt);
  InstallPermission late = permission;
  late.expiry = at(0);
  EXPECT_EQ(server().restore_permission(late, at(0)), RestoreError::Expired);
  InstallPermission other_relay = permission;
  other_relay.relay = addr("203.0.113.1:50011");
  EXPECT_EQ(server().restore_permission(other_relay, at(0)), RestoreError::RelayMismatch);
  // The policy is applied again: the data plane may have been told by a
  // control plane with another configuration.
  InstallPermission internal = permission;
  internal.peer = *IpAddress::parse("10.0.0.1");
  EXPECT_EQ(server().restore_permission(internal, at(0)), RestoreError::PeerDenied);
  InstallChannel internal_channel = channel;
  internal_channel.peer = PeerSocket{addr("127.0.0.1:5000")};
  EXPECT_EQ(server().restore_channel(internal_channel, at(0)), RestoreError::PeerDenied);
  EXPECT_TRUE(drain().empty());
}

TEST_F(RestoreTest, RestoreJudgesTranslatedAndOnLinkPeersByTheSamePolicy) {
  config.local_networks = {*Cidr::parse("192.0.2.0/24")};
  config.peer_allow = {*Cidr::parse("2002::/16")};  // 6to4 re-opened: its IPv4 is still judged
  ASSERT_EQ(server().restore_allocation(installed, at(0)), std::nullopt);
  auto permission = [&](const char* peer) {
    const IpAddress ip = *IpAddress::parse(peer);
    return InstallPermission{installed.client, ip, ip.is_v4() ? *installed.relay_v4 : *installed.relay_v6, at(200)};
  };
  for (const char* peer : {"192.0.2.30", "64:ff9b::a00:1", "64:ff9b:1::a00:1", "2002:a00:1::1", "2002:c000:21e::1",
                           "2001:0:c000:221::f5ff:fffe", "::ffff:0:c000:221", "198.18.0.1", "fec0::1"})
    EXPECT_EQ(server().restore_permission(permission(peer), at(0)), RestoreError::PeerDenied) << peer;
  EXPECT_EQ(server().restore_permission(permission("2002:cb00:7163::1"), at(0)), std::nullopt);  // 203.0.113.99
  InstallChannel nat64 = channel;
  nat64.peer = PeerSocket{addr("[64:ff9b::7f00:1]:5000")};
  nat64.relay = *installed.relay_v6;
  EXPECT_EQ(server().restore_channel(nat64, at(0)), RestoreError::PeerDenied);
  InstallChannel on_link = channel;
  on_link.peer = PeerSocket{addr("192.0.2.20:5000")};
  EXPECT_EQ(server().restore_channel(on_link, at(0)), RestoreError::PeerDenied);
  EXPECT_TRUE(drain().empty());
}

TEST_F(RestoreTest, ARestoredPortIsNeverHandedToANewAllocation) {
  config.allocation_ports = {50010, 50011};
  ASSERT_EQ(server().restore_allocation(installed, at(0)), std::nullopt);
  client = ClientSocket{addr("198.51.100.20:1")};
  auto out = allocate(at(1));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<CreateAllocation>(out[0]).port.value, 50011);
}

}  // namespace
}  // namespace relay::core::testing
