// ChannelBind (RFC 8656 §11), CreatePermission (§9), peer policy at the
// server, channel and allocation expiry (§12, §7).
#include <set>

#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

struct ChannelTest : AllocatedTest {
  InstallChannel install(uint16_t n, const char* peer, Instant expiry) const {
    SocketAddress p = addr(peer);
    return {five_tuple(), ChannelNumber{n}, PeerSocket{p}, p.ip.is_v4() ? *alloc.relay_v4 : *alloc.relay_v6, expiry};
  }
  InstallPermission permission(const char* peer, Instant expiry) const {
    const IpAddress ip = *IpAddress::parse(peer);
    return {five_tuple(), ip, ip.is_v4() ? *alloc.relay_v4 : *alloc.relay_v6, expiry};
  }
  RemoveChannel removal(uint16_t n, const char* peer) const {
    auto i = install(n, peer, {});
    return {i.client, i.channel, i.peer, i.relay};
  }
  std::vector<Command> permit(std::vector<const char*> peers, Instant now) {
    std::vector<SocketAddress> list;
    for (auto* p : peers) list.push_back(addr(p));
    return call(Method::CreatePermission, [=](stun::Builder& b) {
      for (const auto& p : list) b.add_xor_peer_address(p);
    }, now);
  }
};

TEST_F(ChannelTest, ChannelBindInstallsTheChannelAndItsPermissionWithTheRelayAddressOfThePeersFamily) {
  auto out = bind(0x4000, "192.0.2.20:5000", at(10));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<InstallChannel>(out[0]), install(0x4000, "192.0.2.20:5000", at(610)));
  // RFC 8656 §11.2: the binding installs the peer's permission too.
  EXPECT_EQ(std::get<InstallPermission>(out[1]), permission("192.0.2.20", at(310)));
  auto r = response_of(out[2]);
  ASSERT_TRUE(r->is_success());
  EXPECT_EQ(r->msg().verify_message_integrity(creds.key()), stun::Integrity::Valid);

  out = bind(0x4001, "[2001:db8::20]:5000", at(11));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<InstallChannel>(out[0]), install(0x4001, "[2001:db8::20]:5000", at(611)));
  EXPECT_EQ(std::get<InstallPermission>(out[1]), permission("2001:db8::20", at(311)));
  EXPECT_EQ(server().stats().active_channels, 2u);
}

TEST_F(ChannelTest, AChannelBindSuccessCarriesTheSigned508ToSendShouldAWorkerRefuseTheInstall) {
  auto out = bind(0x4000, "192.0.2.20:5000", at(10));
  ASSERT_EQ(out.size(), 3u);
  const auto& sent = std::get<SendMessage>(out[2]);
  Response refusal(sent.if_refused);
  EXPECT_EQ(refusal.error_code(), 508);
  EXPECT_EQ(refusal.msg().transaction_id(), response_of(out[2])->msg().transaction_id());
  EXPECT_EQ(refusal.msg().verify_message_integrity(creds.key()), stun::Integrity::Valid);
}

TEST_F(ChannelTest, AnUndoneChannelIsForgottenRemovedFromTheWorkersAndFreesItsNumber) {
  call(Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(3600)); }, at(5));
  auto out = bind(0x4000, "192.0.2.20:5000", at(10));
  ASSERT_EQ(out.size(), 3u);
  server().undo_install(out[0]);
  auto removed = drain();
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(std::get<RemoveChannel>(removed[0]), removal(0x4000, "192.0.2.20:5000"));
  EXPECT_EQ(server().stats().active_channels, 0u);
  EXPECT_EQ(server().stats().quota_rejection(Quota::ChannelTable), 1u);
  // No cool-down: the binding never existed. The number binds another peer.
  out = bind(0x4000, "192.0.2.21:5000", at(11));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(response_of(out[2])->is_success());
  // Its own timer (611), not the undone binding's (610).
  EXPECT_TRUE(tick(at(610)).empty());
  auto expired = tick(at(611));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(std::get<RemoveChannel>(expired[0]), removal(0x4000, "192.0.2.21:5000"));
}

