#include <gtest/gtest.h>

#include "common/net_types.hpp"

using namespace relay;

TEST(IpAddress, ParsesBothFamiliesAndPrintsThemBack) {
  auto v4 = IpAddress::parse("198.51.100.1");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->to_string(), "198.51.100.1");
  auto v6 = IpAddress::parse("2001:db8:100::1");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->is_v6());
  EXPECT_EQ(v6->to_string(), "2001:db8:100::1");
  EXPECT_FALSE(IpAddress::parse(""));
  EXPECT_FALSE(IpAddress::parse("198.51.100"));
  EXPECT_FALSE(IpAddress::parse("not an address at all, and far too long for any"));
}

TEST(SocketAddress, NeedsBracketsAroundIpv6) {
  EXPECT_EQ(SocketAddress::parse("198.51.100.1:3478")->to_string(), "198.51.100.1:3478");
  EXPECT_EQ(SocketAddress::parse("[2001:db8::1]:3478")->to_string(), "[2001:db8::1]:3478");
  EXPECT_FALSE(SocketAddress::parse("2001:db8::1:3478"));
  EXPECT_FALSE(SocketAddress::parse("198.51.100.1:65536"));
  EXPECT_FALSE(SocketAddress::parse("198.51.100.1:"));
  EXPECT_FALSE(SocketAddress::parse("[2001:db8::1]3478"));
}

TEST(Cidr, ContainsOnlyItsOwnFamilyAndPrefix) {
  auto net = Cidr::parse("100.64.0.0/10");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(*IpAddress::parse("100.127.255.255")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("100.128.0.0")));
  EXPECT_FALSE(net->contains(*IpAddress::parse("::ffff:100.64.0.1")));
  auto ula = Cidr::parse("fc00::/7");
  EXPECT_TRUE(ula->contains(*IpAddress::parse("fd12::1")));
  EXPECT_FALSE(ula->contains(*IpAddress::parse("fe00::1")));
  EXPECT_EQ(Cidr::parse("192.0.2.77/24")->to_string(), "192.0.2.0/24");
  EXPECT_EQ(Cidr::parse("192.0.2.1")->prefix_len, 32);
  EXPECT_FALSE(Cidr::parse("192.0.2.0/33"));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/"));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*IpAddress::parse("203.0.113.9")));
}
