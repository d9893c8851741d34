// TURN over TCP/TLS on the data plane's side (ARCHITECTURE.md, "Streams"):
// TCP steered to the kernel's TAP or answered with a RST, what the kernel
// sends back, stream clients as their own clients in every table, and the
// two relay directions of a stream client (to_stream, StreamInput).
// Frames and messages are built and read here byte by byte (and STUN with
// the control plane's codec), independently of the worker's code.
#include <gtest/gtest.h>

#include "controlplane/core/stun/stun.hpp"
#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

constexpr MacAddress kTapMac = {0x02, 0, 0, 0, 0, 0x5A};
constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;

struct Tcp {
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t flags = kSyn;
  std::vector<uint8_t> payload = {};
};

std::vector<uint8_t> tcp_segment(const SocketAddress& src, const SocketAddress& dst, const Tcp& t) {
  std::vector<uint8_t> s;
  put16(s, src.port);
  put16(s, dst.port);
  put16(s, static_cast<uint16_t>(t.seq >> 16));
  put16(s, static_cast<uint16_t>(t.seq));
  put16(s, static_cast<uint16_t>(t.ack >> 16));
  put16(s, static_cast<uint16_t>(t.ack));
  s.push_back(5 << 4);
  s.push_back(t.flags);
  put16(s, 65535);
  put16(s, 0);
  put16(s, 0);
  s.insert(s.end(), t.payload.begin(), t.payload.end());
  const uint16_t c = rfc1071(s, pseudo_sum(src.ip, dst.ip, 6, static_cast<uint32_t>(s.size())));
  s[16] = static_cast<uint8_t>(c >> 8);
  s[17] = static_cast<uint8_t>(c);
  return s;
}

std::vector<uint8_t> tcp_frame(const Eth& e, const SocketAddress& src, const SocketAddress& dst, const Tcp& t) {
  auto f = ethernet(e, src.ip.is_v4() ? 0x0800 : 0x86DD);
  auto ip = ip_packet(src.ip, dst.ip, 6, tcp_segment(src, dst, t));
  f.insert(f.end(), ip.begin(), ip.end());
  return f;
}

// ChannelData of `text` (RFC 8656 §12.4), its length field `claimed_length`
// when given. Written byte by byte: GCC 12 at -O3 warns about
// test_support's vector inserts here (-Wstringop-overflow, a known false
// positive).
std::vector<uint8_t> framed(uint16_t channel, std::string_view text,
                            std::optional<uint16_t> claimed_length = std::nullopt) {
  const auto length = claimed_length.value_or(static_cast<uint16_t>(text.size()));
  std::vector<uint8_t> v(4 + text.size());
  v[0] = static_cast<uint8_t>(channel >> 8);
  v[1] = static_cast<uint8_t>(channel);
  v[2] = static_cast<uint8_t>(length >> 8);
  v[3] = static_cast<uint8_t>(length);
  for (size_t i = 0; i < text.size(); ++i) v[4 + i] = static_cast<uint8_t>(text[i]);
  return v;
}

uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// A TCP segment read back, checksums verified independently.
struct TcpView {
  MacAddress dst_mac{};
  MacAddress src_mac{};
  SocketAddress src;
  SocketAddress dst;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  size_t payload_len = 0;
  bool ip_checksum_ok = false;
  bool tcp_checksum_ok = false;
};

std::optional<TcpView> read_tcp(std::span<const uint8_t> f) {
  TcpView v;
  if (f.size() < 14) return std::nullopt;
  std::memcpy(v.dst_mac.data(), f.data(), 6);
  std::memcpy(v.src_mac.data(), f.data() + 6, 6);
  const uint16_t type = be16(f.data() + 12);
  size_t l4 = 0;
  size_t l4_len = 0;
  if (type == 0x0800) {
    const uint8_t* ip = f.data() + 14;
    const size_t ihl = (ip[0] & 0xF) * 4u;
    if (ip[9] != 6) return std::nullopt;
    v.ip_checksum_ok = rfc1071(f.subspan(14, ihl)) == 0;
    std::array<uint8_t, 4> s{}, d{};
    std::memcpy(s.data(), ip + 12, 4);
    std::memcpy(d.data(), ip + 16, 4);
    v.src.ip = IpAddress::v4(s);
    v.dst.ip = IpAddress::v4(d);
    l4 = 14 + ihl;
    l4_len = be16(ip + 2) - ihl;
  } else if (type == 0x86DD) {
    const uint8_t* ip = f.data() + 14;
    if (ip[6] != 6) return std::nullopt;
    v.ip_checksum_ok = true;
    std::array<uint8_t, 16> s{}, d{};
    std::memcpy(s.data(), ip + 8, 16);
    std::memcpy(d.data(), ip + 24, 16);
    v.src.ip = IpAddress::v6(s);
    v.dst.ip = IpAddress::v6(d);
    l4 = 54;
    l4_len = be16(ip + 4);
  } else {
    return std::nullopt;
  }
  if (f.size() < l4 + l4_len || l4_len < 20) return std::nullopt;
  const uint8_t* t = f.data() + l4;
  v.src.port = be16(t);
  v.dst.port = be16(t + 2);
  v.seq = be32(t + 4);
  v.ack = be32(t + 8);
  v.flags = t[13];
  v.payload_len = l4_len - (t[12] >> 4) * 4u;
  v.tcp_checksum_ok = rfc1071(f.subspan(l4, l4_len), pseudo_sum(v.src.ip, v.dst.ip, 6, uint32_t(l4_len))) == 0;
  return v;
}

