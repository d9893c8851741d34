// The worker on a testpmd-style net_ring loopback inside one EAL process:
// commands through the real cmd ring, packets through a real ethdev, STUN
// through the real to_cp/from_cp rings and the mbuf private area.
#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "dataplane/loopback.hpp"
#include "dataplane/setup.hpp"
#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

class Eal : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::string prefix = "dp-unit-loopback-" + std::to_string(getpid());
    std::vector<std::string> args = {"test_dataplane_loopback", "--no-pci", "--no-huge", "--no-shconf",
                                     "--no-telemetry", "-l", "0", "-m", "256", "--file-prefix", prefix,
                                     "--log-level", "*:warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0);
  }
  void TearDown() override { rte_eal_cleanup(); }
};
[[maybe_unused]] auto* const kEal = ::testing::AddGlobalTestEnvironment(new Eal);

class Loopback : public ::testing::Test {
 protected:
  void SetUp() override {
    static int instance = 0;
    const std::string prefix = "lb" + std::to_string(instance++) + ".";
    auto pool = create_mbuf_pool(prefix, 2047, SOCKET_ID_ANY);
    ASSERT_TRUE(pool.ok()) << pool.error();
    pool_ = *pool;
    auto lb = create_loopback(prefix + "ring", 1024, SOCKET_ID_ANY, pool_);
    ASSERT_TRUE(lb.ok()) << lb.error();
    lb_ = *lb;
    auto cmd = create_command_ring(prefix, 0, SOCKET_ID_ANY);
    ASSERT_TRUE(cmd.ok()) << cmd.error();
    auto exc = create_exception_rings(prefix, SOCKET_ID_ANY);
    ASSERT_TRUE(exc.ok()) << exc.error();
    rings_ = *exc;
    rings_.commands = *cmd;
    WorkerSetup setup;
    setup.config = test_config();
    setup.port_id = lb_.port_id;
    setup.commands = rings_.commands;
    setup.to_cp = rings_.to_cp;
    setup.from_cp = rings_.from_cp;
    setup.acks = rings_.acks;
    setup.worker_index = 3;
    setup.discard_commands = &discard_;
    setup.tsc_hz = rte_get_tsc_hz();
    setup.stop = &stop_;
    auto w = Worker::create(setup);
    ASSERT_TRUE(w.ok()) << w.error();
    worker_ = std::move(w.value());
    worker_->neighbours().learn(Family::V4, ip("203.0.113.254").bytes.data(), kGatewayMac.data(), rte_rdtsc());
  }

  void command(ring_abi::CommandMessage m) {
    ASSERT_EQ(rte_ring_enqueue_elem(rings_.commands, &m, sizeof m), 0);
  }
  void numbered(ring_abi::CommandMessage m, uint32_t seq, uint16_t group_rest = 0) {
    m.seq = seq;
    m.session = 9;
    m.group_rest = group_rest;
    command(m);
  }
  std::vector<ring_abi::AckMessage> acks() {
    std::vector<ring_abi::AckMessage> out;
    ring_abi::AckMessage a;
    while (rte_ring_dequeue_elem(rings_.acks, &a, sizeof a) == 0) out.push_back(a);
    return out;
  }
  void inject(const std::vector<uint8_t>& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
    ASSERT_EQ(rte_ring_enqueue(lb_.rx, m), 0);
  }
  std::vector<std::vector<uint8_t>> sent() {
    std::vector<std::vector<uint8_t>> out;
    void* m = nullptr;
    while (rte_ring_dequeue(lb_.tx, &m) == 0) {
      auto* mb = static_cast<rte_mbuf*>(m);
      const auto* p = rte_pktmbuf_mtod(mb, const uint8_t*);
      out.emplace_back(p, p + mb->data_len);
      rte_pktmbuf_free(mb);
    }
    return out;
  }

  std::atomic<uint32_t> discard_{0};
  rte_mempool* pool_ = nullptr;
  dataplane::Loopback lb_;
  WorkerRings rings_;
  std::atomic<bool> stop_{false};
  std::unique_ptr<Worker> worker_;
};

const SocketAddress kClient = *SocketAddress::parse("198.51.100.10:40000");
const SocketAddress kListen = *SocketAddress::parse("203.0.113.1:3478");
const SocketAddress kPeer = *SocketAddress::parse("192.0.2.20:5000");
const SocketAddress kRelayed = *SocketAddress::parse("203.0.113.1:50000");
const Eth kFromGateway{kGatewayMac, kOurMac, std::nullopt};

