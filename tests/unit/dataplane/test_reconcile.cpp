// Reconciliation (ARCHITECTURE.md): a worker's replica digest follows its
// allocations and channels whatever order they came in, and agrees with
// the control plane's digest of the same state, computed on the other side
// of the ring from the Server (ServerReplica); a replica resynchronised
// from the Server ends up with the Server's digest.
#include <gtest/gtest.h>

#include "controlplane/core/server.hpp"
#include "controlplane/process/ring_codec.hpp"
#include "controlplane/process/server_replica.hpp"
#include "tests/unit/dataplane/fixture.hpp"
#include "tests/unit/process/server_config.hpp"

namespace relay::dataplane::testing {
namespace {

using ring_abi::entry_digest;

constexpr uint64_t kSecond = 1'000'000'000;

class DigestTest : public WorkerTest {
 protected:
  const SocketAddress client = sock("192.0.2.10:40000");
  const SocketAddress client6 = sock("[2001:db8:2::10]:40000");
  const SocketAddress peer = sock("198.51.100.20:5000");
  const SocketAddress peer6 = sock("[2001:db8:3::20]:5000");

  ring_abi::CommandMessage create(uint16_t port, const SocketAddress& c) {
    const SocketAddress listen{c.ip.is_v4() ? ip("203.0.113.1") : ip("2001:db8:1::1"), 3478};
    return ring_abi::make_create_allocation(AllocationPort{port}, SocketAddress{ip("203.0.113.1"), port},
                                            SocketAddress{ip("2001:db8:1::1"), port},
                                            ClientFiveTuple{ClientSocket{c}, ListenSocket{listen}},
                                            Instant::from_ns(now + 600 * kSecond));
  }
  uint64_t digest() const { return worker->tables().digest(); }
};

TEST_F(DigestTest, AnEmptyReplicaHasDigestZeroAndEachEntryAddsItsOwnHash) {
  EXPECT_EQ(digest(), 0u);
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);
  EXPECT_EQ(digest(), entry_digest(create(50000, client)));
  bind(50000, client, 0x4001, peer);
  bind(50000, client, 0x4002, peer6);
  EXPECT_EQ(digest(), entry_digest(create(50000, client)) ^ entry_digest(install(50000, client, 0x4001, peer)) ^
                          entry_digest(install(50000, client, 0x4002, peer6)));
}

TEST_F(DigestTest, OrderDoesNotMatterAndNeitherDoExpiryOrPermissions) {
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);
  ASSERT_EQ(apply(create(50002, client6)), Applied::Ok);
  bind(50000, client, 0x4001, peer);
  bind(50002, client6, 0x4001, peer6);
  const uint64_t one_order = digest();

  make_worker(test_config());
  ASSERT_EQ(apply(create(50002, client6)), Applied::Ok);
  bind(50002, client6, 0x4001, peer6, 30 * kSecond);  // another expiry
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);
  bind(50000, client, 0x4001, peer);
  EXPECT_EQ(permit(50000, client, ip("198.51.100.30")), Applied::Ok);
  EXPECT_EQ(digest(), one_order);
}

TEST_F(DigestTest, ARefreshLeavesTheDigestAndARemovalTakesTheChannelOut) {
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);
  bind(50000, client, 0x4001, peer);
  const uint64_t bound = digest();
  bind(50000, client, 0x4001, peer, 900 * kSecond);
  EXPECT_EQ(digest(), bound);
  auto remove = install(50000, client, 0x4001, peer);
  remove.kind = ring_abi::CommandKind::RemoveChannel;
  EXPECT_EQ(apply(remove), Applied::Ok);
  EXPECT_EQ(digest(), entry_digest(create(50000, client)));
  EXPECT_EQ(apply(remove), Applied::Ok);  // removing what is gone changes nothing
  EXPECT_EQ(digest(), entry_digest(create(50000, client)));
}

TEST_F(DigestTest, FreeingOrRecreatingAnAllocationRetiresItsChannelsFromTheDigest) {
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);
  bind(50000, client, 0x4001, peer);
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);  // a resync re-creates it
  EXPECT_EQ(digest(), entry_digest(create(50000, client)));
  bind(50000, client, 0x4001, peer);  // and re-installs its channel over the retired entry
  EXPECT_EQ(digest(), entry_digest(create(50000, client)) ^ entry_digest(install(50000, client, 0x4001, peer)));
  EXPECT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50000})), Applied::Ok);
  EXPECT_EQ(digest(), 0u);
}

