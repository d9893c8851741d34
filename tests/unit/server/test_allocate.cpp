// Allocate (RFC 8656 §7), address families (§7.2), EVEN-PORT and
// RESERVATION-TOKEN (§7.2), Refresh (§8).
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

const CreateAllocation& created(const std::vector<Command>& out) { return std::get<CreateAllocation>(out.at(0)); }

TEST_F(ServerTest, AllocateWithoutRequestedTransportGets400) {
  auto out = call(Method::Allocate, {}, at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
  auto r = response_of(out[0]);
  EXPECT_EQ(r->msg().verify_message_integrity(creds.key()), stun::Integrity::Valid);
}

TEST_F(ServerTest, AllocateForTcpGets442) {
  auto out = call(Method::Allocate, [](stun::Builder& b) { b.add_requested_transport(6); }, at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 442);
}

TEST_F(ServerTest, SecondAllocateOnTheSameFiveTupleGets437) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto out = allocate(at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 437);
  EXPECT_EQ(server().allocation_count(), 1u);
}

TEST_F(ServerTest, RetransmittedAllocateGetsTheIdenticalResponseAndNoSecondAllocation) {
  auto first = allocate(at(0));
  ASSERT_EQ(first.size(), 2u);
  auto original = feed(request(Method::Allocate, txid(77), udp(), &creds), at(1));
  ASSERT_EQ(original.size(), 1u);  // this new transaction meets the allocation: 437
  expect_error(original[0], 437);
  // Same transaction id as the successful Allocate (the fixture's 2nd id).
  auto again = feed(request(Method::Allocate, txid(2), udp(), &creds), at(5));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(std::get<SendMessage>(again[0]).bytes, std::get<SendMessage>(first[1]).bytes);
  EXPECT_EQ(server().stats().retransmissions, 1u);
  EXPECT_EQ(server().allocation_count(), 1u);
}

TEST_F(ServerTest, BehindANatThePublicAddressIsAdvertisedAndTheInterfaceAddressInstalled) {
  config.advertised_v4 = IpAddress::parse("198.51.100.77");
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 2u);
  const SocketAddress installed = *created(out).relay_v4;
  EXPECT_EQ(installed.ip, *IpAddress::parse("203.0.113.1"));
  EXPECT_EQ(response_of(out[1])->relayed(),
            (std::vector<SocketAddress>{{*IpAddress::parse("198.51.100.77"), installed.port}}));
}

TEST_F(ServerTest, ResponseCacheForgetsAfter40Seconds) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto again = feed(request(Method::Allocate, txid(2), udp(), &creds), at(40));
  ASSERT_EQ(again.size(), 1u);
  expect_error(again[0], 437);
}

TEST_F(ServerTest, LifetimeDefaultsTo600ClientMayAskForLessAndIsCappedAt3600) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(120)); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(created(out).expiry, at(120));
  EXPECT_EQ(response_of(out[1])->lifetime(), std::chrono::seconds(120));

  client = ClientSocket{addr("198.51.100.10:40001")};
  out = allocate(at(0), [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(100000)); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(created(out).expiry, at(3600));

  client = ClientSocket{addr("198.51.100.10:40002")};
  out = allocate(at(0));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(created(out).expiry, at(600));
  EXPECT_EQ(response_of(out[1])->lifetime(), std::chrono::seconds(600));
}

TEST_F(ServerTest, EvenPortGivesAnEvenPort) {
  for (uint16_t i = 0; i < 8; ++i) {
    client = ClientSocket{SocketAddress{client.value.ip, static_cast<uint16_t>(50000 + i)}};
    auto out = allocate(at(0), [](stun::Builder& b) { b.add_even_port({false}); });
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(created(out).port.value % 2, 0);
    EXPECT_FALSE(response_of(out[1])->msg().reservation_token().value());
  }
}