const char* kRelay4 = "203.0.113.1";
const char* kRelay6 = "2001:db8:1::1";

// A worker with streams on: TCP to 3478 (TURN over TCP) and 5349 (TLS)
// goes to the kernel's TAP.
class StreamTest : public WorkerTest {
 protected:
  void SetUp() override { make_stream_worker(stream_config()); }
  static InterfaceConfig stream_config() {
    InterfaceConfig c = test_config();
    c.stream_ports = {3478, 5349, 0};
    return c;
  }
  void make_stream_worker(const InterfaceConfig& c) {
    WorkerSetup setup;
    setup.config = c;
    setup.has_port = false;
    setup.tsc_hz = kHz;
    setup.kernel_port = 1;
    setup.kernel_mac = kTapMac;
    auto w = Worker::create(setup);
    ASSERT_TRUE(w.ok()) << w.error();
    worker = std::move(w.value());
    worker->neighbours().learn(Family::V4, ip("203.0.113.254").bytes.data(), kGatewayMac.data(), now);
    worker->neighbours().learn(Family::V6, ip("2001:db8:1::fe").bytes.data(), kGateway6Mac.data(), now);
  }
  static SocketAddress relay(const SocketAddress& like, uint16_t port) {
    return {ip(like.ip.is_v4() ? kRelay4 : kRelay6), port};
  }