TEST_F(DigestTest, AChannelSweptAtItsExpiryLeavesTheDigest) {
  InterfaceConfig small = test_config();
  small.max_channels = 4;
  make_worker(small);
  ASSERT_EQ(apply(create(50000, client)), Applied::Ok);
  bind(50000, client, 0x4001, peer, 10 * kSecond);
  for (uint16_t n = 0x4002; n < 0x4002 + 3; ++n) bind(50000, client, n, peer6, 600 * kSecond);
  now += 20 * kSecond;  // 0x4001 expired; the next install finds the table full and sweeps
  const uint64_t before = digest();
  bind(50000, client, 0x4010, sock("198.51.100.21:5000"));
  EXPECT_EQ(digest(), before ^ entry_digest(install(50000, client, 0x4001, peer)) ^
                          entry_digest(install(50000, client, 0x4010, sock("198.51.100.21:5000"))));
}

// ---- Both sides of the ring ----------------------------------------------

class AgreementTest : public DigestTest {
 protected:
  core::Server server{process::testing::two_family_server_config(), 7};
  process::ServerReplica truth{server};
  const Instant t0 = Instant::from_ns(now);

  // What the Server holds: two allocations (one per client family), a
  // channel each and a permission, adopted as a restart would.
  void populate_server() {
    const ClientFiveTuple c4{ClientSocket{client}, ListenSocket{sock("203.0.113.1:3478")}};
    const ClientFiveTuple c6{ClientSocket{client6}, ListenSocket{sock("[2001:db8:1::1]:3478")}};
    const Instant expiry = t0 + std::chrono::seconds(500);
    ASSERT_FALSE(server.restore_allocation({AllocationPort{50000}, sock("203.0.113.1:50000"),
                                            sock("[2001:db8:1::1]:50000"), c4, expiry, core::OwnerId{11}}, t0));
    ASSERT_FALSE(server.restore_allocation({AllocationPort{50002}, sock("203.0.113.1:50002"),
                                            sock("[2001:db8:1::1]:50002"), c6, expiry, core::OwnerId{12}}, t0));
    ASSERT_FALSE(server.restore_channel({c4, ChannelNumber{0x4001}, PeerSocket{peer}, sock("203.0.113.1:50000"),
                                         expiry}, t0));
    ASSERT_FALSE(server.restore_channel({c6, ChannelNumber{0x4abc}, PeerSocket{peer6},
                                         sock("[2001:db8:1::1]:50002"), expiry}, t0));
    ASSERT_FALSE(server.restore_permission({c4, ip("198.51.100.30"), sock("203.0.113.1:50000"), expiry}, t0));
  }
  bool forwards(uint16_t channel) {
    const ChannelEntry* e = worker->tables().channels().find(
        make_channel_key(Family::V4, client.ip.bytes.data(), htons(client.port), htons(channel)));
    return e != nullptr && worker->tables().live(e->allocation_port, e->generation, e->deadline_tsc, now);
  }
  // A resynchronisation of every port, as the fan-out streams it.
  void resync_worker() {
    for (uint32_t port = truth.first_port(); port <= truth.last_port(); ++port)
      for (const auto& m : truth.replica_of(static_cast<uint16_t>(port), t0)) ASSERT_EQ(apply(m), Applied::Ok);
  }
};

TEST_F(AgreementTest, AReplicaResynchronisedFromTheServerHasTheServersDigest) {
  populate_server();
  EXPECT_NE(truth.digest().value, 0u);
  // A replica that drifted: a stale allocation, a channel the Server removed.
  ASSERT_EQ(apply(create(50004, client)), Applied::Ok);
  bind(50004, client, 0x4005, peer);
  EXPECT_NE(digest(), truth.digest().value);
  resync_worker();
  EXPECT_EQ(digest(), truth.digest().value);
  // The stale channel no longer forwards; the Server's does.
  EXPECT_FALSE(forwards(0x4005));
  EXPECT_TRUE(forwards(0x4001));
}

