// The Server's commands carried out in its order: datagrams to from_cp with
// their PacketMeta, table commands to every worker, and a response never
// ahead of the table command it announces.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "controlplane/core/server.hpp"
#include "controlplane/process/dispatcher.hpp"
#include "controlplane/process/ring_codec.hpp"
#include "tests/unit/process/fake_rings.hpp"

namespace relay::process::testing {
namespace {

const ClientSocket kClient{sa("198.51.100.10:40000")};
const ListenSocket kListen{sa("203.0.113.1:3478")};
const ClientFiveTuple kFiveTuple{kClient, kListen};

core::SendMessage response(uint8_t tag) { return {{tag, 0x01}, kClient, kListen}; }
core::InstallChannel channel(uint16_t n) {
  return {kFiveTuple, ChannelNumber{n}, PeerSocket{sa("192.0.2.20:5000")}, sa("203.0.113.1:50000"), at(600)};
}

struct DispatcherTest : ::testing::Test {
  FakeDatagramRing from_cp;
  FakeCommandRing worker1, worker2;
  Dispatcher dispatcher{from_cp, {worker1, worker2}, 3, 8};
};

TEST_F(DispatcherTest, SendMessageGoesToFromCpAndTableCommandsToEveryWorker) {
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(response(1));
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(from_cp.sent[0], response(1));
  for (auto* w : {&worker1, &worker2}) {
    ASSERT_EQ(w->taken.size(), 1u);
    EXPECT_EQ(w->taken[0].kind, ring_abi::CommandKind::InstallChannel);
  }
  EXPECT_TRUE(dispatcher.idle());
  EXPECT_EQ(dispatcher.stats().commands, 1u);
  EXPECT_EQ(dispatcher.stats().datagrams.delivered, 1u);
}

TEST_F(DispatcherTest, ResponseWaitsUntilTheChannelItAnnouncesIsOnEveryWorkersRing) {
  worker2.room = 0;
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(response(1));
  EXPECT_TRUE(from_cp.sent.empty());
  EXPECT_EQ(dispatcher.flush(at(0)), 0u);
  EXPECT_TRUE(from_cp.sent.empty());

  worker2.room = 1;
  EXPECT_EQ(dispatcher.flush(at(0)), 2u);  // the command, then the response
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(worker2.taken.size(), 1u);
  EXPECT_TRUE(dispatcher.idle());
}

// The stream server as the Dispatcher sees it.
struct FakeStreams final : StreamResponses {
  Delivery send_response(const ClientFiveTuple& to, std::span<const uint8_t> bytes) override {
    if (!open) return Delivery::Gone;
    sent.emplace_back(to, std::vector<uint8_t>(bytes.begin(), bytes.end()));
    return Delivery::Accepted;
  }
  bool open = true;
  std::vector<std::pair<ClientFiveTuple, std::vector<uint8_t>>> sent;
};

TEST_F(DispatcherTest, AResponseToAStreamClientGoesToItsStreamBehindTheCommandsBeforeIt) {
  FakeStreams streams;
  dispatcher.set_streams(&streams);
  core::SendMessage tcp = response(1);
  tcp.transport = Transport::Tcp;
  worker2.room = 0;
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(tcp);
  EXPECT_TRUE(streams.sent.empty()) << "held back like a UDP response";
  worker2.room = 1;
  dispatcher.flush(at(0));
  ASSERT_EQ(streams.sent.size(), 1u);
  EXPECT_EQ(streams.sent[0].first, (ClientFiveTuple{kClient, kListen, Transport::Tcp}));
  EXPECT_EQ(streams.sent[0].second, tcp.bytes);
  EXPECT_TRUE(from_cp.sent.empty());
  streams.open = false;  // the stream closed meanwhile
  dispatcher.perform(tcp);
  EXPECT_EQ(dispatcher.stats().datagrams.gone, 1u);
  EXPECT_EQ(dispatcher.stats().datagrams.refused, 0u) << "not a datagram too large for an mbuf";
  dispatcher.perform(response(2));  // UDP still goes to from_cp
  EXPECT_EQ(from_cp.sent.size(), 1u);
}

TEST_F(DispatcherTest, WithoutAStreamServerAStreamResponseIsDroppedNotSentOverUdp) {
  core::SendMessage tls = response(1);
  tls.transport = Transport::Tls;
  dispatcher.perform(tls);
  EXPECT_TRUE(from_cp.sent.empty());
  EXPECT_EQ(dispatcher.stats().datagrams.gone, 1u);
}

TEST_F(DispatcherTest, ResponsesWaitingForAFullFromCpLeaveInOrderAndOverflowIsCounted) {
  from_cp.room = 0;
  for (uint8_t tag = 1; tag <= 4; ++tag) dispatcher.perform(response(tag));  // bound is 3
  EXPECT_EQ(dispatcher.stats().datagrams.overflowed, 1u);
  EXPECT_EQ(dispatcher.stats().datagrams_waiting, 3u);
  from_cp.room = 2;
  EXPECT_EQ(dispatcher.flush(at(0)), 2u);
  dispatcher.perform(response(5));  // behind 3, not before it
  from_cp.room = 10;
  dispatcher.flush(at(0));
  ASSERT_EQ(from_cp.sent.size(), 4u);
  EXPECT_EQ(from_cp.sent[0], response(1));
  EXPECT_EQ(from_cp.sent[1], response(2));
  EXPECT_EQ(from_cp.sent[2], response(3));
  EXPECT_EQ(from_cp.sent[3], response(5));
}

TEST_F(DispatcherTest, ADatagramNoMbufCanHoldIsDroppedAndCountedWithoutBlockingTheNext) {
  from_cp.max_size = 1;
  dispatcher.perform(response(1));
  from_cp.max_size = 2048;
  dispatcher.perform(response(2));
  EXPECT_EQ(dispatcher.stats().datagrams.refused, 1u);
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(from_cp.sent[0], response(2));
}

TEST_F(DispatcherTest, CommandsLostToAStalledWorkerAreCountedPerRingEntry) {
  worker1.room = 0;
  for (uint16_t n = 0; n < 10; ++n) dispatcher.perform(channel(static_cast<uint16_t>(0x4000 + n)));  // bound 8
  EXPECT_EQ(dispatcher.stats().command_overflows, 2u);
  EXPECT_EQ(dispatcher.stats().commands_waiting, 8u);
  EXPECT_EQ(worker2.taken.size(), 10u);
}

// A response announcing installs waits for the workers' acknowledgements;
// a worker's full table turns it into the 508 the Server prepared, and each
// install is handed back to be undone.
struct RefusalTest : ::testing::Test {
  FakeDatagramRing from_cp;
  FakeCommandRing worker1, worker2;
  std::vector<core::Command> undone;
  Dispatcher dispatcher{from_cp, {worker1, worker2}, 8, 8, nullptr, 1,
                        [this](const core::Command& c) { undone.push_back(c); }};

