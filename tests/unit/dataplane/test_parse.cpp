// Parsing received frames: what is accepted, and the counted reason for
// everything that is not.
#include <gtest/gtest.h>

#include "dataplane/parse.hpp"
#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

const SocketAddress kClient = *SocketAddress::parse("198.51.100.10:40000");
const SocketAddress kListen = *SocketAddress::parse("203.0.113.1:3478");
const SocketAddress kClient6 = *SocketAddress::parse("[2001:db8:2::10]:40000");
const SocketAddress kListen6 = *SocketAddress::parse("[2001:db8:1::1]:3478");
const Eth kToUs{kSenderMac, kOurMac, std::nullopt};

class Parse : public ::testing::Test {
 protected:
  LocalIdentity me = LocalIdentity::from(test_config());
  Result<ParsedFrame, Counter> parse(const std::vector<uint8_t>& f, uint64_t flags = 0) {
    return parse_frame(f, me, flags);
  }
  Counter udp_error(const std::vector<uint8_t>& f, uint64_t flags = 0) {
    auto p = parse(f, flags);
    if (!p) return p.error();
    auto u = parse_udp(f, *p, flags);
    return u ? Counter::RxPackets : u.error();
  }
};

TEST_F(Parse, Ipv4UdpToOurAddressYieldsOffsetsAndPorts) {
  const auto f = udp_frame(kToUs, kClient, kListen, bytes_of("payload"));
  auto p = parse(f);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->l3_kind, L3::Ipv4);
  EXPECT_EQ(p->l4, 34);
  auto u = parse_udp(f, *p, 0);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->src_port, 40000);
  EXPECT_EQ(u->dst_port, 3478);
  EXPECT_EQ(u->payload, 42);
  EXPECT_EQ(u->payload_len, 7);
}

TEST_F(Parse, Ipv4HeaderOptionsMoveTheUdpHeader) {
  auto f = ethernet(kToUs, 0x0800);
  const auto ipp = ip_packet(kClient.ip, kListen.ip, 17, udp_datagram(kClient, kListen, bytes_of("x")),
                             {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
  f.insert(f.end(), ipp.begin(), ipp.end());
  auto p = parse(f);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->l4, 14 + 24);
  EXPECT_TRUE(parse_udp(f, *p, 0));
}

TEST_F(Parse, EthernetPaddingAfterTheIpPacketIsIgnored) {
  auto f = udp_frame(kToUs, kClient, kListen, bytes_of("x"));
  f.resize(60, 0);
  auto p = parse(f);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->end(), 14 + 20 + 8 + 1);
  EXPECT_TRUE(parse_udp(f, *p, 0));
}

TEST_F(Parse, VlanTaggedFrameIsAcceptedOnlyWithTheConfiguredTag) {
  auto c = test_config();
  c.vlan = 100;
  const LocalIdentity tagged = LocalIdentity::from(c);
  const auto f = udp_frame(Eth{kSenderMac, kOurMac, 100}, kClient, kListen, bytes_of("x"));
  auto p = parse_frame(f, tagged, 0);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->l3, 18);
  EXPECT_EQ(parse_frame(f, me, 0).error(), Counter::DropWrongVlan);
  EXPECT_EQ(parse_frame(udp_frame(Eth{kSenderMac, kOurMac, 200}, kClient, kListen, bytes_of("x")), tagged, 0).error(),
            Counter::DropWrongVlan);
}

TEST_F(Parse, FramesForOtherMacsOrAddressesAreNotOurs) {
  EXPECT_EQ(parse(udp_frame(Eth{kSenderMac, {0x02, 9, 9, 9, 9, 9}, std::nullopt}, kClient, kListen, {})).error(),
            Counter::DropNotForUs);
  EXPECT_EQ(parse(udp_frame(kToUs, kClient, sock("203.0.113.2:3478"), {})).error(), Counter::DropNotForUs);
  EXPECT_EQ(parse(udp_frame(kToUs, kClient6, sock("[2001:db8:1::2]:3478"), {})).error(), Counter::DropNotForUs);
}

TEST_F(Parse, Ipv4FragmentsAreDropped) {
  auto f = udp_frame(kToUs, kClient, kListen, bytes_of("first fragment"));
  f[14 + 6] = 0x20;  // More Fragments
  f[14 + 10] = f[14 + 11] = 0;
  const auto c = rfc1071(std::span(f).subspan(14, 20));
  f[24] = static_cast<uint8_t>(c >> 8);
  f[25] = static_cast<uint8_t>(c);
  EXPECT_EQ(parse(f).error(), Counter::DropIpFragment);
}

TEST_F(Parse, Ipv6ExtensionHeadersAreDropped) {
  auto f = udp_frame(kToUs, kClient6, kListen6, bytes_of("x"));
  f[14 + 6] = 0;  // Hop-by-Hop options
  EXPECT_EQ(parse(f).error(), Counter::DropIpv6ExtensionHeader);
  f[14 + 6] = 44;  // Fragment header
  EXPECT_EQ(parse(f).error(), Counter::DropIpv6ExtensionHeader);
}

TEST_F(Parse, BadIpv4HeaderChecksumIsDroppedUnlessTheNicSaysGood) {
  auto f = udp_frame(kToUs, kClient, kListen, bytes_of("x"));
  f[14 + 10] ^= 0xFF;
  EXPECT_EQ(parse(f).error(), Counter::DropBadIpChecksum);
  EXPECT_TRUE(parse(f, RTE_MBUF_F_RX_IP_CKSUM_GOOD));
  EXPECT_EQ(parse(udp_frame(kToUs, kClient, kListen, {}), RTE_MBUF_F_RX_IP_CKSUM_BAD).error(),
            Counter::DropBadIpChecksum);
}