TEST_F(Loopback, ChannelInstalledThroughTheCommandRingRelaysBothWaysOverAnEthdev) {
  const Instant expiry = Instant::from_ns(monotonic_now_ns() + 60'000'000'000ull);
  const ClientFiveTuple five{ClientSocket{kClient}, ListenSocket{kListen}};
  command(ring_abi::make_create_allocation(AllocationPort{50000}, kRelayed, std::nullopt, five, expiry));
  command(ring_abi::make_install_channel(five, ChannelNumber{0x4001}, PeerSocket{kPeer}, kRelayed, expiry));
  inject(udp_frame(kFromGateway, kClient, kListen, channel_data(0x4001, bytes_of("to the peer"))));
  inject(udp_frame(kFromGateway, kPeer, kRelayed, bytes_of("to the client")));

  EXPECT_EQ(worker_->poll_once(), 2);

  const auto out = sent();
  ASSERT_EQ(out.size(), 2u);
  const auto to_peer = read_udp_frame(out[0]);
  const auto to_client = read_udp_frame(out[1]);
  ASSERT_TRUE(to_peer && to_client);
  EXPECT_EQ(to_peer->dst, kPeer);
  EXPECT_EQ(to_peer->src, kRelayed);
  EXPECT_EQ(to_peer->payload, bytes_of("to the peer"));
  EXPECT_TRUE(to_peer->udp_checksum_ok);
  EXPECT_EQ(to_client->dst, kClient);
  EXPECT_EQ(to_client->payload, channel_data(0x4001, bytes_of("to the client")));
  EXPECT_EQ(worker_->counters().get(Counter::CommandsApplied), 2u);
  EXPECT_EQ(worker_->counters().get(Counter::TxPackets), 2u);
}

TEST_F(Loopback, StunGoesToTheControlPlaneRingAndItsAnswerLeavesFromTheListenSocket) {
  std::vector<uint8_t> request = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
  request.resize(20, 0x11);
  inject(udp_frame(kFromGateway, kClient, kListen, request));
  worker_->poll_once();

  void* obj = nullptr;
  ASSERT_EQ(rte_ring_dequeue(rings_.to_cp, &obj), 0);
  auto* m = static_cast<rte_mbuf*>(obj);
  EXPECT_EQ(std::vector<uint8_t>(rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_mtod(m, uint8_t*) + m->data_len), request);
  auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  EXPECT_EQ(ring_abi::from_wire(meta->remote), kClient);
  EXPECT_EQ(ring_abi::from_wire(meta->local), kListen);

  // The control plane answers in the same mbuf: its metadata already says
  // (destination = the client, source = our listen socket).
  request[0] = 0x01;  // a "response"
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), request.data(), request.size());
  ASSERT_EQ(rte_ring_enqueue(rings_.from_cp, m), 0);
  worker_->poll_once();

  const auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  const auto answer = read_udp_frame(out[0]);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->src, kListen);
  EXPECT_EQ(answer->dst, kClient);
  EXPECT_EQ(answer->payload, request);
  EXPECT_TRUE(answer->ip_checksum_ok && answer->udp_checksum_ok);
  EXPECT_EQ(worker_->counters().get(Counter::FromControlPlane), 1u);
}

TEST_F(Loopback, FromControlPlaneWithAForeignSourceIsDroppedAndCounted) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  rte_pktmbuf_append(m, 20);
  auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  meta->remote = ring_abi::to_wire(kClient);
  meta->local = ring_abi::to_wire(*SocketAddress::parse("203.0.113.99:3478"));
  ASSERT_EQ(rte_ring_enqueue(rings_.from_cp, m), 0);
  worker_->poll_once();
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(worker_->counters().get(Counter::DropFromControlPlaneInvalid), 1u);
}