  // A stream client's allocation: the client 5-tuple with `transport`.
  Applied allocate_over(Transport transport, uint16_t port, const SocketAddress& client,
                        uint16_t listen_port = 3478) {
    const SocketAddress listen{client.ip.is_v4() ? ip(kRelay4) : ip(kRelay6), listen_port};
    return apply(ring_abi::make_create_allocation(
        AllocationPort{port}, SocketAddress{ip(kRelay4), port}, SocketAddress{ip(kRelay6), port},
        ClientFiveTuple{ClientSocket{client}, ListenSocket{listen}, transport}, Instant::from_ns(now + 600'000'000'000)));
  }
  ring_abi::CommandMessage channel_over(Transport transport, uint16_t port, const SocketAddress& client,
                                        uint16_t channel, const SocketAddress& peer, uint16_t listen_port = 3478) {
    const SocketAddress listen{client.ip.is_v4() ? ip(kRelay4) : ip(kRelay6), listen_port};
    const SocketAddress relayed{peer.ip.is_v4() ? ip(kRelay4) : ip(kRelay6), port};
    return ring_abi::make_install_channel(ClientFiveTuple{ClientSocket{client}, ListenSocket{listen}, transport},
                                          ChannelNumber{channel}, PeerSocket{peer}, relayed,
                                          Instant::from_ns(now + 600'000'000'000));
  }
  ring_abi::CommandMessage permission_over(Transport transport, uint16_t port, const SocketAddress& client,
                                           const IpAddress& peer) {
    const SocketAddress listen{client.ip.is_v4() ? ip(kRelay4) : ip(kRelay6), 3478};
    const SocketAddress relayed{peer.is_v4() ? ip(kRelay4) : ip(kRelay6), port};
    return ring_abi::make_install_permission(ClientFiveTuple{ClientSocket{client}, ListenSocket{listen}, transport},
                                             peer, relayed, Instant::from_ns(now + 300'000'000'000));
  }

  // What the control plane puts on from_cp for a stream client.
  static void as_stream_input(FakeMbuf& m, const SocketAddress& client, Transport transport, uint16_t listen_port = 3478) {
    auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(m.get()));
    *meta = ring_abi::PacketMeta{};
    meta->remote = ring_abi::to_wire(ClientSocket{client}, transport);
    meta->local = ring_abi::to_wire(SocketAddress{client.ip.is_v4() ? ip(kRelay4) : ip(kRelay6), listen_port});
    meta->kind = ring_abi::PacketKind::StreamInput;
  }
  static const ring_abi::PacketMeta& meta_of(FakeMbuf& m) {
    return *static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m.get()));
  }
};

// ---- Steering ------------------------------------------------------------

class StreamFamilies : public StreamTest, public ::testing::WithParamInterface<const char*> {
 protected:
  SocketAddress client() const { return sock(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(Both, StreamFamilies, ::testing::Values("198.51.100.10:40000", "[2001:db8:2::10]:40000"),
                         [](const auto& info) { return info.index == 0 ? "Ipv4" : "Ipv6"; });

TEST_P(StreamFamilies, ASynToTheListenPortCrossesToTheTapUnchangedUnderTheTapsMac) {
  const auto frame = tcp_frame(from_gateway(client().family()), client(), relay(client(), 3478), {});
  FakeMbuf m(frame);
  ASSERT_EQ(run(m), Next::ToKernel);
  const auto out = m.bytes();
  ASSERT_EQ(out.size(), frame.size());
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, kTapMac.begin()));
  EXPECT_TRUE(std::equal(out.begin() + 6, out.begin() + 12, kOurMac.begin()));
  EXPECT_TRUE(std::equal(out.begin() + 12, out.end(), frame.begin() + 12)) << "IP and TCP are the kernel's to read";
  EXPECT_EQ(count(Counter::ToKernel), 0u) << "counted when the TAP's queue takes it";
  EXPECT_EQ(count(Counter::TcpResetsSent), 0u);
}

TEST_P(StreamFamilies, TheTlsPortIsSteeredToo) {
  FakeMbuf m(tcp_frame(from_gateway(client().family()), client(), relay(client(), 5349), {}));
  EXPECT_EQ(run(m), Next::ToKernel);
}

TEST_P(StreamFamilies, ASynToAnotherPortGetsARstAckThatAcknowledgesTheSyn) {
  FakeMbuf m(tcp_frame(from_gateway(client().family()), client(), relay(client(), 80), {.seq = 0xFFFFFFF0}));
  ASSERT_EQ(run(m), Next::Tx);
  const auto rst = read_tcp(m.bytes());
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->flags, kRst | kAck);
  EXPECT_EQ(rst->seq, 0u);
  EXPECT_EQ(rst->ack, 0xFFFFFFF1u) << "SEG.SEQ + SYN";
  EXPECT_EQ(rst->src, relay(client(), 80));
  EXPECT_EQ(rst->dst, client());
  EXPECT_EQ(rst->dst_mac, from_gateway(client().family()).src);
  EXPECT_EQ(rst->src_mac, kOurMac);
  EXPECT_EQ(rst->payload_len, 0u);
  EXPECT_TRUE(rst->ip_checksum_ok);
  EXPECT_TRUE(rst->tcp_checksum_ok);
  EXPECT_EQ(count(Counter::TcpResetsSent), 1u);
}

TEST_P(StreamFamilies, ASegmentWithAnAckGetsARstWhoseSequenceIsThatAck) {
  FakeMbuf m(tcp_frame(from_gateway(client().family()), client(), relay(client(), 443),
                       {.seq = 7, .ack = 123456789, .flags = kAck | kPsh, .payload = bytes_of("GET / HTTP/1.1")}));
  ASSERT_EQ(run(m), Next::Tx);
  const auto rst = read_tcp(m.bytes());
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->flags, kRst);
  EXPECT_EQ(rst->seq, 123456789u);
  EXPECT_EQ(rst->ack, 0u);
  EXPECT_TRUE(rst->ip_checksum_ok);
  EXPECT_TRUE(rst->tcp_checksum_ok);
}

TEST_P(StreamFamilies, DataAndFinWithoutAnAckAreAcknowledgedInTheRst) {
  FakeMbuf m(tcp_frame(from_gateway(client().family()), client(), relay(client(), 22),
                       {.seq = 100, .flags = kFin, .payload = bytes_of("12345")}));
  ASSERT_EQ(run(m), Next::Tx);
  const auto rst = read_tcp(m.bytes());
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->ack, 106u) << "SEG.SEQ + 5 bytes + FIN";
  EXPECT_TRUE(rst->tcp_checksum_ok);
}

TEST_P(StreamFamilies, ARstIsNeverAnswered) {
  FakeMbuf m(tcp_frame(from_gateway(client().family()), client(), relay(client(), 80), {.flags = kRst | kAck}));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropTcpReset), 1u);
  EXPECT_EQ(count(Counter::TcpResetsSent), 0u);
}

TEST_P(StreamFamilies, AStreamPortSegmentThatIsARstStillGoesToTheKernel) {
  FakeMbuf m(tcp_frame(from_gateway(client().family()), client(), relay(client(), 3478), {.flags = kRst}));
  EXPECT_EQ(run(m), Next::ToKernel) << "its connection is the kernel's";
}

TEST_P(StreamFamilies, ASegmentWithABadChecksumGetsNoRst) {
  auto frame = tcp_frame(from_gateway(client().family()), client(), relay(client(), 80), {});
  frame.back() ^= 0x01;  // the urgent pointer's low byte
  FakeMbuf m(frame);
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropBadTcp), 1u);
}

