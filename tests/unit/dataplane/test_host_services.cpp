// The relay as a host on its link: ARP, Neighbour Discovery and echo.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

std::vector<uint8_t> arp(uint16_t op, const MacAddress& sha, const IpAddress& spa, const IpAddress& tpa,
                         const MacAddress& dst) {
  auto f = ethernet(Eth{sha, dst, std::nullopt}, 0x0806);
  put16(f, 1);
  put16(f, 0x0800);
  f.push_back(6);
  f.push_back(4);
  put16(f, op);
  f.insert(f.end(), sha.begin(), sha.end());
  f.insert(f.end(), spa.bytes.begin(), spa.bytes.begin() + 4);
  f.insert(f.end(), 6, 0);
  f.insert(f.end(), tpa.bytes.begin(), tpa.bytes.begin() + 4);
  f.resize(60, 0);
  return f;
}

std::vector<uint8_t> icmpv6(const IpAddress& src, const IpAddress& dst, std::vector<uint8_t> body,
                            const MacAddress& dst_mac) {
  uint16_t c = rfc1071(body, pseudo_sum(src, dst, 58, static_cast<uint32_t>(body.size())));
  body[2] = static_cast<uint8_t>(c >> 8);
  body[3] = static_cast<uint8_t>(c);
  auto f = ethernet(Eth{kSenderMac, dst_mac, std::nullopt}, 0x86DD);
  const auto p = ip_packet(src, dst, 58, body);
  f.insert(f.end(), p.begin(), p.end());
  return f;
}

TEST_F(WorkerTest, ArpRequestForTheRelayAddressIsAnsweredInPlaceAndTheSenderLearned) {
  const MacAddress broadcast = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  FakeMbuf m(arp(1, kSenderMac, ip("203.0.113.7"), ip("203.0.113.1"), broadcast));

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(kSenderMac.begin(), kSenderMac.end()));
  EXPECT_EQ(f[21], 2);  // reply
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 22, f.begin() + 28), std::vector<uint8_t>(kOurMac.begin(), kOurMac.end()));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 28, f.begin() + 32), std::vector<uint8_t>({203, 0, 113, 1}));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 38, f.begin() + 42), std::vector<uint8_t>({203, 0, 113, 7}));
  EXPECT_EQ(count(Counter::ArpReplies), 1u);
  const uint8_t* mac = worker->neighbours().resolve(Family::V4, ip("203.0.113.7").bytes.data(), now).mac;
  ASSERT_NE(mac, nullptr);
  EXPECT_EQ(std::memcmp(mac, kSenderMac.data(), 6), 0);
}

TEST_F(WorkerTest, ArpReplyToAShortRequestIsPaddedWithZerosNotWithWhatTheMbufHeldBefore) {
  FakeMbuf m(std::vector<uint8_t>(200, 0xEE));  // an earlier packet's bytes
  auto request = arp(1, kSenderMac, ip("203.0.113.7"), ip("203.0.113.1"), {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  request.resize(42);  // unpadded, as some vdevs deliver it
  m.load(request);

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  ASSERT_EQ(f.size(), 60u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 42, f.end()), std::vector<uint8_t>(18, 0));
}

TEST_F(WorkerTest, ArpReplyDoesNotEchoTheRequestsPadding) {
  auto request = arp(1, kSenderMac, ip("203.0.113.7"), ip("203.0.113.1"), {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  std::fill(request.begin() + 42, request.end(), 0xEE);
  request.resize(64, 0xEE);  // a trailer too
  FakeMbuf m(request);

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  ASSERT_EQ(f.size(), 60u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 42, f.end()), std::vector<uint8_t>(18, 0));
}

TEST_F(WorkerTest, EchoReplyShorterThanTheEthernetMinimumIsPaddedWithZeros) {
  std::vector<uint8_t> echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
  const uint16_t c = rfc1071(echo);
  echo[2] = static_cast<uint8_t>(c >> 8);
  echo[3] = static_cast<uint8_t>(c);
  auto frame = ethernet(Eth{kGatewayMac, kOurMac, std::nullopt}, 0x0800);
  const auto p = ip_packet(ip("198.51.100.10"), ip("203.0.113.1"), 1, echo);
  frame.insert(frame.end(), p.begin(), p.end());
  frame.resize(60, 0xEE);  // the request's padding
  FakeMbuf m(frame);

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  ASSERT_EQ(f.size(), 60u);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 42, f.end()), std::vector<uint8_t>(18, 0));
  EXPECT_EQ(rfc1071(std::span(f).subspan(34, 8)), 0);
}