TEST_F(ChannelTest, AnUndonePermissionIsForgottenAndRemovedFromTheWorkers) {
  auto out = permit({"192.0.2.20:1", "192.0.2.30:1"}, at(10));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_FALSE(std::get<SendMessage>(out[2]).if_refused.empty());
  server().undo_install(out[1]);
  auto removed = drain();
  ASSERT_EQ(removed.size(), 1u);
  const auto& p = std::get<InstallPermission>(out[1]);
  EXPECT_EQ(std::get<RemovePermission>(removed[0]), (RemovePermission{p.client, p.peer, p.relay}));
  EXPECT_EQ(server().stats().quota_rejection(Quota::PermissionTable), 1u);
  server().undo_install(out[1]);  // twice: nothing left to undo
  EXPECT_TRUE(drain().empty());
}

TEST_F(ChannelTest, ChannelNumbersOutsideTheRangeGet400) {
  for (uint16_t n : {0x0000, 0x3FFF, 0x8000, 0xFFFF}) {
    auto out = bind(n, "192.0.2.20:5000", at(1));
    ASSERT_EQ(out.size(), 1u);
    expect_error(out[0], 400);
  }
  EXPECT_EQ(bind(0x7FFF, "192.0.2.20:5000", at(1)).size(), 3u);
}

TEST_F(ServerTest, ChannelBindWithoutAnAllocationGets437) {
  auto out = bind(0x4000, "192.0.2.20:5000", at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 437);
}

TEST_F(ServerTest, ChannelBindToAPeerOfAFamilyTheAllocationLacksGets443) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);  // IPv4 only
  auto out = bind(0x4000, "[2001:db8::20]:5000", at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 443);
}

TEST_F(ChannelTest, ChannelBoundToAnotherPeerOrPeerBoundToAnotherChannelGets400) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  auto out = bind(0x4000, "192.0.2.21:5000", at(2));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
  out = bind(0x4001, "192.0.2.20:5000", at(3));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
  // Same IP, other port is another peer.
  EXPECT_EQ(bind(0x4001, "192.0.2.20:5001", at(4)).size(), 3u);
}

TEST_F(ChannelTest, RebindingTheSamePairRefreshesItAndInstallsItAgain) {
  auto keep = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(3600)); };
  ASSERT_EQ(call(Method::Refresh, keep, at(0)).size(), 2u);
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  auto out = bind(0x4000, "192.0.2.20:5000", at(300));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<InstallChannel>(out[0]), install(0x4000, "192.0.2.20:5000", at(900)));
  EXPECT_TRUE(tick(at(601)).empty());  // the first binding's deadline is gone
  EXPECT_EQ(server().stats().active_channels, 1u);
}

TEST_F(ChannelTest, ExpiredChannelIsRemovedAndItsNumberAndPeerStayReservedFor5Minutes) {
  auto rebind = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(3600)); };
  ASSERT_EQ(call(Method::Refresh, rebind, at(1)).size(), 2u);  // keep the allocation
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(10)).size(), 3u);
  EXPECT_EQ(server().poll_timeout(), at(610));
  auto out = tick(at(610));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<RemoveChannel>(out[0]), removal(0x4000, "192.0.2.20:5000"));
  EXPECT_EQ(server().stats().active_channels, 0u);
  // During the cool-down neither half may be bound to something else.
  out = bind(0x4000, "192.0.2.21:5000", at(700));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
  out = bind(0x4001, "192.0.2.20:5000", at(700));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
  EXPECT_TRUE(tick(at(909)).empty());
  EXPECT_TRUE(tick(at(910)).empty());  // 610 + 300: free again
  out = bind(0x4000, "192.0.2.21:5000", at(911));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<InstallChannel>(out[0]), install(0x4000, "192.0.2.21:5000", at(1511)));
}

TEST_F(ChannelTest, RebindingTheSamePairDuringTheCooldownRevivesIt) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(0)).size(), 3u);
  auto refresh = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(3600)); };
  ASSERT_EQ(call(Method::Refresh, refresh, at(1)).size(), 2u);
  ASSERT_EQ(tick(at(600)).size(), 1u);
  auto out = bind(0x4000, "192.0.2.20:5000", at(650));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<InstallChannel>(out[0]), install(0x4000, "192.0.2.20:5000", at(1250)));
  EXPECT_EQ(server().stats().active_channels, 1u);
}