TEST_F(Parse, BadUdpChecksumIsDroppedUnlessTheNicSaysGood) {
  auto f = udp_frame(kToUs, kClient, kListen, bytes_of("payload"));
  f.back() ^= 0x01;
  EXPECT_EQ(udp_error(f), Counter::DropBadUdpChecksum);
  EXPECT_EQ(udp_error(f, RTE_MBUF_F_RX_L4_CKSUM_GOOD), Counter::RxPackets);
  auto f6 = udp_frame(kToUs, kClient6, kListen6, bytes_of("payload"));
  f6.back() ^= 0x01;
  EXPECT_EQ(udp_error(f6), Counter::DropBadUdpChecksum);
}

TEST_F(Parse, ZeroUdpChecksumMeansNoneOverIpv4ButIsInvalidOverIpv6) {
  auto f = udp_frame(kToUs, kClient, kListen, bytes_of("payload"));
  f[14 + 20 + 6] = f[14 + 20 + 7] = 0;
  EXPECT_EQ(udp_error(f), Counter::RxPackets);
  auto f6 = udp_frame(kToUs, kClient6, kListen6, bytes_of("payload"));
  f6[14 + 40 + 6] = f6[14 + 40 + 7] = 0;
  EXPECT_EQ(udp_error(f6), Counter::DropBadUdpChecksum);  // RFC 8200 §8.1
}

TEST_F(Parse, UdpLengthMustMatchTheIpPayload) {
  auto f = udp_frame(kToUs, kClient, kListen, bytes_of("payload"));
  f[14 + 20 + 5] += 1;
  EXPECT_EQ(udp_error(f, RTE_MBUF_F_RX_L4_CKSUM_GOOD), Counter::DropBadUdpLength);
}

TEST_F(Parse, EveryTruncationOfAValidFrameIsATypedError) {
  for (const auto& full : {udp_frame(kToUs, kClient, kListen, bytes_of("payload")),
                           udp_frame(kToUs, kClient6, kListen6, bytes_of("payload"))}) {
    for (size_t len = 0; len < full.size(); ++len) {
      const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
      EXPECT_NE(udp_error(cut), Counter::RxPackets) << "length " << len;
    }
  }
}

TEST_F(Parse, DatagramsFromAddressesNothingMaySendFromAreBogus) {
  for (const char* source : {"0.0.0.0", "0.1.2.3", "127.0.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1",
                             "255.255.255.255", "203.0.113.255" /* our subnet's broadcast */,
                             "203.0.113.1" /* ours */}) {
    const auto f = udp_frame(kToUs, SocketAddress{ip(source), 40000}, kListen, bytes_of("payload"));
    EXPECT_EQ(udp_error(f), Counter::DropBogusSource) << source;
  }
  for (const char* source : {"::", "::1", "ff02::1", "ff05::1:3", "::ffff:198.51.100.10", "::198.51.100.10",
                             "2001:db8:1::1" /* ours */}) {
    const auto f = udp_frame(kToUs, SocketAddress{ip(source), 40000}, kListen6, bytes_of("payload"));
    EXPECT_EQ(udp_error(f), Counter::DropBogusSource) << source;
  }
  // Our neighbours on the link are fine.
  EXPECT_EQ(udp_error(udp_frame(kToUs, SocketAddress{ip("203.0.113.7"), 1}, kListen, bytes_of("x"))), Counter::RxPackets);
  EXPECT_EQ(udp_error(udp_frame(kToUs, SocketAddress{ip("2001:db8:1::7"), 1}, kListen6, bytes_of("x"))),
            Counter::RxPackets);
}

TEST_F(Parse, AFrameFromAGroupMacIsBogus) {
  const auto f = udp_frame(Eth{{0x01, 0x00, 0x5E, 0, 0, 1}, kOurMac, std::nullopt}, kClient, kListen, bytes_of("x"));
  EXPECT_EQ(parse(f).error(), Counter::DropBogusSource);
}

TEST_F(Parse, OnlyADuplicateAddressDetectionProbeMayComeFromTheUnspecifiedAddress) {
  std::vector<uint8_t> ns = {135, 0, 0, 0, 0, 0, 0, 0};
  const auto target = ip("2001:db8:1::1");
  ns.insert(ns.end(), target.bytes.begin(), target.bytes.end());
  auto f = ethernet(Eth{kSenderMac, {0x33, 0x33, 0xFF, 0x00, 0x00, 0x01}, std::nullopt}, 0x86DD);
  const auto probe = ip_packet(ip("::"), ip("ff02::1:ff00:1"), 58, ns);
  f.insert(f.end(), probe.begin(), probe.end());
  EXPECT_TRUE(parse(f));

  std::vector<uint8_t> echo = {128, 0, 0, 0, 0, 1, 0, 1};
  auto g = ethernet(kToUs, 0x86DD);
  const auto ping = ip_packet(ip("::"), ip("2001:db8:1::1"), 58, echo);
  g.insert(g.end(), ping.begin(), ping.end());
  EXPECT_EQ(parse(g).error(), Counter::DropBogusSource);
}

TEST_F(Parse, UnknownEthertypeIsCounted) {
  auto f = ethernet(kToUs, 0x88CC);  // LLDP
  f.resize(60);
  EXPECT_EQ(parse(f).error(), Counter::DropUnknownEthertype);
}

}  // namespace
}  // namespace relay::dataplane::testing