TEST_F(WorkerTest, NothingIsAnsweredToABogusSource) {
  std::vector<uint8_t> echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
  const uint16_t c = rfc1071(echo);
  echo[2] = static_cast<uint8_t>(c >> 8);
  echo[3] = static_cast<uint8_t>(c);
  auto ping = ethernet(Eth{kGatewayMac, kOurMac, std::nullopt}, 0x0800);
  const auto p = ip_packet(ip("127.0.0.1"), ip("203.0.113.1"), 1, echo);
  ping.insert(ping.end(), p.begin(), p.end());
  FakeMbuf m(ping);
  EXPECT_EQ(run(m), Next::Free);

  // A STUN Binding request from a multicast "client" never reaches the control plane.
  std::vector<uint8_t> binding = {0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42};
  binding.resize(20, 7);
  FakeMbuf stun(udp_frame(Eth{kGatewayMac, kOurMac, std::nullopt}, sock("224.0.0.251:5353"), sock("203.0.113.1:3478"),
                          binding));
  EXPECT_EQ(run(stun), Next::Free);

  FakeMbuf echo6(icmpv6(ip("::ffff:198.51.100.10"), ip("2001:db8:1::1"), {128, 0, 0, 0, 0, 1, 0, 1}, kOurMac));
  EXPECT_EQ(run(echo6), Next::Free);

  EXPECT_EQ(count(Counter::DropBogusSource), 3u);
  EXPECT_EQ(count(Counter::EchoReplies), 0u);
  EXPECT_EQ(count(Counter::ToControlPlane), 0u);
}

TEST_F(WorkerTest, ArpFromABogusSenderIsNeitherAnsweredNorLearnt) {
  const MacAddress broadcast = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  for (const char* sender : {"127.0.0.1", "224.0.0.5", "203.0.113.255", "203.0.113.1"}) {
    FakeMbuf m(arp(1, kSenderMac, ip(sender), ip("203.0.113.1"), broadcast));
    EXPECT_EQ(run(m), Next::Free) << sender;
  }
  // A group or all-zero sender hardware address, from an on-link address.
  const MacAddress group = {0x01, 0x00, 0x5E, 0, 0, 7};
  auto from_group = arp(1, group, ip("203.0.113.7"), ip("203.0.113.1"), broadcast);
  std::copy(kSenderMac.begin(), kSenderMac.end(), from_group.begin() + 6);  // the Ethernet source is fine
  FakeMbuf m1(from_group);
  EXPECT_EQ(run(m1), Next::Free);
  FakeMbuf m2(arp(2, MacAddress{}, ip("203.0.113.7"), ip("203.0.113.1"), kOurMac));
  EXPECT_EQ(run(m2), Next::Free);

  EXPECT_EQ(count(Counter::DropBogusSource), 6u);
  EXPECT_EQ(count(Counter::ArpReplies), 0u);
  EXPECT_EQ(worker->neighbours().resolve(Family::V4, ip("203.0.113.7").bytes.data(), now).mac, nullptr);
}

TEST_F(WorkerTest, AnArpProbeForOurAddressIsAnsweredSoTheProberSeesItTaken) {
  // RFC 5227 §2.1.1: sender IP 0.0.0.0, target the address being probed.
  FakeMbuf m(arp(1, kSenderMac, ip("0.0.0.0"), ip("203.0.113.1"), {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(kSenderMac.begin(), kSenderMac.end()));
  EXPECT_EQ(f[21], 2);  // reply
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 28, f.begin() + 32), std::vector<uint8_t>({203, 0, 113, 1}));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 38, f.begin() + 42), std::vector<uint8_t>({0, 0, 0, 0}));
  EXPECT_EQ(count(Counter::ArpReplies), 1u);
}