TEST_F(ChannelTest, AllocationExpiryFreesItWithAllItsChannels) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(100)).size(), 3u);
  ASSERT_EQ(bind(0x4001, "[2001:db8::20]:5000", at(100)).size(), 3u);
  EXPECT_EQ(server().poll_timeout(), at(600));
  EXPECT_TRUE(tick(at(599)).empty());
  auto out = tick(at(600));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<RemoveChannel>(out[0]), removal(0x4000, "192.0.2.20:5000"));
  EXPECT_EQ(std::get<RemoveChannel>(out[1]), removal(0x4001, "[2001:db8::20]:5000"));
  EXPECT_EQ(std::get<FreeAllocation>(out[2]), FreeAllocation{alloc.port});
  EXPECT_EQ(server().stats().allocations_expired, 1u);
  EXPECT_EQ(server().stats().active_channels, 0u);
  EXPECT_EQ(server().allocation_count(), 0u);
  // The channels' 700 s deadlines went with the allocation; only the port
  // hold remains (600 + 300), and it emits nothing.
  EXPECT_EQ(server().poll_timeout(), at(900));
  EXPECT_TRUE(tick(at(5000)).empty());
  EXPECT_FALSE(server().poll_timeout());
}

TEST_F(ChannelTest, ARequestAfterTheDeadlineSeesTheAllocationGoneEvenWithoutATick) {
  auto out = call(Method::Refresh, {}, at(600));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<FreeAllocation>(out[0]), FreeAllocation{alloc.port});
  expect_error(out[1], 437);
}

TEST_F(ServerTest, APortIsNotReusedWhileAChannelOfItsOldAllocationIsHeld) {
  config.allocation_ports = {50000, 50001};
  auto first = allocate(at(0));
  ASSERT_EQ(first.size(), 2u);
  const uint16_t held = std::get<CreateAllocation>(first[0]).port.value;
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(0)).size(), 3u);
  auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
  ASSERT_EQ(call(Method::Refresh, zero, at(10)).size(), 3u);
  EXPECT_EQ(server().stats().held_ports, 1u);
  EXPECT_EQ(server().stats().free_ports, 1u);
  client = ClientSocket{addr("198.51.100.10:40001")};
  auto out = allocate(at(20));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NE(std::get<CreateAllocation>(out[0]).port.value, held);
  client = ClientSocket{addr("198.51.100.10:40002")};
  out = allocate(at(20));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
  out = allocate(at(310));  // 10 + 300 s
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<CreateAllocation>(out[0]).port.value, held);
  EXPECT_EQ(server().stats().held_ports, 0u);
}

// Allocate, ChannelBind, Refresh 0 from one socket: each round holds a port
// for 5 minutes. The holds stay charged to the user and the client IP.
struct HoldTest : ServerTest {
  uint16_t next_client_port = 41000;
  // One round from a fresh socket of `client`'s IP; the allocated port, or
  // the error code of the Allocate as a negative number.
  int allocate_bind_delete(Credentials& who, Instant now) {
    client = ClientSocket{SocketAddress{client.value.ip, next_client_port++}};
    auto out = call_from(client, who, Method::Allocate, udp(), now);
    if (out.size() == 1) return -static_cast<int>(response_of(out[0])->error_code());
    EXPECT_EQ(out.size(), 2u);
    const int port = std::get<CreateAllocation>(out.at(0)).port.value;
    const SocketAddress peer = addr("192.0.2.20:5000");
    EXPECT_EQ(call_from(client, who, Method::ChannelBind, [&](stun::Builder& b) {
      b.add_channel_number(ChannelNumber{0x4000}).add_xor_peer_address(peer);
    }, now).size(), 3u);
    auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
    EXPECT_EQ(call_from(client, who, Method::Refresh, zero, now).size(), 3u);  // RemoveChannel, Free, success
    return port;
  }
};

