// A restarted control plane adopting the data plane's dump
// (ARCHITECTURE.md, "Control-plane restart"), against fake rings: the
// "worker" answers DumpState by putting a scripted dump on the dump ring.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "controlplane/process/state_restore.hpp"
#include "tests/unit/process/fake_rings.hpp"
#include "tests/unit/process/server_config.hpp"

namespace relay::process::testing {
namespace {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;

// Whether an allocation holds `port`, so no new allocation can get it.
bool holds_port(const core::Server& server, uint16_t port) {
  const auto views = server.allocations();
  return std::any_of(views.begin(), views.end(), [&](const auto& v) { return v.port.value == port; });
}

constexpr uint16_t kId = 0x1234;
constexpr uint16_t kOldId = 0x0777;

const ClientFiveTuple kAlice{ClientSocket{sa("192.0.2.10:40000")}, ListenSocket{sa("203.0.113.1:3478")}};
const ClientFiveTuple kBob{ClientSocket{sa("[2001:db8:2::10]:40000")}, ListenSocket{sa("[2001:db8:1::1]:3478")}};
const PeerSocket kPeer{sa("198.51.100.20:5000")};

CommandMessage tagged(CommandMessage m, uint16_t id = kId) {
  m.dump_id = id;
  return m;
}
CommandMessage allocation(uint16_t port, const ClientFiveTuple& client, int64_t expires_at_s, uint16_t id = kId) {
  return tagged(ring_abi::make_create_allocation(AllocationPort{port}, SocketAddress{*IpAddress::parse("203.0.113.1"), port},
                                                 std::nullopt, client, at(expires_at_s)),
                id);
}
CommandMessage channel(uint16_t port, const ClientFiveTuple& client, uint16_t number, int64_t expires_at_s,
                       uint16_t id = kId) {
  return tagged(ring_abi::make_install_channel(client, ChannelNumber{number}, kPeer,
                                               SocketAddress{*IpAddress::parse("203.0.113.1"), port}, at(expires_at_s)),
                id);
}

CommandMessage permission(uint16_t port, const ClientFiveTuple& client, const char* peer, int64_t expires_at_s) {
  return tagged(ring_abi::make_install_permission(client, *IpAddress::parse(peer),
                                                  SocketAddress{*IpAddress::parse("203.0.113.1"), port},
                                                  at(expires_at_s)));
}

class FakeDumpRing final : public DumpRing {
 public:
  size_t take(std::span<CommandMessage> out) override {
    size_t n = 0;
    while (n < out.size() && !queued.empty()) {
      out[n++] = queued.front();
      queued.pop_front();
    }
    return n;
  }
  std::deque<CommandMessage> queued;
};

// The first worker's cmd ring: on DumpState, the script goes on the dump
// ring under the request's id.
class FakeFirstWorker final : public CommandRing {
 public:
  explicit FakeFirstWorker(FakeDumpRing& dump) : dump_(dump) {}
  bool try_enqueue(const CommandMessage& m) override {
    if (room == 0) return false;
    --room;
    taken.push_back(m);
    if (m.kind == CommandKind::DumpState && answers) {
      for (CommandMessage entry : script) dump_.queued.push_back(tagged(entry, m.dump_id));
      dump_.queued.push_back(ring_abi::make_dump_end(m.dump_id));
    }
    return true;
  }
  bool try_enqueue_group(std::span<const CommandMessage> messages) override {
    if (room < messages.size()) return false;
    for (const CommandMessage& m : messages) try_enqueue(m);
    return true;
  }
  size_t room = 1000;
  bool answers = true;
  std::vector<CommandMessage> script;
  std::vector<CommandMessage> taken;