TEST_F(WorkerTest, ArpRequestForAnotherAddressIsNotOurs) {
  FakeMbuf m(arp(1, kSenderMac, ip("203.0.113.7"), ip("203.0.113.2"), {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropNotForUs), 1u);
}

TEST_F(WorkerTest, NeighbourSolicitationForTheRelayAddressIsAnsweredWithAnAdvertisement) {
  std::vector<uint8_t> ns = {135, 0, 0, 0, 0, 0, 0, 0};
  const auto target = ip("2001:db8:1::1");
  ns.insert(ns.end(), target.bytes.begin(), target.bytes.end());
  ns.insert(ns.end(), {1, 1});
  ns.insert(ns.end(), kSenderMac.begin(), kSenderMac.end());
  FakeMbuf m(icmpv6(ip("2001:db8:1::7"), ip("ff02::1:ff00:1"), ns, {0x33, 0x33, 0xFF, 0x00, 0x00, 0x01}));

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  ASSERT_EQ(f.size(), 14u + 40 + 32);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(kSenderMac.begin(), kSenderMac.end()));
  EXPECT_EQ(f[14 + 7], 255);
  EXPECT_EQ(f[54], 136);
  EXPECT_EQ(f[58], 0x60);  // Solicited, Override
  EXPECT_EQ(rfc1071(std::span(f).subspan(54), pseudo_sum(ip("2001:db8:1::1"), ip("2001:db8:1::7"), 58, 32)), 0);
  EXPECT_EQ(count(Counter::NeighbourAdvertisements), 1u);
}

TEST_F(WorkerTest, AnArpReplyNobodyAskedForIsConsumedAndTeachesNothing) {
  FakeMbuf m(arp(2, kSenderMac, ip("203.0.113.7"), ip("203.0.113.1"), kOurMac));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::NeighbourUpdatesConsumed), 1u);
  EXPECT_EQ(worker->neighbours().resolve(Family::V4, ip("203.0.113.7").bytes.data(), now).mac, nullptr);
}

TEST_F(WorkerTest, TheReplyToOurArpRequestLetsTheNextPacketThrough) {
  const SocketAddress on_link_peer = sock("203.0.113.50:5000");
  const SocketAddress client = sock("198.51.100.10:40000");
  const SocketAddress listen = sock("203.0.113.1:3478");
  allocate(50000, client);
  bind(50000, client, 0x4001, on_link_peer);
  FakeMbuf first(udp_frame(from_gateway(Family::V4), client, listen, channel_data(0x4001, bytes_of("a"))));
  ASSERT_EQ(run(first), Next::Tx);  // became the ARP request
  EXPECT_EQ(count(Counter::ArpRequestsSent), 1u);

  FakeMbuf answer(arp(2, kSenderMac, on_link_peer.ip, ip("203.0.113.1"), kOurMac));
  EXPECT_EQ(run(answer), Next::Free);
  FakeMbuf second(udp_frame(from_gateway(Family::V4), client, listen, channel_data(0x4001, bytes_of("b"))));

  ASSERT_EQ(run(second), Next::Tx);
  const auto out = read_udp_frame(second.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->dst_mac, kSenderMac);
  EXPECT_EQ(count(Counter::ClientToPeer), 1u);
}

TEST_F(WorkerTest, DatagramsFromAnOnLinkHostNeverTeachItsMac) {
  FakeMbuf m(udp_frame(Eth{kSenderMac, kOurMac, std::nullopt}, sock("203.0.113.7:4000"), sock("203.0.113.1:3478"),
                       bytes_of("not stun")));
  run(m);
  EXPECT_EQ(worker->neighbours().resolve(Family::V4, ip("203.0.113.7").bytes.data(), now).mac, nullptr);
}