TEST_F(ServerTest, EvenPortWithReserveBitReturnsATokenThatLaterGetsTheNextPort) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_even_port({true}); });
  ASSERT_EQ(out.size(), 2u);
  uint16_t even = created(out).port.value;
  EXPECT_EQ(even % 2, 0);
  auto token = response_of(out[1])->msg().reservation_token().value();
  ASSERT_TRUE(token);

  client = ClientSocket{addr("198.51.100.11:40000")};
  stun::ReservationToken t = *token;
  out = allocate(at(29), [=](stun::Builder& b) { b.add_reservation_token(t); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(created(out).port.value, even + 1);

  // A token is good once.
  client = ClientSocket{addr("198.51.100.12:40000")};
  out = allocate(at(29), [=](stun::Builder& b) { b.add_reservation_token(t); });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
}

TEST_F(ServerTest, ReservationTokenGetsTheFamilyOfTheReservedAddress) {
  // turnutils_uclient -x: RTP allocation with EVEN-PORT R=1 and
  // REQUESTED-ADDRESS-FAMILY IPv6, then the RTCP one with the token alone.
  auto out = allocate(at(0), [](stun::Builder& b) {
    b.add_even_port({true}).add_requested_address_family(Family::V6);
  });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(created(out).relay_v4);
  ASSERT_TRUE(created(out).relay_v6);
  uint16_t even = created(out).port.value;
  stun::ReservationToken t = *response_of(out[1])->msg().reservation_token().value();

  client = ClientSocket{addr("198.51.100.11:40000")};
  out = allocate(at(1), [=](stun::Builder& b) { b.add_reservation_token(t); });
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(created(out).relay_v4);
  ASSERT_TRUE(created(out).relay_v6);
  EXPECT_EQ(created(out).relay_v6->port, even + 1);
}

TEST_F(ServerTest, ReservationTokenWithRequestedAddressFamilyGets400) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_even_port({true}); });
  ASSERT_EQ(out.size(), 2u);
  stun::ReservationToken t = *response_of(out[1])->msg().reservation_token().value();
  client = ClientSocket{addr("198.51.100.11:40000")};
  out = allocate(at(1), [=](stun::Builder& b) {
    b.add_reservation_token(t).add_requested_address_family(Family::V4);
  });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

TEST_F(ServerTest, ReservationTokenExpiresAfter30SecondsAndThenGets508) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_even_port({true}); });
  ASSERT_EQ(out.size(), 2u);
  stun::ReservationToken t = *response_of(out[1])->msg().reservation_token().value();
  EXPECT_TRUE(tick(at(30)).empty());
  client = ClientSocket{addr("198.51.100.11:40000")};
  out = allocate(at(31), [=](stun::Builder& b) { b.add_reservation_token(t); });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
}

TEST_F(ServerTest, UnknownReservationTokenGets508) {
  stun::ReservationToken t{1, 2, 3, 4, 5, 6, 7, 8};
  auto out = allocate(at(0), [=](stun::Builder& b) { b.add_reservation_token(t); });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
}

TEST_F(ServerTest, EvenPortAndReservationTokenTogetherGet400) {
  stun::ReservationToken t{1, 2, 3, 4, 5, 6, 7, 8};
  auto out = allocate(at(0), [=](stun::Builder& b) { b.add_even_port({false}).add_reservation_token(t); });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

TEST_F(ServerTest, RequestedIpv6FamilyGetsOnlyAnIpv6RelayAddress) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_requested_address_family(Family::V6); });
  ASSERT_EQ(out.size(), 2u);
  const auto& c = created(out);
  EXPECT_FALSE(c.relay_v4);
  ASSERT_TRUE(c.relay_v6);
  EXPECT_EQ(*c.relay_v6, (SocketAddress{*config.relay_v6, c.port.value}));
  EXPECT_EQ(response_of(out[1])->relayed(), std::vector<SocketAddress>{*c.relay_v6});
  EXPECT_EQ(server().stats().active_allocations_v6, 1u);
  EXPECT_EQ(server().stats().active_allocations_v4, 0u);
}

TEST_F(ServerTest, AdditionalIpv6FamilyGetsADualAllocation) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V6); });
  ASSERT_EQ(out.size(), 2u);
  const auto& c = created(out);
  ASSERT_TRUE(c.relay_v4 && c.relay_v6);
  EXPECT_EQ(c.relay_v4->port, c.relay_v6->port);
  EXPECT_EQ(response_of(out[1])->relayed(), (std::vector<SocketAddress>{*c.relay_v4, *c.relay_v6}));
  EXPECT_EQ(server().stats().active_allocations_v4, 1u);
  EXPECT_EQ(server().stats().active_allocations_v6, 1u);
}

TEST_F(ServerTest, RequestedAndAdditionalFamilyTogetherGet400) {
  auto out = allocate(at(0), [](stun::Builder& b) {
    b.add_requested_address_family(Family::V4).add_additional_address_family(Family::V6);
  });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

TEST_F(ServerTest, AdditionalFamilyIpv4Gets400) {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V4); });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 400);
}

TEST_F(ServerTest, RequestedFamilyTheRelayHasNoAddressForGets440) {
  config.relay_v6.reset();
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_requested_address_family(Family::V6); });
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 440);
}

TEST_F(ServerTest, DefaultIpv4OnAnIpv6OnlyRelayGets440) {
  config.relay_v4.reset();
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 440);
}

