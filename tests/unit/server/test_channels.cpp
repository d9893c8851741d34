// ChannelBind (RFC 8656 §11), CreatePermission (§9), peer policy at the
// server, channel and allocation expiry (§12, §7).
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

struct ChannelTest : ServerTest {
  CreateAllocation alloc;
  void SetUp() override {
    auto out = allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V6); });
    ASSERT_EQ(out.size(), 2u);
    alloc = std::get<CreateAllocation>(out[0]);
  }
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
  config.port_min = 50000;
  config.port_max = 50000;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(0)).size(), 3u);
  auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
  ASSERT_EQ(call(Method::Refresh, zero, at(10)).size(), 3u);
  EXPECT_EQ(server().stats().held_ports, 1u);
  EXPECT_EQ(server().stats().free_ports, 0u);
  client = ClientSocket{addr("198.51.100.10:40001")};
  auto out = allocate(at(20));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
  out = allocate(at(310));  // 10 + 300 s
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<CreateAllocation>(out[0]).port.value, 50000);
  EXPECT_EQ(server().stats().held_ports, 0u);
}

TEST_F(ServerTest, APortWithoutChannelsIsReusableAtOnce) {
  config.port_min = 50000;
  config.port_max = 50000;
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