TEST_F(WorkerTest, NeighbourSolicitationWithoutASourceLinkLayerOptionIsAnsweredButTeachesNothing) {
  std::vector<uint8_t> ns = {135, 0, 0, 0, 0, 0, 0, 0};
  const auto target = ip("2001:db8:1::1");
  ns.insert(ns.end(), target.bytes.begin(), target.bytes.end());
  FakeMbuf m(icmpv6(ip("2001:db8:1::7"), ip("2001:db8:1::1"), ns, kOurMac));

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(kSenderMac.begin(), kSenderMac.end()));
  EXPECT_EQ(worker->neighbours().resolve(Family::V6, ip("2001:db8:1::7").bytes.data(), now).mac, nullptr);
}

TEST_F(WorkerTest, ADuplicateAddressDetectionProbeForOurAddressIsAnsweredToAllNodes) {
  // RFC 4862 §5.4.3 / RFC 4861 §7.2.4: source ::, no link-layer option.
  std::vector<uint8_t> ns = {135, 0, 0, 0, 0, 0, 0, 0};
  const auto target = ip("2001:db8:1::1");
  ns.insert(ns.end(), target.bytes.begin(), target.bytes.end());
  FakeMbuf m(icmpv6(ip("::"), ip("ff02::1:ff00:1"), ns, {0x33, 0x33, 0xFF, 0x00, 0x00, 0x01}));

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  ASSERT_EQ(f.size(), 14u + 40 + 32);
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>({0x33, 0x33, 0, 0, 0, 0x01}));
  const auto all_nodes = ip("ff02::1");
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 38, f.begin() + 54),
            std::vector<uint8_t>(all_nodes.bytes.begin(), all_nodes.bytes.end()));
  EXPECT_EQ(f[54], 136);
  EXPECT_EQ(f[58], 0x20);  // Override, not Solicited
  EXPECT_EQ(rfc1071(std::span(f).subspan(54), pseudo_sum(ip("2001:db8:1::1"), ip("ff02::1"), 58, 32)), 0);
}

TEST_F(WorkerTest, EchoRequestToTheRelayAddressIsAnsweredWithinTheRateLimit) {
  std::vector<uint8_t> echo = {8, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  const uint16_t c = rfc1071(echo);
  echo[2] = static_cast<uint8_t>(c >> 8);
  echo[3] = static_cast<uint8_t>(c);
  auto frame = ethernet(Eth{kGatewayMac, kOurMac, std::nullopt}, 0x0800);
  const auto p = ip_packet(ip("198.51.100.10"), ip("203.0.113.1"), 1, echo);
  frame.insert(frame.end(), p.begin(), p.end());
  FakeMbuf m(frame);

  ASSERT_EQ(run(m), Next::Tx);

  const auto f = m.bytes();
  EXPECT_EQ(f[34], 0);  // echo reply
  EXPECT_EQ(rfc1071(std::span(f).subspan(34)), 0);
  EXPECT_EQ(rfc1071(std::span(f).subspan(14, 20)), 0);
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 30, f.begin() + 34), std::vector<uint8_t>({198, 51, 100, 10}));
  for (int i = 0; i < 200; ++i) {
    FakeMbuf again(frame);
    run(again);
  }
  EXPECT_EQ(count(Counter::EchoReplies), 100u);  // InterfaceConfig::echo_replies_per_second
  EXPECT_EQ(count(Counter::DropEchoRateLimited), 101u);
}

TEST_F(WorkerTest, Icmpv6EchoRequestIsAnswered) {
  std::vector<uint8_t> echo = {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'};
  FakeMbuf m(icmpv6(ip("2001:db8:2::10"), ip("2001:db8:1::1"), echo, kOurMac));
  ASSERT_EQ(run(m), Next::Tx);
  const auto f = m.bytes();
  EXPECT_EQ(f[54], 129);
  EXPECT_EQ(rfc1071(std::span(f).subspan(54), pseudo_sum(ip("2001:db8:1::1"), ip("2001:db8:2::10"), 58, 12)), 0);
}

}  // namespace
}  // namespace relay::dataplane::testing
