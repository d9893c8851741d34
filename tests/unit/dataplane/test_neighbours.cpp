// The neighbour table's rules (dataplane/neighbours.hpp): where a MAC may
// come from, and how pending entries are bounded and evicted.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include "dataplane/neighbours.hpp"
#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

constexpr uint64_t kHz = 1'000'000'000;  // TSC ticks are ns
constexpr uint64_t kSecond = kHz;
constexpr MacAddress kOther = {0x02, 0, 0, 0, 0, 0x88};

class NeighboursTest : public ::testing::Test {
 protected:
  uint64_t now = 1'000'000'000'000;
  Neighbours table{test_config(), kHz};

  // The MAC `address` resolves to now, or nullopt.
  std::optional<MacAddress> mac_of(const char* address) {
    const IpAddress a = ip(address);
    const uint8_t* mac = table.resolve(a.family, a.bytes.data(), now).mac;
    if (mac == nullptr) return std::nullopt;
    MacAddress m;
    std::memcpy(m.data(), mac, 6);
    return m;
  }
  bool solicit(const char* address) {
    const IpAddress a = ip(address);
    NextHop hop{a.family, {}};
    std::memcpy(hop.ip, a.bytes.data(), a.size());
    return table.may_solicit(hop, now);
  }
  bool reply(const char* address, const MacAddress& mac) {
    return table.learn_from_reply(ip(address).family, ip(address).bytes.data(), mac.data(), now);
  }
  bool learn(const char* address, const MacAddress& mac) {
    return table.learn(ip(address).family, ip(address).bytes.data(), mac.data(), now);
  }
  void confirm(const char* address, const MacAddress& mac) {
    table.confirm(ip(address).family, ip(address).bytes.data(), mac.data(), now);
  }
};

TEST_F(NeighboursTest, AnUnresolvedDestinationNamesTheHopToSolicitOnLinkItselfOffLinkTheGateway) {
  const Resolution on_link = table.resolve(Family::V4, ip("203.0.113.9").bytes.data(), now);
  EXPECT_EQ(on_link.mac, nullptr);
  ASSERT_TRUE(on_link.solicit);
  EXPECT_EQ(on_link.solicit->family, Family::V4);
  EXPECT_EQ(std::memcmp(on_link.solicit->ip, ip("203.0.113.9").bytes.data(), 16), 0);

  const Resolution off_link = table.resolve(Family::V6, ip("2001:db8:9::9").bytes.data(), now);
  EXPECT_EQ(off_link.mac, nullptr);
  ASSERT_TRUE(off_link.solicit);
  EXPECT_EQ(off_link.solicit->family, Family::V6);
  EXPECT_EQ(std::memcmp(off_link.solicit->ip, ip("2001:db8:1::fe").bytes.data(), 16), 0);
}

TEST(Neighbours, AnOffLinkDestinationWithoutAGatewayHasNoRouteAndNobodyToSolicit) {
  InterfaceConfig c = test_config();
  c.ipv4->gateway.reset();
  Neighbours table(c, kHz);
  const Resolution r = table.resolve(Family::V4, ip("192.0.2.20").bytes.data(), 1);
  EXPECT_EQ(r.mac, nullptr);
  EXPECT_FALSE(r.solicit);
}

TEST_F(NeighboursTest, AReplyNobodyAskedForTeachesNothing) {
  EXPECT_FALSE(reply("203.0.113.9", kSenderMac));
  EXPECT_FALSE(reply("2001:db8:1::9", kSenderMac));
  EXPECT_EQ(mac_of("203.0.113.9"), std::nullopt);
  EXPECT_EQ(mac_of("2001:db8:1::9"), std::nullopt);
}

TEST_F(NeighboursTest, AReplyFillsTheEntryWeSolicited) {
  ASSERT_TRUE(solicit("203.0.113.9"));
  now += kSecond / 10;
  EXPECT_TRUE(reply("203.0.113.9", kSenderMac));
  EXPECT_EQ(mac_of("203.0.113.9"), kSenderMac);
}