 private:
  FakeDumpRing& dump_;
};

class StateRestoreTest : public ::testing::Test {
 protected:
  core::Server server{two_family_server_config(), 7};
  Instant clock = at(100);
  RestoreDriver driver{.now = [this] { return clock; },
                       .wait = [this] { clock = clock + std::chrono::milliseconds(1); }};
  FakeDumpRing dump;
  FakeFirstWorker worker{dump};
};

TEST_F(StateRestoreTest, AnAllocationAndItsChannelInTheDumpAreAdoptedAndTheirPortIsNoLongerFree) {
  StateRestore restore(server, kId);
  EXPECT_FALSE(restore.take(allocation(50000, kAlice, 400), at(100)));
  EXPECT_FALSE(restore.take(channel(50000, kAlice, 0x4001, 300), at(100)));
  EXPECT_TRUE(restore.take(ring_abi::make_dump_end(kId), at(100)));

  EXPECT_EQ(restore.report().allocations, 1u);
  EXPECT_EQ(restore.report().channels, 1u);
  EXPECT_TRUE(restore.report().complete);
  EXPECT_EQ(server.allocation_count(), 1u);
  EXPECT_TRUE(holds_port(server, 50000));              // a new allocation cannot get it
  EXPECT_TRUE(server.next_command() == std::nullopt);  // adopting emits nothing
}

// An authenticated Allocate of the portal user `salt` from `from` (a 401
// first, for the nonce); the answer's error code, 0 for success.
uint16_t allocate_as(core::Server& server, std::string_view salt, ClientSocket from, Instant now) {
  const uint64_t expiry = 1'700'000'000 + 3600;
  const std::string username = std::to_string(expiry) + ":" + std::string(salt);
  const auto key = stun::long_term_key(username, "firezone", stun::mint_password(kTestSecret, expiry, salt));
  std::string nonce;
  uint16_t code = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<uint8_t> buf(512);
    stun::TransactionId id{};
    id[0] = static_cast<uint8_t>(attempt + 1);
    stun::Builder b(buf, stun::Method::Allocate, stun::MessageClass::Request, id);
    b.add_requested_transport(stun::kTransportUdp);
    b.add_username(username).add_realm("firezone");
    if (!nonce.empty()) b.add_nonce(nonce);
    b.add_message_integrity(key);
    b.add_fingerprint();
    buf.resize(*b.finish());
    server.handle_client_input(buf, from, kAlice.listen, now);
    while (auto c = server.next_command()) {
      const auto* sent = std::get_if<core::SendMessage>(&*c);
      if (sent == nullptr) continue;
      const auto msg = stun::parse(sent->bytes);
      if (!msg) return 0xffff;
      if (auto n = msg->nonce(); n.ok() && *n) nonce = std::string(**n);
      const auto e = msg->error_code();
      code = e.ok() && *e ? (*e)->code : 0;
    }
  }
  return code;
}

TEST_F(StateRestoreTest, AnAdoptedAllocationCountsAgainstTheQuotaOfTheOwnerTheDumpNames) {
  core::ServerConfig config = two_family_server_config();
  config.quotas.allocations_per_user = 1;
  core::Server quota_server{config, 7};
  quota_server.set_wall_clock(at(0), std::chrono::seconds(1'700'000'000));
  StateRestore restore(quota_server, kId);
  CommandMessage alices = allocation(50000, kAlice, 400);
  alices.owner = core::owner_id_of("alice").value;
  EXPECT_FALSE(restore.take(alices, at(100)));
  ASSERT_EQ(restore.report().allocations, 1u);

  EXPECT_EQ(allocate_as(quota_server, "alice", ClientSocket{sa("192.0.2.99:40000")}, at(101)), 486);
  EXPECT_EQ(allocate_as(quota_server, "bob", ClientSocket{sa("192.0.2.99:40001")}, at(101)), 0);
}

TEST_F(StateRestoreTest, PermissionsInTheDumpAreAdoptedOrRefusedByReason) {
  StateRestore restore(server, kId);
  EXPECT_FALSE(restore.take(allocation(50000, kAlice, 400), at(100)));
  EXPECT_FALSE(restore.take(permission(50000, kAlice, "198.51.100.30", 300), at(100)));
  EXPECT_FALSE(restore.take(permission(50000, kAlice, "10.0.0.1", 300), at(100)));      // policy
  EXPECT_FALSE(restore.take(permission(50002, kBob, "198.51.100.30", 300), at(100)));   // no allocation
  EXPECT_TRUE(restore.take(ring_abi::make_dump_end(kId), at(100)));

  EXPECT_EQ(restore.report().permissions, 1u);
  EXPECT_EQ(restore.report().refused_permissions.at(core::RestoreError::PeerDenied), 1u);
  EXPECT_EQ(restore.report().refused_permissions.at(core::RestoreError::NoAllocation), 1u);
  EXPECT_TRUE(server.next_command() == std::nullopt);
}

TEST_F(StateRestoreTest, EntriesAndTheEndOfAnotherDumpAreCountedStaleAndIgnored) {
  StateRestore restore(server, kId);
  EXPECT_FALSE(restore.take(allocation(50000, kAlice, 400, kOldId), at(100)));
  EXPECT_FALSE(restore.take(ring_abi::make_dump_end(kOldId), at(100)));

  EXPECT_EQ(restore.report().stale, 2u);
  EXPECT_FALSE(restore.report().complete);
  EXPECT_EQ(server.allocation_count(), 0u);
}

TEST_F(StateRestoreTest, RefusalsAreCountedByReasonAndUnmanageableAllocationsAreOrphans) {
  StateRestore restore(server, kId);
  restore.take(allocation(50000, kAlice, 50), at(100));             // expired
  restore.take(allocation(50002, kAlice, 400), at(100));            // adopted
  restore.take(allocation(50004, kAlice, 400), at(100));            // same client again
  restore.take(tagged(ring_abi::make_create_allocation(             // not our relay address
                   AllocationPort{50006}, sa("192.0.2.99:50006"), std::nullopt, kBob, at(400))),
               at(100));
  restore.take(channel(50008, kBob, 0x4001, 300), at(100));         // no allocation for Bob
  restore.take(channel(50002, kAlice, 0x0010, 300), at(100));       // not a channel number

  const RestoreReport& r = restore.report();
  EXPECT_EQ(r.allocations, 1u);
  EXPECT_EQ(r.refused_allocations.at(core::RestoreError::Expired), 1u);
  EXPECT_EQ(r.refused_allocations.at(core::RestoreError::ClientHasAllocation), 1u);
  EXPECT_EQ(r.refused_allocations.at(core::RestoreError::RelayMismatch), 1u);
  EXPECT_EQ(r.refused_channels.at(core::RestoreError::NoAllocation), 1u);
  EXPECT_EQ(r.refused_channels.at(core::RestoreError::InvalidChannel), 1u);
  ASSERT_EQ(r.orphans.size(), 2u);
  EXPECT_EQ(r.orphans[0], AllocationPort{50004});
  EXPECT_EQ(r.orphans[1], AllocationPort{50006});
}

TEST_F(StateRestoreTest, AnEntryWithAnUnknownFamilyOrKindIsCountedMalformed) {
  StateRestore restore(server, kId);
  CommandMessage bad_client = allocation(50000, kAlice, 400);
  bad_client.client.family = 9;
  CommandMessage bad_relay = allocation(50002, kBob, 400);
  bad_relay.relay_v4.family = 9;
  CommandMessage bad_peer = channel(50000, kAlice, 0x4001, 300);
  bad_peer.peer.family = 0;
  restore.take(bad_client, at(100));
  restore.take(bad_relay, at(100));
  restore.take(bad_peer, at(100));
  restore.take(tagged(ring_abi::make_free_allocation(AllocationPort{50000})), at(100));
  CommandMessage garbage{};
  std::memset(static_cast<void*>(&garbage), 0xff, sizeof garbage);
  garbage.dump_id = kId;
  restore.take(garbage, at(100));

  EXPECT_EQ(restore.report().malformed, 5u);
  EXPECT_EQ(server.allocation_count(), 0u);
}

TEST_F(StateRestoreTest, LeftoversOfACrashedControlPlaneAreDrainedBeforeDumpStateIsSent) {
  dump.queued.push_back(allocation(50000, kAlice, 400, kOldId));
  dump.queued.push_back(ring_abi::make_dump_end(kOldId));
  worker.script = {allocation(50002, kBob, 400), channel(50002, kBob, 0x4001, 300)};

  const RestoreReport r = restore_from_data_plane(server, worker, dump, kId, driver);

  ASSERT_EQ(worker.taken.size(), 1u);
  EXPECT_EQ(worker.taken[0].kind, CommandKind::DumpState);
  EXPECT_EQ(worker.taken[0].dump_id, kId);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.stale, 2u);
  EXPECT_EQ(r.allocations, 1u);
  EXPECT_EQ(r.channels, 1u);
  EXPECT_FALSE(holds_port(server, 50000));  // the old dump's port was not adopted
  EXPECT_TRUE(holds_port(server, 50002));
}

TEST_F(StateRestoreTest, AWorkerThatNeverAnswersEndsTheRestoreAfterTheSilenceTimeout) {
  worker.answers = false;
  const RestoreReport r = restore_from_data_plane(server, worker, dump, kId, driver);

  EXPECT_FALSE(r.complete);
  EXPECT_GE(clock - at(100), driver.silence_timeout);
  EXPECT_LE(clock - at(100), driver.silence_timeout + std::chrono::milliseconds(2));
}

TEST_F(StateRestoreTest, AFullCommandRingIsRetriedUntilTheSilenceTimeout) {
  worker.room = 0;
  const RestoreReport r = restore_from_data_plane(server, worker, dump, kId, driver);

  EXPECT_FALSE(r.complete);
  EXPECT_TRUE(worker.taken.empty());
  EXPECT_GE(clock - at(100), driver.silence_timeout);
}

TEST_F(StateRestoreTest, AdoptedAllocationsOfStreamClientsEndOnceTheDumpIsIn) {
  ClientFiveTuple alice_tcp = kAlice;
  alice_tcp.transport = Transport::Tcp;
  ClientFiveTuple bob_tls = kBob;
  bob_tls.transport = Transport::Tls;
  worker.script = {allocation(50000, alice_tcp, 400), channel(50000, alice_tcp, 0x4001, 300),
                   allocation(50002, kAlice, 400), allocation(50004, bob_tls, 400)};

  const RestoreReport r = restore_from_data_plane(server, worker, dump, kId, driver);

  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.allocations, 3u);
  EXPECT_EQ(r.streams_lost, 2u);
  EXPECT_EQ(server.allocation_count(), 1u);  // the UDP client's stays
  EXPECT_TRUE(holds_port(server, 50002));
  std::vector<uint16_t> freed;
  size_t channels_removed = 0;
  while (auto c = server.next_command()) {
    if (const auto* f = std::get_if<core::FreeAllocation>(&*c)) freed.push_back(f->port.value);
    if (std::holds_alternative<core::RemoveChannel>(*c)) ++channels_removed;
  }
  std::sort(freed.begin(), freed.end());
  EXPECT_EQ(freed, (std::vector<uint16_t>{50000, 50004}));
  EXPECT_EQ(channels_removed, 1u);
}

}  // namespace
}  // namespace relay::process::testing