TEST_F(HoldTest, HeldPortsCountAgainstTheUsersQuotaSoALoopingUserCannotHoldTheRange) {
  config.allocation_ports = {50000, 50063};
  config.quotas.allocations_per_user = 4;
  for (int round = 0; round < 4; ++round) EXPECT_GT(allocate_bind_delete(creds, at(round)), 0);
  EXPECT_EQ(server().stats().held_ports, 4u);
  // No allocation is live, yet the user has its 4: every further round 486.
  for (int round = 4; round < 20; ++round) EXPECT_EQ(allocate_bind_delete(creds, at(round)), -486);
  EXPECT_EQ(server().stats().held_ports, 4u);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PerUser), 16u);
  // Another user, from another address, allocates.
  client = ClientSocket{addr("192.0.2.50:40000")};
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other");
  EXPECT_EQ(call_from(client, other, Method::Allocate, udp(), at(20)).size(), 2u);
  // The first hold ends 300 s after its round: its charge with it.
  client = ClientSocket{addr("198.51.100.10:40000")};
  EXPECT_EQ(allocate_bind_delete(creds, at(299)), -486);
  EXPECT_GT(allocate_bind_delete(creds, at(300)), 0);
}

TEST_F(HoldTest, HeldPortsCountAgainstTheClientIpQuota) {
  config.quotas.allocations_per_client_ip = 1;
  ASSERT_GT(allocate_bind_delete(creds, at(0)), 0);
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other");
  EXPECT_EQ(allocate_bind_delete(other, at(1)), -486);
  EXPECT_EQ(server().stats().quota_rejection(Quota::PerClientIp), 1u);
  EXPECT_GT(allocate_bind_delete(other, at(300)), 0);
}

TEST_F(HoldTest, AtMostHalfTheRangeIsHeldAndTheOldestHoldEndsFirst) {
  config.allocation_ports = {50000, 50003};
  const int first = allocate_bind_delete(creds, at(0));
  const int second = allocate_bind_delete(creds, at(1));
  ASSERT_GT(first, 0);
  ASSERT_GT(second, 0);
  EXPECT_EQ(server().stats().held_ports, 2u);
  EXPECT_EQ(server().stats().port_holds_cut_short, 0u);
  // A third hold would leave one port of four allocatable: the oldest ends.
  const int third = allocate_bind_delete(creds, at(2));
  ASSERT_GT(third, 0);
  EXPECT_EQ(server().stats().held_ports, 2u);
  EXPECT_EQ(server().stats().port_holds_cut_short, 1u);
  EXPECT_EQ(server().stats().free_ports, 2u);
  // The two allocatable ports: the first round's and the one never used.
  std::set<int> allocated;
  for (uint16_t i = 0; i < 3; ++i) {
    client = ClientSocket{addr("192.0.2.50:40000")};
    client.value.port = static_cast<uint16_t>(40000 + i);
    auto out = allocate(at(3));
    if (i < 2) {
      ASSERT_EQ(out.size(), 2u);
      allocated.insert(std::get<CreateAllocation>(out[0]).port.value);
    } else {
      ASSERT_EQ(out.size(), 1u);
      expect_error(out[0], 508);
    }
  }
  EXPECT_TRUE(allocated.contains(first));
  EXPECT_FALSE(allocated.contains(second) || allocated.contains(third));
  // The cut hold's charge ended with it; the others' end at 301 and 302.
  EXPECT_TRUE(tick(at(301)).empty());
  EXPECT_EQ(server().stats().held_ports, 1u);
  EXPECT_TRUE(tick(at(302)).empty());
  EXPECT_EQ(server().stats().held_ports, 0u);
  EXPECT_EQ(server().stats().free_ports, 2u);
}

TEST_F(HoldTest, AOnePortRangeHoldsNothing) {
  config.allocation_ports = {50000, 50000};
  ASSERT_EQ(allocate_bind_delete(creds, at(0)), 50000);
  EXPECT_EQ(server().stats().held_ports, 0u);
  EXPECT_EQ(server().stats().free_ports, 1u);
  EXPECT_EQ(allocate_bind_delete(creds, at(1)), 50000);
}