TEST_F(NeighboursTest, AReplyUpdatesAKnownNeighbourAndTheGatewayAlwaysMayAnnounceItself) {
  ASSERT_TRUE(learn("203.0.113.9", kSenderMac));
  EXPECT_TRUE(reply("203.0.113.9", kOther));  // a failover's gratuitous ARP
  EXPECT_EQ(mac_of("203.0.113.9"), kOther);

  EXPECT_TRUE(reply("203.0.113.254", kGatewayMac));  // configured: no request needed
  EXPECT_EQ(mac_of("192.0.2.20"), kGatewayMac);     // off-link, through it
}

TEST_F(NeighboursTest, ReceivedFramesKeepAnEntryAliveButNeverCreateOrChangeOne) {
  confirm("203.0.113.9", kSenderMac);
  EXPECT_EQ(mac_of("203.0.113.9"), std::nullopt);

  ASSERT_TRUE(learn("203.0.113.9", kSenderMac));
  now += 200 * kSecond;
  confirm("203.0.113.9", kSenderMac);
  confirm("203.0.113.9", kOther);  // spoofed
  now += 200 * kSecond;           // past the first lifetime, within the refreshed one
  EXPECT_EQ(mac_of("203.0.113.9"), kSenderMac);
  now += (kNeighbourLifetimeSeconds - 200 + 1) * kSecond;
  EXPECT_EQ(mac_of("203.0.113.9"), std::nullopt);
}

TEST_F(NeighboursTest, GroupAndZeroMacsAreNeverLearnt) {
  EXPECT_FALSE(learn("203.0.113.9", {0x01, 0x00, 0x5E, 0, 0, 9}));
  EXPECT_FALSE(learn("203.0.113.9", {}));
  EXPECT_EQ(mac_of("203.0.113.9"), std::nullopt);
}

TEST_F(NeighboursTest, AtMostAQuarterOfTheTableIsPendingAndPendingEntriesAgeOut) {
  // neighbour_capacity 64 in test_config(): 16 pending entries at most.
  ASSERT_TRUE(learn("203.0.113.2", kSenderMac));
  char address[32];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(address, sizeof address, "203.0.113.%d", 100 + i);
    EXPECT_TRUE(solicit(address)) << address;
  }
  EXPECT_FALSE(solicit("203.0.113.200"));
  EXPECT_FALSE(solicit("2001:db8:1::200"));

  // Unanswered for kPendingLifetimeSeconds: evicted to make room.
  now += (kPendingLifetimeSeconds + 1) * kSecond;
  EXPECT_TRUE(solicit("203.0.113.200"));
  EXPECT_TRUE(solicit("2001:db8:1::200"));
  EXPECT_EQ(mac_of("203.0.113.2"), kSenderMac);  // resolved entries were never at risk
  // An evicted request is a new one: its address may be asked again at once.
  EXPECT_TRUE(solicit("203.0.113.100"));
}

TEST_F(NeighboursTest, ARequestKeepsItsEntryPendingWhileItIsRepeated) {
  ASSERT_TRUE(solicit("203.0.113.9"));
  EXPECT_FALSE(solicit("203.0.113.9"));  // once a second
  for (int i = 0; i < 5; ++i) {
    now += kSecond;
    EXPECT_TRUE(solicit("203.0.113.9"));
  }
  EXPECT_TRUE(reply("203.0.113.9", kSenderMac));  // still the entry we asked for
  EXPECT_EQ(mac_of("203.0.113.9"), kSenderMac);
}

TEST_F(NeighboursTest, AFullTableMakesRoomByEvictingExpiredEntries) {
  InterfaceConfig c = test_config();
  c.neighbour_capacity = 4;
  Neighbours small(c, kHz);
  for (uint8_t i = 1; i <= 4; ++i) {
    const uint8_t a[4] = {203, 0, 113, static_cast<uint8_t>(10 + i)};
    ASSERT_TRUE(small.learn(Family::V4, a, kSenderMac.data(), now));
  }
  const uint8_t fifth[4] = {203, 0, 113, 20};
  EXPECT_FALSE(small.learn(Family::V4, fifth, kSenderMac.data(), now));
  now += (kNeighbourLifetimeSeconds + 1) * kSecond;
  EXPECT_TRUE(small.learn(Family::V4, fifth, kSenderMac.data(), now));
}

}  // namespace
}  // namespace relay::dataplane::testing