TEST_F(Loopback, NumberedCommandsAreAcknowledgedInOrderWithTheirResultAndTheReplicaDigest) {
  const Instant expiry = Instant::from_ns(monotonic_now_ns() + 60'000'000'000ull);
  const ClientFiveTuple five{ClientSocket{kClient}, ListenSocket{kListen}};
  numbered(ring_abi::make_create_allocation(AllocationPort{50000}, kRelayed, std::nullopt, five, expiry), 1);
  numbered(ring_abi::make_install_channel(five, ChannelNumber{0x4001}, PeerSocket{kPeer}, kRelayed, expiry), 2);
  command(ring_abi::make_update_allocation(AllocationPort{50000}, expiry));  // unnumbered: no ack
  numbered(ring_abi::make_update_allocation(AllocationPort{50002}, expiry), 3);  // no such allocation
  worker_->poll_once();

  const auto got = acks();
  ASSERT_EQ(got.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(got[i].session, 9);
    EXPECT_EQ(got[i].worker, 3);
  }
  EXPECT_EQ(got[0].result, ring_abi::AckResult::Ok);
  EXPECT_EQ(got[1].result, ring_abi::AckResult::Ok);
  EXPECT_EQ(got[2].result, ring_abi::AckResult::Rejected);
  EXPECT_EQ(got[0].digest,
            ring_abi::entry_digest(ring_abi::make_create_allocation(AllocationPort{50000}, kRelayed, std::nullopt,
                                                                    five, expiry)));
  EXPECT_EQ(got[2].digest, worker_->tables().digest());
  EXPECT_EQ(worker_->counters().tables.digest, worker_->tables().digest());
  EXPECT_EQ(worker_->counters().tables.last_ack, uint64_t{9} << 32 | 3);
}

TEST_F(Loopback, AGroupIsAppliedWholeInOneIterationEvenBeyondTheBatchSize) {
  const Instant expiry = Instant::from_ns(monotonic_now_ns() + 60'000'000'000ull);
  const ClientFiveTuple five{ClientSocket{kClient}, ListenSocket{kListen}};
  constexpr uint16_t kChannels = kCommandsPerIteration + 8;
  numbered(ring_abi::make_create_allocation(AllocationPort{50000}, kRelayed, std::nullopt, five, expiry), 1,
           kChannels);
  for (uint16_t i = 0; i < kChannels; ++i) {
    const PeerSocket peer{SocketAddress{kPeer.ip, static_cast<uint16_t>(6000 + i)}};
    numbered(ring_abi::make_install_channel(five, ChannelNumber{static_cast<uint16_t>(0x4001 + i)}, peer,
                                            kRelayed, expiry),
             2u + i, static_cast<uint16_t>(kChannels - 1 - i));
  }
  numbered(ring_abi::make_free_allocation(AllocationPort{50002}), 2u + kChannels);  // not part of it
  worker_->poll_once();
  EXPECT_EQ(worker_->counters().get(Counter::CommandsApplied), kChannels + 1u);
  EXPECT_EQ(acks().size(), kChannels + 1u);
  worker_->poll_once();
  EXPECT_EQ(worker_->counters().get(Counter::CommandsApplied), kChannels + 2u);
}

TEST_F(Loopback, TheDiscardSwitchThrowsNumberedCommandsAwayUnacknowledgedAsIfLost) {
  discard_ = 1;
  numbered(ring_abi::make_free_allocation(AllocationPort{50000}), 1);
  numbered(ring_abi::make_free_allocation(AllocationPort{50000}), 2);
  worker_->poll_once();
  const auto got = acks();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].seq, 2u);  // the control plane sees the gap
  EXPECT_EQ(discard_.load(), 0u);
  EXPECT_EQ(worker_->counters().get(Counter::CommandsDiscarded), 1u);
}