TEST_F(ServerTest, APortWithoutChannelsIsReusableAtOnce) {
  config.allocation_ports = {50000, 50000};
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
  ASSERT_EQ(call(Method::Refresh, zero, at(10)).size(), 2u);
  EXPECT_EQ(server().stats().held_ports, 0u);
  EXPECT_EQ(server().stats().free_ports, 1u);
  client = ClientSocket{addr("198.51.100.10:40001")};
  EXPECT_EQ(allocate(at(11)).size(), 2u);
  EXPECT_EQ(server().stats().free_ports, 0u);
}

TEST_F(ChannelTest, CreatePermissionInstallsEveryListedPeerInTheDataPlaneBeforeAnswering) {
  auto out = permit({"192.0.2.20:1", "[2001:db8::5]:1", "203.0.113.77:9"}, at(1));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(std::get<InstallPermission>(out[0]), permission("192.0.2.20", at(301)));
  EXPECT_EQ(std::get<InstallPermission>(out[1]), permission("2001:db8::5", at(301)));
  EXPECT_EQ(std::get<InstallPermission>(out[2]), permission("203.0.113.77", at(301)));
  auto r = response_of(out[3]);
  ASSERT_TRUE(r->is_success());
  EXPECT_EQ(r->msg().verify_message_integrity(creds.key()), stun::Integrity::Valid);
  EXPECT_EQ(server().stats().permissions_created, 3u);
}

TEST_F(ChannelTest, CreatePermissionAgainRefreshesThePermissionAndInstallsItAgain) {
  ASSERT_EQ(permit({"192.0.2.20:1"}, at(1)).size(), 2u);
  auto out = permit({"192.0.2.20:7"}, at(200));  // permissions are per IP (RFC 8656 §9)
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<InstallPermission>(out[0]), permission("192.0.2.20", at(500)));
  EXPECT_EQ(server().stats().permissions_created, 1u);
}

TEST_F(ChannelTest, CreatePermissionWithOneForbiddenPeerGets403AndInstallsNone) {
  auto out = permit({"192.0.2.20:1", "10.1.2.3:1"}, at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 403);
  EXPECT_EQ(server().stats().permissions_created, 0u);
}

TEST_F(ServerTest, CreatePermissionWithoutPeerGets400AndWithoutAllocation437) {
  auto out = call(Method::CreatePermission, {}, at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 437);
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  out = call(Method::CreatePermission, {}, at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

// The data plane relays Send indications (permissions); one that reaches
// the control plane anyway is counted, never relayed from here.
TEST_F(ChannelTest, SendIndicationsAreDroppedAndCountedNeverRelayed) {
  SocketAddress peer = addr("192.0.2.20:5000");
  auto out = feed(indication(Method::Send, [=](stun::Builder& b) {
    b.add_xor_peer_address(peer).add_data(std::vector<uint8_t>{1, 2, 3});
  }), at(1));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(server().stats().drop(DropReason::SendIndication), 1u);
}

TEST_F(ChannelTest, PeersInSpecialPurposeRangesAreForbidden) {
  for (const char* p : {"0.1.2.3:1", "127.0.0.1:1", "10.0.0.1:1", "100.64.0.1:1", "169.254.1.1:1", "172.16.0.1:1",
                        "192.168.1.1:1", "224.0.0.1:1", "240.0.0.1:1", "255.255.255.255:1", "[::]:1", "[::1]:1",
                        "[fd00::1]:1", "[fe80::1]:1", "[ff02::1]:1", "[::ffff:127.0.0.1]:1", "[::ffff:10.0.0.1]:1",
                        "[::10.0.0.1]:1", "[::192.168.0.1]:1", "192.0.0.170:1", "198.18.0.1:1", "[fec0::1]:1",
                        // Translation prefixes, whatever IPv4 they carry (peer_policy.cpp).
                        "[64:ff9b::a00:1]:1", "[64:ff9b::c000:221]:1", "[64:ff9b:1::a00:1]:1",
                        "[2002:a00:1::1]:1", "[2002:c000:221::1]:1", "[2001:0:c000:221::f5ff:fffe]:1",
                        "[::ffff:0:a00:1]:1"}) {
    auto out = bind(0x4000, p, at(1));
    ASSERT_EQ(out.size(), 1u) << p;
    expect_error(out[0], 403);
  }
}

TEST_F(ServerTest, TheRelaysGatewayAndOnLinkSubnetAreForbiddenButItsOwnAllocationsAreNot) {
  config.local_networks = {*Cidr::parse("203.0.113.0/24"), *Cidr::parse("198.51.100.254/32")};
  config.peer_allow = {*Cidr::parse("64:ff9b::/96")};
  ASSERT_EQ(allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V6); }).size(), 2u);
  for (const char* p : {"203.0.113.7:1", "198.51.100.254:1", "[::ffff:203.0.113.7]:1", "[64:ff9b::cb00:7107]:1"}) {
    auto out = bind(0x4000, p, at(1));
    ASSERT_EQ(out.size(), 1u) << p;
    expect_error(out[0], 403);
  }
  EXPECT_EQ(bind(0x4000, "203.0.113.1:50000", at(1)).size(), 3u);  // another client's allocation
  EXPECT_EQ(bind(0x4001, "198.51.100.253:1", at(1)).size(), 3u);
  EXPECT_EQ(bind(0x4002, "[64:ff9b::c000:221]:1", at(1)).size(), 3u);  // re-opened NAT64 to 192.0.2.33
}