TEST_F(ServerTest, DualRequestOnAnIpv6OnlyRelayGetsIpv6AndAddressErrorCode440ForIpv4) {
  // connlib always asks for IPv4 plus ADDITIONAL-ADDRESS-FAMILY IPv6.
  config.relay_v4.reset();
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V6); });
  ASSERT_EQ(out.size(), 2u);
  const auto& c = created(out);
  EXPECT_FALSE(c.relay_v4);
  ASSERT_TRUE(c.relay_v6);
  EXPECT_EQ(*c.relay_v6, (SocketAddress{*config.relay_v6, c.port.value}));
  expect_signed_success(out[1], creds);
  auto r = response_of(out[1]);
  EXPECT_EQ(r->relayed(), std::vector<SocketAddress>{*c.relay_v6});
  auto aec = r->msg().address_error_code().value();
  ASSERT_TRUE(aec);
  EXPECT_EQ(aec->family, Family::V4);
  EXPECT_EQ(aec->code, 440);
  EXPECT_EQ(server().stats().active_allocations_v4, 0u);
  EXPECT_EQ(server().stats().active_allocations_v6, 1u);
}

TEST_F(ServerTest, DualRequestOnAnIpv4OnlyRelayGetsIpv4AndAddressErrorCode440ForIpv6) {
  config.relay_v6.reset();
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V6); });
  ASSERT_EQ(out.size(), 2u);
  const auto& c = created(out);
  EXPECT_TRUE(c.relay_v4);
  EXPECT_FALSE(c.relay_v6);
  auto r = response_of(out[1]);
  ASSERT_TRUE(r->is_success());
  auto aec = r->msg().address_error_code().value();
  ASSERT_TRUE(aec);
  EXPECT_EQ(aec->family, Family::V6);
  EXPECT_EQ(aec->code, 440);
}

TEST_F(ServerTest, PortsComeFromTheRangeNeverTwiceAndExhaustionGets508) {
  config.allocation_ports = {50000, 50003};
  std::set<uint16_t> ports;
  for (uint16_t i = 0; i < 4; ++i) {
    client = ClientSocket{SocketAddress{client.value.ip, static_cast<uint16_t>(40000 + i)}};
    auto out = allocate(at(0));
    ASSERT_EQ(out.size(), 2u);
    ports.insert(created(out).port.value);
  }
  EXPECT_EQ(ports, (std::set<uint16_t>{50000, 50001, 50002, 50003}));
  client = ClientSocket{addr("198.51.100.10:41000")};
  auto out = allocate(at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 508);
  EXPECT_EQ(server().stats().quota_rejection(Quota::Ports), 1u);
  // Freeing one makes room again; nothing else broke.
  client = ClientSocket{addr("198.51.100.10:40000")};
  out = call(Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); }, at(1));
  ASSERT_EQ(out.size(), 2u);
  client = ClientSocket{addr("198.51.100.10:41000")};
  out = allocate(at(2));
  ASSERT_EQ(out.size(), 2u);
}

TEST_F(ServerTest, RefreshExtendsTheLifetimeWithTheSameCapAndEmitsUpdateAllocation) {
  auto out = allocate(at(0));
  AllocationPort port = created(out).port;
  out = call(Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(7200)); }, at(100));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<UpdateAllocation>(out[0]), (UpdateAllocation{port, at(3700)}));
  auto r = response_of(out[1]);
  EXPECT_EQ(r->lifetime(), std::chrono::seconds(3600));
  EXPECT_EQ(r->msg().verify_message_integrity(creds.key()), stun::Integrity::Valid);
  EXPECT_TRUE(tick(at(3699)).empty());
  out = tick(at(3700));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<FreeAllocation>(out[0]), FreeAllocation{port});
}

TEST_F(ServerTest, RefreshWithZeroLifetimeFreesTheAllocationAndItsChannelsAtOnce) {
  auto out = allocate(at(0));
  const CreateAllocation c = created(out);
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  out = call(Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); }, at(2));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(std::get<RemoveChannel>(out[0]),
            (RemoveChannel{five_tuple(), ChannelNumber{0x4000}, PeerSocket{addr("192.0.2.20:5000")}, *c.relay_v4}));
  EXPECT_EQ(std::get<FreeAllocation>(out[1]), FreeAllocation{c.port});
  auto r = response_of(out[2]);
  ASSERT_TRUE(r->is_success());
  EXPECT_EQ(r->lifetime(), std::chrono::seconds(0));
  EXPECT_EQ(server().stats().allocations_deleted, 1u);
  EXPECT_EQ(server().stats().active_channels, 0u);
  EXPECT_EQ(server().stats().active_allocations_v4, 0u);
  // Nothing is left to expire later, except the held port.
  EXPECT_TRUE(tick(at(4000)).empty());
}