// dataplane.idle = adaptive (the default): a worker with nothing to do
// sleeps, and a channel installed while it sleeps relays its first packet.
TEST_F(Loopback, AChannelInstalledWhileTheWorkerSleepsRelaysItsFirstPacket) {
  std::thread loop([this] { worker_->run(); });
  auto wait_for = [](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!done() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return done();
  };
  const bool slept = wait_for([&] { return load_relaxed(worker_->counters()).sleeps > 10; });
  const Instant expiry = Instant::from_ns(monotonic_now_ns() + 60'000'000'000ull);
  const ClientFiveTuple five{ClientSocket{kClient}, ListenSocket{kListen}};
  command(ring_abi::make_create_allocation(AllocationPort{50000}, kRelayed, std::nullopt, five, expiry));
  command(ring_abi::make_install_channel(five, ChannelNumber{0x4001}, PeerSocket{kPeer}, kRelayed, expiry));
  inject(udp_frame(kFromGateway, kClient, kListen, channel_data(0x4001, bytes_of("first"))));
  std::vector<std::vector<uint8_t>> out;
  const bool relayed = wait_for([&] {
    for (auto& f : sent()) out.push_back(std::move(f));
    return !out.empty();
  });
  stop_ = true;
  loop.join();
  ASSERT_TRUE(slept) << "the idle worker never slept";
  ASSERT_TRUE(relayed) << "the first packet after the install was not relayed";
  const auto to_peer = read_udp_frame(out[0]);
  ASSERT_TRUE(to_peer);
  EXPECT_EQ(to_peer->dst, kPeer);
  EXPECT_EQ(to_peer->payload, bytes_of("first"));
  EXPECT_GT(worker_->counters().sleep_cycles, 0u);
}

// Streams over real rings: a second net_ring port stands in for the stream
// TAP (what the worker sends it, the kernel would receive), and the
// to_stream ring is the one create_exception_rings makes.
class StreamLoopback : public Loopback {
 protected:
  void SetUp() override {
    Loopback::SetUp();
    static int instance = 0;
    auto kernel = create_loopback("tap" + std::to_string(instance++), 1024, SOCKET_ID_ANY, pool_);
    ASSERT_TRUE(kernel.ok()) << kernel.error();
    kernel_ = *kernel;
    make_worker(rings_.to_stream);
  }
  void make_worker(rte_ring* to_stream) {
    WorkerSetup setup;
    setup.config = test_config();
    setup.config.stream_ports = {3478, 5349, 0};
    setup.port_id = lb_.port_id;
    setup.commands = rings_.commands;
    setup.to_cp = rings_.to_cp;
    setup.from_cp = rings_.from_cp;
    setup.to_stream = to_stream;
    setup.kernel_port = kernel_.port_id;
    setup.kernel_mac = kTapMac;
    setup.tsc_hz = rte_get_tsc_hz();
    setup.stop = &stop_;
    auto w = Worker::create(setup);
    ASSERT_TRUE(w.ok()) << w.error();
    worker_ = std::move(w.value());
    worker_->neighbours().learn(Family::V4, ip("203.0.113.254").bytes.data(), kGatewayMac.data(), rte_rdtsc());
  }
  std::vector<std::vector<uint8_t>> to_kernel() {
    std::vector<std::vector<uint8_t>> out;
    void* m = nullptr;
    while (rte_ring_dequeue(kernel_.tx, &m) == 0) {
      auto* mb = static_cast<rte_mbuf*>(m);
      out.emplace_back(rte_pktmbuf_mtod(mb, const uint8_t*), rte_pktmbuf_mtod(mb, const uint8_t*) + mb->data_len);
      rte_pktmbuf_free(mb);
    }
    return out;
  }
  void from_kernel(const std::vector<uint8_t>& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size())), frame.data(), frame.size());
    ASSERT_EQ(rte_ring_enqueue(kernel_.rx, m), 0);
  }
  void allocate_tcp_client_with_channel() {
    const Instant expiry = Instant::from_ns(monotonic_now_ns() + 60'000'000'000ull);
    const ClientFiveTuple five{ClientSocket{kClient}, ListenSocket{kListen}, Transport::Tcp};
    command(ring_abi::make_create_allocation(AllocationPort{50000}, kRelayed, std::nullopt, five, expiry));
    command(ring_abi::make_install_channel(five, ChannelNumber{0x4001}, PeerSocket{kPeer}, kRelayed, expiry));
  }

  static constexpr MacAddress kTapMac = {0x02, 0, 0, 0, 0, 0x5A};
  dataplane::Loopback kernel_;
};

// A TCP SYN, built by hand (a UDP frame with protocol 6 would not do: the
// checksum must be TCP's for the RST test below).
std::vector<uint8_t> syn(const SocketAddress& from, const SocketAddress& to) {
  std::vector<uint8_t> tcp = {0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 0, 0x50, 0x02, 0xFF, 0xFF, 0, 0, 0, 0};
  tcp[0] = static_cast<uint8_t>(from.port >> 8);
  tcp[1] = static_cast<uint8_t>(from.port);
  tcp[2] = static_cast<uint8_t>(to.port >> 8);
  tcp[3] = static_cast<uint8_t>(to.port);
  const uint16_t c = rfc1071(tcp, pseudo_sum(from.ip, to.ip, 6, static_cast<uint32_t>(tcp.size())));
  tcp[16] = static_cast<uint8_t>(c >> 8);
  tcp[17] = static_cast<uint8_t>(c);
  auto f = ethernet(kFromGateway, 0x0800);
  auto ipl = ip_packet(from.ip, to.ip, 6, tcp);
  f.insert(f.end(), ipl.begin(), ipl.end());
  return f;
}