TEST_F(StreamTest, ResetsAreRateLimitedLikeEchoReplies) {
  InterfaceConfig c = stream_config();
  c.tcp_resets_per_second = 2;
  make_stream_worker(c);
  const SocketAddress client = sock("198.51.100.10:40000");
  Next last = Next::Tx;
  for (int i = 0; i < 3; ++i) {
    FakeMbuf m(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 80}, {}));
    last = run(m);
  }
  EXPECT_EQ(last, Next::Free);
  EXPECT_EQ(count(Counter::TcpResetsSent), 2u);
  EXPECT_EQ(count(Counter::DropTcpResetRateLimited), 1u);
  now += 1'000'000'000;
  FakeMbuf later(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 80}, {}));
  EXPECT_EQ(run(later), Next::Tx);
}

// A SYN flood to a stream port costs the worker a write() per SYN: new
// connections are limited, segments of open ones never are.
TEST_F(StreamTest, NewConnectionsToTheKernelAreRateLimitedButOpenOnesAreNot) {
  InterfaceConfig c = stream_config();
  c.stream_syns_per_second = 2;
  c.stream_syn_burst = 2;
  make_stream_worker(c);
  const SocketAddress client = sock("198.51.100.10:40000");
  for (int i = 0; i < 2; ++i) {
    FakeMbuf syn(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, {.flags = kSyn}));
    EXPECT_EQ(run(syn), Next::ToKernel);
  }
  FakeMbuf third(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, {.flags = kSyn}));
  EXPECT_EQ(run(third), Next::Free);
  EXPECT_EQ(count(Counter::DropStreamSynRateLimited), 1u);
  FakeMbuf ack(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, {.flags = kAck}));
  EXPECT_EQ(run(ack), Next::ToKernel);
  now += 1'000'000'000;
  FakeMbuf later(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, {.flags = kSyn}));
  EXPECT_EQ(run(later), Next::ToKernel);
}

TEST_F(StreamTest, WithAVlanTheTagIsRemovedForTheKernel) {
  InterfaceConfig c = stream_config();
  c.vlan = 42;
  make_stream_worker(c);
  Eth e = from_gateway(Family::V4);
  e.vlan = 42;
  const SocketAddress client = sock("198.51.100.10:40000");
  const auto frame = tcp_frame(e, client, {ip(kRelay4), 3478}, {});
  FakeMbuf m(frame);
  ASSERT_EQ(run(m), Next::ToKernel);
  const auto out = m.bytes();
  ASSERT_EQ(out.size(), frame.size() - 4);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, kTapMac.begin()));
  EXPECT_EQ(be16(out.data() + 12), 0x0800);
  EXPECT_TRUE(std::equal(out.begin() + 12, out.end(), frame.begin() + 16));
}

TEST_F(WorkerTest, WithStreamsOffTcpToTheListenPortGetsARst) {
  const SocketAddress client = sock("198.51.100.10:40000");
  FakeMbuf m(tcp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, {}));
  ASSERT_EQ(run(m), Next::Tx);
  const auto rst = read_tcp(m.bytes());
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->flags, kRst | kAck);
  EXPECT_EQ(count(Counter::TcpResetsSent), 1u);
  EXPECT_EQ(count(Counter::DropUnsupportedProtocol), 0u);
}

TEST_F(WorkerTest, OtherIpProtocolsAreStillDroppedAsUnsupported) {
  auto f = ethernet(from_gateway(Family::V4), 0x0800);
  auto p = ip_packet(ip("198.51.100.10"), ip(kRelay4), 47, std::vector<uint8_t>(24, 0));  // GRE
  f.insert(f.end(), p.begin(), p.end());
  FakeMbuf m(f);
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropUnsupportedProtocol), 1u);
}

TEST(StreamWorker, StreamPortsWithoutAKernelPortAreRefused) {
  WorkerSetup setup;
  setup.config = test_config();
  setup.config.stream_ports = {3478, 0, 0};
  setup.has_port = false;
  setup.tsc_hz = 1'000'000'000;
  EXPECT_FALSE(Worker::create(setup).ok());
}

// ---- Kernel → wire ---------------------------------------------------------

TEST_F(StreamTest, TheKernelsSegmentsLeaveWithOurMacAndTheGatewaysAsTheyCame) {
  const SocketAddress client = sock("198.51.100.10:40000");
  Eth kernel{kTapMac, kTapMac, std::nullopt};  // NOARP: the kernel addresses its own MAC
  const auto frame = tcp_frame(kernel, {ip(kRelay4), 3478}, client, {.seq = 5, .ack = 1001, .flags = kSyn | kAck});
  FakeMbuf m(frame);
  const Verdict v = worker->from_kernel(m.get(), now);
  ASSERT_EQ(v.next, Next::Tx);
  EXPECT_EQ(v.counter, Counter::FromKernel);
  const auto out = m.bytes();
  ASSERT_EQ(out.size(), frame.size());
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, kGatewayMac.begin()));
  EXPECT_TRUE(std::equal(out.begin() + 6, out.begin() + 12, kOurMac.begin()));
  EXPECT_TRUE(std::equal(out.begin() + 12, out.end(), frame.begin() + 12));
}