TEST_F(ChannelTest, PeersInTheDocumentationRangesAreAllowed) {
  uint16_t n = 0x4000;
  for (const char* p : {"192.0.2.1:1", "198.51.100.1:1", "203.0.113.9:1", "[2001:db8::9]:1"}) {
    auto out = bind(n++, p, at(1));
    ASSERT_EQ(out.size(), 3u) << p;
  }
}

TEST_F(ChannelTest, APeerOnTheRelaysOwnAddressIsAllowedOnlyOnAnAllocationPort) {
  EXPECT_EQ(bind(0x4000, "203.0.113.1:50000", at(1)).size(), 3u);
  EXPECT_EQ(bind(0x4001, "[2001:db8::1]:65535", at(1)).size(), 3u);
  for (const char* p : {"203.0.113.1:3478", "203.0.113.1:22", "[2001:db8::1]:49151", "[::ffff:203.0.113.1]:3478"}) {
    auto out = bind(0x4002, p, at(1));
    ASSERT_EQ(out.size(), 1u) << p;
    expect_error(out[0], 403);
  }
}

TEST_F(ServerTest, TheNatsPublicAddressCountsAsTheRelaysOwn) {
  config.advertised_v4 = IpAddress::parse("192.0.2.77");
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  EXPECT_EQ(bind(0x4000, "192.0.2.77:50000", at(1)).size(), 3u);  // another client's relayed address
  auto out = bind(0x4001, "192.0.2.77:3478", at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 403);
}

TEST_F(ServerTest, ConfiguredAllowAndDenyListsApplyMostSpecificFirst) {
  config.peer_allow = {*Cidr::parse("10.1.0.0/16")};
  config.peer_deny = {*Cidr::parse("10.1.2.0/24"), *Cidr::parse("198.51.100.0/24")};
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  EXPECT_EQ(bind(0x4000, "10.1.1.1:1", at(1)).size(), 3u);  // allow /16 beats builtin deny /8
  auto out = bind(0x4001, "10.1.2.1:1", at(1));            // deny /24 beats allow /16
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 403);
  out = bind(0x4001, "198.51.100.7:1", at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 403);
  out = bind(0x4001, "10.2.0.1:1", at(1));  // builtin deny still applies elsewhere
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 403);
}

TEST_F(ServerTest, PollTimeoutIsAlwaysTheEarliestPendingDeadline) {
  EXPECT_FALSE(server().poll_timeout());
  ASSERT_EQ(allocate(at(0), [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(900)); }).size(), 2u);
  EXPECT_EQ(server().poll_timeout(), at(900));
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(10)).size(), 3u);
  EXPECT_EQ(server().poll_timeout(), at(610));
  client = ClientSocket{addr("198.51.100.10:40001")};
  ASSERT_EQ(allocate(at(20), [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(30)); }).size(), 2u);
  EXPECT_EQ(server().poll_timeout(), at(50));
  ASSERT_EQ(call(Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(3000)); }, at(21)).size(),
            2u);
  EXPECT_EQ(server().poll_timeout(), at(610));
}

}  // namespace
}  // namespace relay::core::testing