TEST_F(StreamLoopback, ASynToTheListenPortLeavesOnTheKernelPortAndOtherTcpIsReset) {
  inject(syn(kClient, kListen));
  inject(syn(kClient, *SocketAddress::parse("203.0.113.1:22")));
  EXPECT_EQ(worker_->poll_once(), 2);
  const auto kernel = to_kernel();
  ASSERT_EQ(kernel.size(), 1u);
  EXPECT_TRUE(std::equal(kTapMac.begin(), kTapMac.end(), kernel[0].begin()));
  const auto wire = sent();
  ASSERT_EQ(wire.size(), 1u) << "the RST";
  EXPECT_EQ(wire[0][14 + 20 + 13], 0x14) << "RST|ACK";
  EXPECT_EQ(worker_->counters().get(Counter::ToKernel), 1u);
  EXPECT_EQ(worker_->counters().get(Counter::TcpResetsSent), 1u);
}

TEST_F(StreamLoopback, WhatTheKernelSendsFromTheRelayAddressLeavesOnTheWire) {
  auto frame = syn(kListen, kClient);
  std::copy(kTapMac.begin(), kTapMac.end(), frame.begin());
  std::copy(kTapMac.begin(), kTapMac.end(), frame.begin() + 6);
  from_kernel(frame);
  worker_->poll_once();
  const auto wire = sent();
  ASSERT_EQ(wire.size(), 1u);
  EXPECT_TRUE(std::equal(kGatewayMac.begin(), kGatewayMac.end(), wire[0].begin()));
  EXPECT_TRUE(std::equal(kOurMac.begin(), kOurMac.end(), wire[0].begin() + 6));
  EXPECT_TRUE(std::equal(wire[0].begin() + 12, wire[0].end(), frame.begin() + 12));
  EXPECT_EQ(worker_->counters().get(Counter::FromKernel), 1u);
}

TEST_F(StreamLoopback, APeersDatagramForATcpClientIsOnTheToStreamRingPaddedWithItsAddresses) {
  allocate_tcp_client_with_channel();
  inject(udp_frame(kFromGateway, kPeer, kRelayed, bytes_of("abcde")));
  worker_->poll_once();
  EXPECT_TRUE(sent().empty());
  void* obj = nullptr;
  ASSERT_EQ(rte_ring_dequeue(rings_.to_stream, &obj), 0);
  auto* m = static_cast<rte_mbuf*>(obj);
  const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
  EXPECT_EQ(std::vector<uint8_t>(d, d + m->data_len),
            (std::vector<uint8_t>{0x40, 0x01, 0x00, 0x05, 'a', 'b', 'c', 'd', 'e', 0, 0, 0}));
  const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  EXPECT_EQ(ring_abi::from_wire(meta->remote), kClient);
  EXPECT_EQ(ring_abi::transport_of(meta->remote), Transport::Tcp);
  EXPECT_EQ(ring_abi::from_wire(meta->local), kListen);
  rte_pktmbuf_free(m);
  EXPECT_EQ(worker_->counters().get(Counter::ToStream), 1u);
}

TEST_F(StreamLoopback, AFullToStreamRingDropsAndCounts) {
  rte_ring* tiny = rte_ring_create("tiny_to_stream", 2, SOCKET_ID_ANY, RING_F_SC_DEQ);  // room for one
  ASSERT_NE(tiny, nullptr);
  make_worker(tiny);
  allocate_tcp_client_with_channel();
  for (int i = 0; i < 3; ++i) inject(udp_frame(kFromGateway, kPeer, kRelayed, bytes_of("x")));
  worker_->poll_once();
  EXPECT_EQ(rte_ring_count(tiny), 1u);
  EXPECT_EQ(worker_->counters().get(Counter::ToStream), 1u);
  EXPECT_EQ(worker_->counters().get(Counter::DropToStreamFull), 2u);
  void* obj = nullptr;
  while (rte_ring_dequeue(tiny, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  rte_ring_free(tiny);
}

TEST_F(StreamLoopback, AStreamClientsChannelDataFromTheControlPlaneLeavesForThePeer) {
  allocate_tcp_client_with_channel();
  worker_->poll_once();
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  const auto message = channel_data(0x4001, bytes_of("from a stream"));
  std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(message.size())), message.data(), message.size());
  auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  *meta = ring_abi::PacketMeta{};
  meta->remote = ring_abi::to_wire(ClientSocket{kClient}, Transport::Tcp);
  meta->local = ring_abi::to_wire(kListen);
  meta->kind = ring_abi::PacketKind::StreamInput;
  ASSERT_EQ(rte_ring_enqueue(rings_.from_cp, m), 0);
  worker_->poll_once();
  const auto wire = sent();
  ASSERT_EQ(wire.size(), 1u);
  const auto out = read_udp_frame(wire[0]);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, kRelayed);
  EXPECT_EQ(out->dst, kPeer);
  EXPECT_EQ(out->payload, bytes_of("from a stream"));
  EXPECT_TRUE(out->udp_checksum_ok);
  EXPECT_EQ(worker_->counters().get(Counter::ClientToPeer), 1u);
}