TEST_F(StreamTest, OnAVlanTheKernelsSegmentsAreTagged) {
  InterfaceConfig c = stream_config();
  c.vlan = 42;
  make_stream_worker(c);
  const SocketAddress client = sock("[2001:db8:2::10]:40000");
  const auto frame = tcp_frame({kTapMac, kTapMac, std::nullopt}, {ip(kRelay6), 5349}, client, {.flags = kAck});
  FakeMbuf m(frame);
  ASSERT_EQ(worker->from_kernel(m.get(), now).next, Next::Tx);
  const auto out = m.bytes();
  ASSERT_EQ(out.size(), frame.size() + 4);
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, kGateway6Mac.begin()));
  EXPECT_EQ(be16(out.data() + 12), 0x8100);
  EXPECT_EQ(be16(out.data() + 14), 42);
  EXPECT_TRUE(std::equal(out.begin() + 16, out.end(), frame.begin() + 12));
}

TEST_F(StreamTest, AKernelSegmentToAnUnresolvedOnLinkHostBecomesAnArpRequest) {
  const SocketAddress neighbour = sock("203.0.113.77:40000");
  FakeMbuf m(tcp_frame({kTapMac, kTapMac, std::nullopt}, {ip(kRelay4), 3478}, neighbour, {.flags = kAck}));
  const Verdict v = worker->from_kernel(m.get(), now);
  EXPECT_EQ(v.next, Next::Tx);
  EXPECT_EQ(v.counter, Counter::ArpRequestsSent);
  EXPECT_EQ(be16(m.bytes().data() + 12), 0x0806);
}

TEST_F(StreamTest, TheKernelsOwnChatterNeverReachesTheWire) {
  // An IPv6 router solicitation from :: and an IPv4 packet from an address
  // that is not the relay's.
  auto rs = ethernet({kTapMac, {0x33, 0x33, 0, 0, 0, 2}, std::nullopt}, 0x86DD);
  auto rs_ip = ip_packet(ip("::"), ip("ff02::2"), 58, {133, 0, 0, 0, 0, 0, 0, 0});
  rs.insert(rs.end(), rs_ip.begin(), rs_ip.end());
  FakeMbuf m1(rs);
  EXPECT_EQ(worker->from_kernel(m1.get(), now).counter, Counter::DropFromKernelUnexpected);
  FakeMbuf m2(tcp_frame({kTapMac, kTapMac, std::nullopt}, sock("198.51.100.99:1"), sock("198.51.100.10:2"), {}));
  EXPECT_EQ(worker->from_kernel(m2.get(), now).counter, Counter::DropFromKernelUnexpected);
  FakeMbuf m3(ethernet({kTapMac, kTapMac, std::nullopt}, 0x0806));
  EXPECT_EQ(worker->from_kernel(m3.get(), now).next, Next::Free);
}

// ---- Transport in the tables ----------------------------------------------

TEST_F(StreamTest, ATcpAndAUdpClientOnOneAddressAreTwoClients) {
  const SocketAddress client = sock("198.51.100.10:40000");
  const SocketAddress udp_peer = sock("192.0.2.20:5000");
  const SocketAddress tcp_peer = sock("192.0.2.30:6000");
  ASSERT_EQ(allocate_over(Transport::Udp, 50000, client), Applied::Ok);
  ASSERT_EQ(allocate_over(Transport::Tcp, 50001, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Udp, 50000, client, 0x4000, udp_peer)), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tcp, 50001, client, 0x4000, tcp_peer)), Applied::Ok);

  // Channel 0x4000 over UDP is the UDP client's.
  FakeMbuf wire(udp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, framed(0x4000, "u")));
  ASSERT_EQ(run(wire), Next::Tx);
  EXPECT_EQ(read_udp_frame(wire.bytes())->dst, udp_peer);
  EXPECT_EQ(read_udp_frame(wire.bytes())->src.port, 50000);

  // The same channel number from the TCP client's stream is the TCP client's.
  FakeMbuf stream(framed(0x4000, "t"), RTE_PKTMBUF_HEADROOM);
  as_stream_input(stream, client, Transport::Tcp);
  ASSERT_EQ(worker->stream_input(stream.get(), now).next, Next::Tx);
  EXPECT_EQ(read_udp_frame(stream.bytes())->dst, tcp_peer);
  EXPECT_EQ(read_udp_frame(stream.bytes())->src.port, 50001);

  // Freeing the TCP allocation leaves the UDP client's channel alone.
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50001})), Applied::Ok);
  FakeMbuf again(udp_frame(from_gateway(Family::V4), client, {ip(kRelay4), 3478}, framed(0x4000, "u")));
  EXPECT_EQ(run(again), Next::Tx);
}