TEST_F(AgreementTest, AReplicaThatMissedOneChannelDisagrees) {
  populate_server();
  resync_worker();
  auto remove = ring_abi::make_remove_channel(
      ClientFiveTuple{ClientSocket{client}, ListenSocket{sock("203.0.113.1:3478")}}, ChannelNumber{0x4001},
      PeerSocket{peer}, sock("203.0.113.1:50000"));
  ASSERT_EQ(apply(remove), Applied::Ok);
  EXPECT_NE(digest(), truth.digest().value);
}

// Stream clients on both sides of the ring: the worker's digest of them
// (the transport is hashed) is the Server's, and what the worker dumps for
// a restarted control plane gives the transports back, so the adopted
// state hashes the same again. (The UDP client has another port here: the
// Server's FiveTupleEqual does not compare transports yet; the data plane's
// side of "same address, two clients" is StreamTest.ATcpAndAUdpClientOnOneAddressAreTwoClients.)
TEST_F(AgreementTest, StreamClientsAgreeAcrossResyncAndDump) {
  const ClientFiveTuple udp{ClientSocket{sock("192.0.2.10:40001")}, ListenSocket{sock("203.0.113.1:3478")}};
  const ClientFiveTuple tcp{ClientSocket{client}, ListenSocket{sock("203.0.113.1:3478")}, Transport::Tcp};
  const ClientFiveTuple tls{ClientSocket{client6}, ListenSocket{sock("[2001:db8:1::1]:3478")}, Transport::Tls};
  const Instant expiry = t0 + std::chrono::seconds(500);
  ASSERT_FALSE(server.restore_allocation({AllocationPort{50000}, sock("203.0.113.1:50000"),
                                          sock("[2001:db8:1::1]:50000"), udp, expiry, core::OwnerId{11}}, t0));
  ASSERT_FALSE(server.restore_allocation({AllocationPort{50002}, sock("203.0.113.1:50002"),
                                          sock("[2001:db8:1::1]:50002"), tcp, expiry, core::OwnerId{12}}, t0));
  ASSERT_FALSE(server.restore_allocation({AllocationPort{50004}, sock("203.0.113.1:50004"),
                                          sock("[2001:db8:1::1]:50004"), tls, expiry, core::OwnerId{13}}, t0));
  ASSERT_FALSE(server.restore_channel({udp, ChannelNumber{0x4001}, PeerSocket{peer}, sock("203.0.113.1:50000"),
                                       expiry}, t0));
  ASSERT_FALSE(server.restore_channel({tcp, ChannelNumber{0x4001}, PeerSocket{peer6},
                                       sock("[2001:db8:1::1]:50002"), expiry}, t0));
  ASSERT_FALSE(server.restore_permission({tls, ip("198.51.100.30"), sock("203.0.113.1:50004"), expiry}, t0));
  resync_worker();
  EXPECT_EQ(digest(), truth.digest().value);

  DumpCursor cursor;
  cursor.start(9);
  std::vector<ring_abi::CommandMessage> dump(64);
  dump.resize(worker->tables().dump(cursor, dump, 1u << 20, TscClock{kHz, now, now}));
  core::Server restarted{process::testing::two_family_server_config(), 8};
  unsigned stream_entries = 0;
  for (const auto& m : dump) {
    if (m.kind == ring_abi::CommandKind::CreateAllocation) {
      const auto a = process::installed_allocation(m);
      ASSERT_TRUE(a);
      stream_entries += a->client.transport != Transport::Udp;
      ASSERT_FALSE(restarted.restore_allocation(*a, t0));
    } else if (m.kind == ring_abi::CommandKind::InstallChannel) {
      const auto c = process::installed_channel(m);
      ASSERT_TRUE(c);
      stream_entries += c->client.transport != Transport::Udp;
      ASSERT_FALSE(restarted.restore_channel(*c, t0));
    } else if (m.kind == ring_abi::CommandKind::InstallPermission) {
      const auto p = process::installed_permission(m);
      ASSERT_TRUE(p);
      stream_entries += p->client.transport != Transport::Udp;
      ASSERT_FALSE(restarted.restore_permission(*p, t0));
    }
  }
  // Two stream allocations, the TCP client's channel, and two permissions:
  // the TLS client's and the one the TCP client's channel implies.
  EXPECT_EQ(stream_entries, 5u);
  process::ServerReplica adopted{restarted};
  EXPECT_EQ(adopted.digest().value, digest());
}

}  // namespace
}  // namespace relay::dataplane::testing