TEST(Setup, RingSizesAndTheMempoolCacheAreTheConfiguredOnes) {
  auto pool = create_mbuf_pool("sizes.", 1023, SOCKET_ID_ANY, 64);
  ASSERT_TRUE(pool.ok()) << pool.error();
  EXPECT_EQ((*pool)->cache_size, 64u);
  auto cmd = create_command_ring("sizes.", 0, SOCKET_ID_ANY, 256);
  ASSERT_TRUE(cmd.ok()) << cmd.error();
  EXPECT_EQ(rte_ring_get_capacity(*cmd), 255u);  // one slot tells full from empty
  auto exc = create_exception_rings("sizes.", SOCKET_ID_ANY, 512);
  ASSERT_TRUE(exc.ok()) << exc.error();
  EXPECT_EQ(rte_ring_get_capacity(exc->to_cp), 511u);
  EXPECT_EQ(rte_ring_get_capacity(exc->from_cp), 511u);
  // to_stream: every worker produces, the control plane alone consumes.
  EXPECT_EQ(rte_ring_get_capacity(exc->to_stream), 511u);
  EXPECT_EQ(rte_ring_get_prod_sync_type(exc->to_stream), RTE_RING_SYNC_MT);
  EXPECT_EQ(rte_ring_get_cons_sync_type(exc->to_stream), RTE_RING_SYNC_ST);
  for (rte_ring* r : {*cmd, exc->to_cp, exc->from_cp, exc->to_stream, exc->dump, exc->acks}) rte_ring_free(r);
  rte_mempool_free(*pool);
}

// DPDK 22.11's net_af_xdp registers populated_size x mbuf size from the
// first chunk's page as the umem. The default pool keeps every mbuf inside
// one page (4 KiB here, --no-huge), leaving gaps that push its last mbufs
// past that block: the kernel drops what is sent from them. A packed pool
// is one block, mbufs back to back, all inside, and works as an mbuf pool.
TEST(Setup, APackedPoolLiesWhollyInsideTheBlockNetAfXdpRegistersTheDefaultOneDoesNot) {
  auto per_page = create_mbuf_pool("perpage.", 1023, SOCKET_ID_ANY, 64, PoolLayout::PagePerObject);
  ASSERT_TRUE(per_page.ok()) << per_page.error();
  EXPECT_GT(mbufs_outside_af_xdp_umem(*per_page), 0u);
  auto packed = create_mbuf_pool("packed.", 1023, SOCKET_ID_ANY, 64, PoolLayout::Packed);
  ASSERT_TRUE(packed.ok()) << packed.error();
  EXPECT_EQ((*packed)->nb_mem_chunks, 1u);
  EXPECT_EQ(mbufs_outside_af_xdp_umem(*packed), 0u);
  EXPECT_EQ((*packed)->cache_size, 64u);
  // Every mbuf of it: the ring ABI's private area, the default data room.
  std::vector<rte_mbuf*> all(1023);
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(*packed, all.data(), 1023), 0);
  for (rte_mbuf* m : all) {
    ASSERT_EQ(rte_pktmbuf_priv_size(m->pool), ring_abi::kMbufPrivSize);
    ASSERT_EQ(rte_pktmbuf_data_room_size(m->pool), RTE_MBUF_DEFAULT_BUF_SIZE);
    ASSERT_EQ(rte_pktmbuf_headroom(m), RTE_PKTMBUF_HEADROOM);
    ASSERT_NE(rte_pktmbuf_append(m, 1500), nullptr);
  }
  rte_pktmbuf_free_bulk(all.data(), 1023);
  rte_mempool_free(*per_page);
  rte_mempool_free(*packed);
}

}  // namespace
}  // namespace relay::dataplane::testing