TEST_F(StreamTest, TheDumpGivesTheTransportBackAndReplaysToTheSameDigest) {
  const SocketAddress client = sock("198.51.100.10:40000");
  ASSERT_EQ(allocate_over(Transport::Tls, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tls, 50000, client, 0x4001, sock("192.0.2.20:5000"))), Applied::Ok);
  ASSERT_EQ(apply(permission_over(Transport::Tls, 50000, client, ip("192.0.2.21"))), Applied::Ok);
  const uint64_t digest = worker->tables().digest();

  DumpCursor cursor;
  cursor.start(7);
  std::vector<ring_abi::CommandMessage> out(64);
  const size_t n = worker->tables().dump(cursor, out, 1u << 20, TscClock{kHz, now, now});
  out.resize(n);
  size_t with_client = 0;
  for (const auto& m : out) {
    if (m.kind == ring_abi::CommandKind::DumpEnd) continue;
    ++with_client;
    EXPECT_EQ(ring_abi::transport_of(m.client), Transport::Tls) << static_cast<int>(m.kind);
  }
  EXPECT_EQ(with_client, 3u) << "the allocation, its channel and its permission";

  make_stream_worker(stream_config());
  for (auto m : out) {
    if (m.kind == ring_abi::CommandKind::DumpEnd) continue;
    m.dump_id = 0;
    ASSERT_EQ(apply(m), Applied::Ok);
  }
  EXPECT_EQ(worker->tables().digest(), digest);

  // The digest depends on the transport: the same state over UDP differs.
  make_stream_worker(stream_config());
  ASSERT_EQ(allocate_over(Transport::Udp, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Udp, 50000, client, 0x4001, sock("192.0.2.20:5000"))), Applied::Ok);
  EXPECT_NE(worker->tables().digest(), digest);
}

TEST_F(StreamTest, AnUnknownTransportIsRejected) {
  const SocketAddress client = sock("198.51.100.10:40000");
  auto m = ring_abi::make_create_allocation(AllocationPort{50000}, SocketAddress{ip(kRelay4), 50000}, std::nullopt,
                                            ClientFiveTuple{ClientSocket{client}, ListenSocket{{ip(kRelay4), 3478}}},
                                            Instant::from_ns(now + 600'000'000'000));
  m.client.transport = 9;
  EXPECT_EQ(apply(m), Applied::Rejected);
}

// ---- Peer → stream client (to_stream) -------------------------------------

TEST_F(StreamTest, APeersDatagramReachesATcpClientAsChannelDataPaddedToFour) {
  const SocketAddress client = sock("198.51.100.10:40000");
  const SocketAddress peer = sock("192.0.2.20:5000");
  ASSERT_EQ(allocate_over(Transport::Tcp, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tcp, 50000, client, 0x4002, peer)), Applied::Ok);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), peer, {ip(kRelay4), 50000}, bytes_of("hello")));
  ASSERT_EQ(run(m), Next::ToStream);
  const std::vector<uint8_t> expected = {0x40, 0x02, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o', 0, 0, 0};
  EXPECT_EQ(m.bytes(), expected);
  const ring_abi::PacketMeta& meta = meta_of(m);
  EXPECT_EQ(ring_abi::from_wire(meta.remote), client);
  EXPECT_EQ(ring_abi::transport_of(meta.remote), Transport::Tcp);
  EXPECT_EQ(ring_abi::from_wire(meta.local), (SocketAddress{ip(kRelay4), 3478}));
  EXPECT_EQ(meta.kind, ring_abi::PacketKind::Datagram);
  EXPECT_EQ(count(Counter::PeerToClient), 1u);
  EXPECT_EQ(worker->counters().relayed_of(Direction::PeerToClient, Family::V4, Family::V4).packets, 1u);
}

TEST_F(StreamTest, ChannelDataOfAMultipleOfFourGetsNoPadding) {
  const SocketAddress client = sock("[2001:db8:2::10]:40000");
  const SocketAddress peer = sock("[2001:db8:3::20]:5000");
  ASSERT_EQ(allocate_over(Transport::Tls, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tls, 50000, client, 0x4003, peer)), Applied::Ok);
  FakeMbuf m(udp_frame(from_gateway(Family::V6), peer, {ip(kRelay6), 50000}, bytes_of("abcdefgh")));
  ASSERT_EQ(run(m), Next::ToStream);
  EXPECT_EQ(m.bytes().size(), 12u);
  EXPECT_EQ(ring_abi::transport_of(meta_of(m).remote), Transport::Tls);
  EXPECT_EQ(ring_abi::from_wire(meta_of(m).local), (SocketAddress{ip(kRelay6), 3478}));
}