TEST_F(ServerTest, RetransmittedRefreshWithZeroLifetimeGetsItsSuccessAgain) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto zero = [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); };
  auto out = feed(request(Method::Refresh, txid(60), zero, &creds), at(1));
  ASSERT_EQ(out.size(), 2u);
  auto again = feed(request(Method::Refresh, txid(60), zero, &creds), at(2));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(std::get<SendMessage>(again[0]).bytes, std::get<SendMessage>(out[1]).bytes);
}

TEST_F(ServerTest, RefreshWithoutAnAllocationGets437) {
  auto out = call(Method::Refresh, {}, at(0));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 437);
}

TEST_F(ServerTest, RefreshWithAnotherUsersCredentialsGets441) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  Credentials other = portal_credentials(kUnixAtBoot + 3600, "other_salt");
  auto out = call_from(client, other, Method::Refresh, {}, at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 441, other);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::WrongCredentials), 1u);
  // The allocation is still the owner's.
  out = call(Method::Refresh, {}, at(2));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
}

// The portal rotates a client's credentials: a new username with the same
// salt and a later expiry, used on the same socket. The salt is the owner.
TEST_F(ServerTest, RotatedCredentialsGet437OnAllocateDeleteWithRefreshZeroAndThenAllocateAgain) {
  const CreateAllocation first = created(allocate(at(0)));
  Credentials rotated = portal_credentials(kUnixAtBoot + 2 * 86400, "fixture_salt");
  auto out = call_from(client, rotated, Method::Allocate, udp(), at(10));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 437, rotated);

  out = feed(request(Method::Refresh, txid(80), [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(0)); },
                     &rotated),
             at(11));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(std::get<FreeAllocation>(out[0]), FreeAllocation{first.port});
  expect_signed_success(out[1], rotated);
  EXPECT_EQ(response_of(out[1])->lifetime(), std::chrono::seconds(0));
  EXPECT_EQ(server().allocation_count(), 0u);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::WrongCredentials), 0u);

  out = feed(request(Method::Allocate, txid(81), udp(), &rotated), at(12));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(created(out).client, five_tuple());
  EXPECT_NE(created(out).port, first.port);  // the old one is held (RFC 8656 §12)
  expect_signed_success(out[1], rotated);
}

TEST_F(ServerTest, AfterRotationBothUsernamesOfTheSaltRefreshUntilTheOldOneExpires) {
  creds = portal_credentials(kUnixAtBoot + 100, "fixture_salt");
  Credentials rotated = portal_credentials(kUnixAtBoot + 3600, "fixture_salt");
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto out = call_from(client, rotated, Method::Refresh, {}, at(50));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], rotated);
  out = feed(request(Method::Refresh, txid(90), {}, &creds), at(60));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], creds);
  out = feed(request(Method::Refresh, txid(91), {}, &rotated), at(70));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], rotated);
  // kUnixAtBoot + 100 < kUnixAtBoot + 101: the old username has expired.
  out = feed(request(Method::Refresh, txid(92), {}, &creds), at(101));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 401, creds);
  out = feed(request(Method::Refresh, txid(93), {}, &rotated), at(102));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], rotated);
  EXPECT_EQ(server().stats().auth_failure(AuthFailure::WrongCredentials), 0u);
}

TEST_F(ServerTest, UsernamesWithTheSameSaltShareOneAllocationQuota) {
  config.quotas.allocations_per_user = 1;
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  Credentials rotated = portal_credentials(kUnixAtBoot + 2 * 86400, "fixture_salt");
  auto out = call_from(ClientSocket{addr("198.51.100.10:40001")}, rotated, Method::Allocate, udp(), at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_signed_error(out[0], 486, rotated);
  Credentials other = portal_credentials(kUnixAtBoot + 2 * 86400, "other_salt");
  out = call_from(ClientSocket{addr("198.51.100.10:40002")}, other, Method::Allocate, udp(), at(2));
  ASSERT_EQ(out.size(), 2u);
  expect_signed_success(out[1], other);
}

TEST_F(ServerTest, RefreshAskingForAFamilyTheAllocationLacksGets443) {
  ASSERT_EQ(allocate(at(0)).size(), 2u);
  auto out = call(Method::Refresh, [](stun::Builder& b) { b.add_requested_address_family(Family::V6); }, at(1));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 443);
}

}  // namespace
}  // namespace relay::core::testing
