// A worker without ports (classify() only) on a documentation-range
// interface, with the TSC running at 1 GHz so ticks are nanoseconds.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "dataplane/worker.hpp"
#include "tests/unit/dataplane/test_support.hpp"

namespace relay::dataplane::testing {

inline IpAddress ip(const char* text) { return *IpAddress::parse(text); }
inline SocketAddress sock(const char* text) { return *SocketAddress::parse(text); }

constexpr MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddress kGatewayMac = {0x02, 0, 0, 0, 0, 0xFE};
constexpr MacAddress kGateway6Mac = {0x02, 0, 0, 0, 0, 0xFD};
constexpr MacAddress kSenderMac = {0x02, 0, 0, 0, 0, 0x77};

inline InterfaceConfig test_config() {
  InterfaceConfig c;
  c.mac = kOurMac;
  c.ipv4 = InterfaceAddress{ip("203.0.113.1"), 24, ip("203.0.113.254")};
  c.ipv6 = InterfaceAddress{ip("2001:db8:1::1"), 64, ip("2001:db8:1::fe")};
  c.max_channels = 1024;
  c.neighbour_capacity = 64;
  return c;
}

class WorkerTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kHz = 1'000'000'000;  // TSC ticks are ns
  uint64_t now = 1'000'000'000'000;               // tsc == monotonic ns in these tests

  void SetUp() override { make_worker(test_config()); }

  // `secret`: the tables' hash secret, for tests that need colliding keys.
  void make_worker(const InterfaceConfig& c, std::optional<HashSecret> secret = std::nullopt) {
    WorkerSetup setup;
    setup.config = c;
    setup.has_port = false;
    setup.tsc_hz = kHz;
    setup.table_secret = secret;
    auto w = Worker::create(setup);
    ASSERT_TRUE(w.ok()) << w.error();
    worker = std::move(w.value());
    worker->neighbours().learn(Family::V4, ip("203.0.113.254").bytes.data(), kGatewayMac.data(), now);
    worker->neighbours().learn(Family::V6, ip("2001:db8:1::fe").bytes.data(), kGateway6Mac.data(), now);
  }

  Applied apply(const ring_abi::CommandMessage& m) { return worker->apply(m, now, now); }

  // Creates allocation `port` with both relay addresses, the client on
  // our listen socket of its family.
  void allocate(uint16_t port, const SocketAddress& client, uint64_t lifetime_ns = 600'000'000'000) {
    const SocketAddress listen{client.ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), 3478};
    ASSERT_EQ(apply(ring_abi::make_create_allocation(
                  AllocationPort{port}, SocketAddress{ip("203.0.113.1"), port},
                  SocketAddress{ip("2001:db8:1::1"), port}, ClientFiveTuple{ClientSocket{client}, ListenSocket{listen}},
                  Instant::from_ns(now + lifetime_ns))),
              Applied::Ok);
  }
  void bind(uint16_t port, const SocketAddress& client, uint16_t channel, const SocketAddress& peer,
            uint64_t lifetime_ns = 600'000'000'000) {
    ASSERT_EQ(apply(install(port, client, channel, peer, lifetime_ns)), Applied::Ok);
  }
  // A permission (RFC 8656 §9) of allocation `port` for `peer`'s IP.
  Applied permit(uint16_t port, const SocketAddress& client, const IpAddress& peer,
                 uint64_t lifetime_ns = 300'000'000'000) {
    const SocketAddress listen{client.ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), 3478};
    const SocketAddress relay{peer.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), port};
    return apply(ring_abi::make_install_permission(ClientFiveTuple{ClientSocket{client}, ListenSocket{listen}}, peer,
                                                   relay, Instant::from_ns(now + lifetime_ns)));
  }
  ring_abi::CommandMessage install(uint16_t port, const SocketAddress& client, uint16_t channel,
                                   const SocketAddress& peer, uint64_t lifetime_ns = 600'000'000'000) {
    const SocketAddress listen{client.ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), 3478};
    const SocketAddress relay{peer.ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), port};
    return ring_abi::make_install_channel(ClientFiveTuple{ClientSocket{client}, ListenSocket{listen}},
                                          ChannelNumber{channel}, PeerSocket{peer}, relay,
                                          Instant::from_ns(now + lifetime_ns));
  }

  static Eth from_gateway(Family f) {
    return Eth{f == Family::V4 ? kGatewayMac : kGateway6Mac, kOurMac, std::nullopt};
  }

  // Runs one frame through classify() and returns where it went.
  Next run(FakeMbuf& m) {
    rte_mbuf* pkts[1] = {m.get()};
    Next next[1];
    worker->classify({pkts, 1}, now, now, next);
    return next[0];
  }
  uint64_t count(Counter c) const { return worker->counters().get(c); }

  std::unique_ptr<Worker> worker;
};

// The four client/peer address-family combinations, for tests that must
// hold in each (instantiate with ::testing::ValuesIn(kFamilyCombinations)).
struct Families {
  const char* name;
  const char* client;
  const char* peer;
};
constexpr Families kFamilyCombinations[] = {
    {"Ipv4ClientIpv4Peer", "198.51.100.10:40000", "192.0.2.20:5000"},
    {"Ipv4ClientIpv6Peer", "198.51.100.10:40000", "[2001:db8:3::20]:5000"},
    {"Ipv6ClientIpv4Peer", "[2001:db8:2::10]:40000", "192.0.2.20:5000"},
    {"Ipv6ClientIpv6Peer", "[2001:db8:2::10]:40000", "[2001:db8:3::20]:5000"},
};

class FamilyCombinationTest : public WorkerTest, public ::testing::WithParamInterface<Families> {
 protected:
  SocketAddress client() const { return sock(GetParam().client); }
  SocketAddress peer() const { return sock(GetParam().peer); }
  SocketAddress listen() const { return {client().ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), 3478}; }
  SocketAddress relayed() const { return {peer().ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), 50000}; }
};

}  // namespace relay::dataplane::testing