TEST_F(StreamTest, APermittedPeerWithoutAChannelReachesAStreamClientAsADataIndication) {
  const SocketAddress client = sock("198.51.100.10:40000");
  const SocketAddress peer = sock("[2001:db8:3::20]:5000");
  ASSERT_EQ(allocate_over(Transport::Tcp, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(permission_over(Transport::Tcp, 50000, client, peer.ip)), Applied::Ok);
  FakeMbuf m(udp_frame(from_gateway(Family::V6), peer, {ip(kRelay6), 50000}, bytes_of("odd")));
  ASSERT_EQ(run(m), Next::ToStream);
  const auto bytes = m.bytes();
  auto parsed = stun::parse(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->method(), stun::Method::Data);
  EXPECT_EQ(parsed->message_class(), stun::MessageClass::Indication);
  auto peers = parsed->xor_peer_addresses();
  ASSERT_TRUE(peers && peers->size() == 1);
  EXPECT_EQ((*peers)[0], peer);
  auto data = parsed->data();
  ASSERT_TRUE(data && *data);
  EXPECT_EQ(std::vector<uint8_t>((*data)->begin(), (*data)->end()), bytes_of("odd"));
  EXPECT_EQ(m.bytes().size() % 4, 0u);
  EXPECT_EQ(ring_abi::from_wire(meta_of(m).remote), client);
  EXPECT_EQ(count(Counter::DataToClient), 1u);
}

TEST_F(StreamTest, AUdpClientsDataToAStreamClientRelayedHereGoesToTheStream) {
  // Client A (UDP, allocation 50000) sends to B's relayed address; B is a
  // TCP client (allocation 50001) with a channel bound to A's.
  const SocketAddress a = sock("198.51.100.10:40000");
  const SocketAddress b = sock("198.51.100.11:41000");
  ASSERT_EQ(allocate_over(Transport::Udp, 50000, a), Applied::Ok);
  ASSERT_EQ(allocate_over(Transport::Tcp, 50001, b), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Udp, 50000, a, 0x4000, {ip(kRelay4), 50001})), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tcp, 50001, b, 0x4009, {ip(kRelay4), 50000})), Applied::Ok);
  FakeMbuf m(udp_frame(from_gateway(Family::V4), a, {ip(kRelay4), 3478}, framed(0x4000, "hi")));
  ASSERT_EQ(run(m), Next::ToStream);
  EXPECT_EQ(m.bytes(), (std::vector<uint8_t>{0x40, 0x09, 0x00, 0x02, 'h', 'i', 0, 0}));
  EXPECT_EQ(ring_abi::from_wire(meta_of(m).remote), b);
  EXPECT_EQ(count(Counter::ClientToClient), 1u);
}

// ---- Stream client → peer (StreamInput) -------------------------------------

TEST_F(StreamTest, AStreamClientsChannelDataLeavesAsUdpFromTheRelayedAddress) {
  const SocketAddress client = sock("[2001:db8:2::10]:40000");
  const SocketAddress peer = sock("192.0.2.20:5000");
  ASSERT_EQ(allocate_over(Transport::Tcp, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tcp, 50000, client, 0x4000, peer)), Applied::Ok);
  FakeMbuf m(framed(0x4000, "media!"));
  as_stream_input(m, client, Transport::Tcp);
  const Verdict v = worker->stream_input(m.get(), now);
  ASSERT_EQ(v.next, Next::Tx);
  EXPECT_EQ(v.counter, Counter::ClientToPeer);
  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, (SocketAddress{ip(kRelay4), 50000}));
  EXPECT_EQ(out->dst, peer);
  EXPECT_EQ(out->payload, bytes_of("media!"));
  EXPECT_EQ(out->dst_mac, kGatewayMac);
  EXPECT_TRUE(out->ip_checksum_ok);
  EXPECT_TRUE(out->udp_checksum_ok);
  EXPECT_EQ(worker->counters().relayed_of(Direction::ClientToPeer, Family::V6, Family::V4).packets, 1u);
}