  static core::SendMessage announcing(uint8_t tag) {
    core::SendMessage m = response(tag);
    m.if_refused = {tag, 0x08};  // "508"
    return m;
  }
  void ack(uint8_t worker, const FakeCommandRing& ring, size_t index,
           ring_abi::AckResult result = ring_abi::AckResult::Ok) {
    dispatcher.take_ack({ring.taken.at(index).seq, 1, worker, result, 0}, at(1));
  }
};

TEST_F(RefusalTest, TheSuccessLeavesOnlyOnceEveryWorkerAcknowledgedItsInstalls) {
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(announcing(1));
  dispatcher.flush(at(1));
  EXPECT_TRUE(from_cp.sent.empty());
  ack(0, worker1, 0);
  dispatcher.flush(at(1));
  EXPECT_TRUE(from_cp.sent.empty());  // worker 2 has not answered yet
  ack(1, worker2, 0);
  dispatcher.flush(at(1));
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(from_cp.sent[0].bytes, response(1).bytes);
  EXPECT_TRUE(undone.empty());
}

TEST_F(RefusalTest, OneWorkersFullTableTurnsTheAnswerInto508AndUndoesEveryInstall) {
  const core::InstallPermission permission{kFiveTuple, sa("192.0.2.20:0").ip, sa("203.0.113.1:50000"), at(300)};
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(permission);
  dispatcher.perform(announcing(1));
  dispatcher.perform(response(2));  // the next answer queues behind
  ack(0, worker1, 0);
  ack(0, worker1, 1);
  ack(1, worker2, 0, ring_abi::AckResult::ProbeLimit);
  ack(1, worker2, 1);
  dispatcher.flush(at(1));
  ASSERT_EQ(from_cp.sent.size(), 2u);
  EXPECT_EQ(from_cp.sent[0].bytes, (std::vector<uint8_t>{1, 0x08}));
  EXPECT_EQ(from_cp.sent[0].to, kClient);
  EXPECT_EQ(from_cp.sent[1], response(2));
  ASSERT_EQ(undone.size(), 2u);
  EXPECT_EQ(std::get<core::InstallChannel>(undone[0]), channel(0x4000));
  EXPECT_EQ(std::get<core::InstallPermission>(undone[1]), permission);
  EXPECT_EQ(dispatcher.stats().refusals_answered, 1u);
}

TEST_F(RefusalTest, ARefusedAnswerThatFindsFromCpFullIsRetriedAsTheRefusalAndUndoneOnce) {
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(announcing(1));
  ack(0, worker1, 0, ring_abi::AckResult::TableFull);
  ack(1, worker2, 0, ring_abi::AckResult::TableFull);
  from_cp.room = 0;
  dispatcher.flush(at(1));
  dispatcher.flush(at(1));
  from_cp.room = 10;
  dispatcher.flush(at(1));
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(from_cp.sent[0].bytes, (std::vector<uint8_t>{1, 0x08}));
  EXPECT_EQ(undone.size(), 1u);
}

TEST_F(RefusalTest, AStalledWorkerIsNotWaitedForBeyondTheStallTimeout) {
  worker2.room = 0;
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(announcing(1));
  ack(0, worker1, 0);
  dispatcher.flush(at(1));
  EXPECT_TRUE(from_cp.sent.empty());
  dispatcher.flush(at(1) + CommandFanout::kStallTimeout + std::chrono::milliseconds(1));
  dispatcher.flush(at(1) + CommandFanout::kStallTimeout + std::chrono::milliseconds(1));
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(from_cp.sent[0].bytes, response(1).bytes);
}

TEST_F(RefusalTest, AnInstallNeverAcknowledgedIsGivenUpAfterTheAckTimeout) {
  dispatcher.flush(at(1));
  dispatcher.perform(channel(0x4000));
  dispatcher.perform(announcing(1));
  ack(0, worker1, 0);
  dispatcher.flush(at(1));
  EXPECT_TRUE(from_cp.sent.empty());
  dispatcher.flush(at(1) + CommandFanout::kAckTimeout + std::chrono::milliseconds(1));
  ASSERT_EQ(from_cp.sent.size(), 1u);
  EXPECT_EQ(from_cp.sent[0].bytes, response(1).bytes);
}

// The path of a Binding request through the Server to from_cp, with the
// addressing a to_cp mbuf would have carried.
TEST(ServerToFromCp, BindingRequestIsAnsweredToTheSenderFromTheListenSocketItReached) {
  core::ServerConfig config;
  config.relay_v4 = IpAddress::parse("203.0.113.1");
  config.auth_secrets = {"secret"};
  config.has_portal = false;
  core::Server server(config, 7);
  FakeDatagramRing from_cp;
  Dispatcher dispatcher{from_cp, {}};

  ring_abi::PacketMeta to_cp_meta;
  to_cp_meta.remote = ring_abi::to_wire(kClient.value);
  to_cp_meta.local = ring_abi::to_wire(kListen.value);
  auto received = received_from(to_cp_meta);
  ASSERT_TRUE(received.has_value());
  // RFC 8489 §5: Binding request, no attributes, magic cookie, transaction id.
  const std::array<uint8_t, 20> request{0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  server.handle_client_input(request, received->from, received->to, at(1));
  while (auto c = server.next_command()) dispatcher.perform(std::move(*c));

  ASSERT_EQ(from_cp.sent.size(), 1u);
  const auto& out = from_cp.sent[0];
  ASSERT_GE(out.bytes.size(), 20u);
  EXPECT_EQ(out.bytes[0], 0x01);  // Binding success response
  EXPECT_EQ(out.bytes[1], 0x01);
  EXPECT_TRUE(std::equal(request.begin() + 8, request.end(), out.bytes.begin() + 8));
  const ring_abi::PacketMeta& meta = from_cp.metas[0];
  EXPECT_EQ(ring_abi::from_wire(meta.remote), kClient.value);
  EXPECT_EQ(ring_abi::from_wire(meta.local), kListen.value);
  EXPECT_EQ(meta.rx_timestamp_ns, 0u);
}

}  // namespace
}  // namespace relay::process::testing