// A TLS client's 5-tuple names the TLS port it reached: its entries are
// installed (that port never leaves as a source) and what it relays goes out.
TEST_F(StreamTest, ATlsClientOnTheTlsPortIsInstalledAndRelays) {
  const SocketAddress client = sock("198.51.100.10:40000");
  const SocketAddress peer = sock("192.0.2.20:5000");
  ASSERT_EQ(allocate_over(Transport::Tls, 50000, client, 5349), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tls, 50000, client, 0x4000, peer, 5349)), Applied::Ok);
  FakeMbuf m(framed(0x4000, "media!"));
  as_stream_input(m, client, Transport::Tls, 5349);
  const Verdict v = worker->stream_input(m.get(), now);
  ASSERT_EQ(v.next, Next::Tx);
  EXPECT_EQ(v.counter, Counter::ClientToPeer);
  // A UDP client's channel still names the listen port and nothing else.
  const SocketAddress udp_client = sock("198.51.100.11:40000");
  ASSERT_EQ(allocate_over(Transport::Udp, 50002, udp_client), Applied::Ok);
  EXPECT_EQ(apply(channel_over(Transport::Udp, 50002, udp_client, 0x4000, peer, 5349)), Applied::Rejected);
  // Stream input on a port that is not a stream port is refused.
  FakeMbuf other(framed(0x4000, "media!"));
  as_stream_input(other, client, Transport::Tls, 4000);
  EXPECT_EQ(worker->stream_input(other.get(), now).counter, Counter::DropStreamInputInvalid);
}

TEST_F(StreamTest, AStreamClientsSendIndicationLeavesAsUdpToThePermittedPeer) {
  const SocketAddress client = sock("198.51.100.10:40000");
  const SocketAddress peer = sock("[2001:db8:3::20]:5000");
  ASSERT_EQ(allocate_over(Transport::Tls, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(permission_over(Transport::Tls, 50000, client, peer.ip)), Applied::Ok);
  std::vector<uint8_t> msg(1500);
  stun::Builder b(msg, stun::Method::Send, stun::MessageClass::Indication, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  const auto data = bytes_of("an odd 13 byt");
  b.add_xor_peer_address(peer).add_data(data);
  msg.resize(*b.finish());
  FakeMbuf m(msg);
  as_stream_input(m, client, Transport::Tls);
  const Verdict v = worker->stream_input(m.get(), now);
  ASSERT_EQ(v.next, Next::Tx);
  EXPECT_EQ(v.counter, Counter::SendToPeer);
  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, (SocketAddress{ip(kRelay6), 50000}));
  EXPECT_EQ(out->dst, peer);
  EXPECT_EQ(out->payload, data);
  EXPECT_TRUE(out->udp_checksum_ok);

  // Without the permission: counted as the UDP path counts it.
  std::vector<uint8_t> other(1500);
  stun::Builder b2(other, stun::Method::Send, stun::MessageClass::Indication, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13});
  b2.add_xor_peer_address(sock("[2001:db8:3::99]:5000")).add_data(data);
  other.resize(*b2.finish());
  FakeMbuf denied(other);
  as_stream_input(denied, client, Transport::Tls);
  EXPECT_EQ(worker->stream_input(denied.get(), now).counter, Counter::DropNoPermission);
}

TEST_F(StreamTest, StreamInputFindsOnlyTheStreamClientsEntries) {
  const SocketAddress client = sock("198.51.100.10:40000");
  ASSERT_EQ(allocate_over(Transport::Udp, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Udp, 50000, client, 0x4000, sock("192.0.2.20:5000"))), Applied::Ok);
  FakeMbuf tcp(framed(0x4000, "x"));
  as_stream_input(tcp, client, Transport::Tcp);
  EXPECT_EQ(worker->stream_input(tcp.get(), now).counter, Counter::DropUnknownChannel);
}

TEST_F(StreamTest, MalformedStreamInputIsDroppedAndCounted) {
  const SocketAddress client = sock("198.51.100.10:40000");
  ASSERT_EQ(allocate_over(Transport::Tcp, 50000, client), Applied::Ok);
  ASSERT_EQ(apply(channel_over(Transport::Tcp, 50000, client, 0x4000, sock("192.0.2.20:5000"))), Applied::Ok);
  FakeMbuf udp_meta(framed(0x4000, "x"));
  as_stream_input(udp_meta, client, Transport::Udp);
  EXPECT_EQ(worker->stream_input(udp_meta.get(), now).counter, Counter::DropStreamInputInvalid);
  FakeMbuf wrong_listen(framed(0x4000, "x"));
  as_stream_input(wrong_listen, client, Transport::Tcp, 9999);
  EXPECT_EQ(worker->stream_input(wrong_listen.get(), now).counter, Counter::DropStreamInputInvalid);
  // Neither ChannelData (first bits 01) nor a Send indication.
  FakeMbuf garbage(std::vector<uint8_t>{0x80, 1, 2, 3, 4, 5, 6, 7});
  as_stream_input(garbage, client, Transport::Tcp);
  EXPECT_EQ(worker->stream_input(garbage.get(), now).counter, Counter::DropStreamInputInvalid);
  FakeMbuf too_long(framed(0x4000, "x", 200));
  as_stream_input(too_long, client, Transport::Tcp);
  EXPECT_EQ(worker->stream_input(too_long.get(), now).counter, Counter::DropChannelDataLength);
}

}  // namespace
}  // namespace relay::dataplane::testing
