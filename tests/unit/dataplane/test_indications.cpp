// Send and Data indications (RFC 8656 §11) through one worker's
// classify(): the browsers' relay path, in all four address-family
// combinations, and every way a Send indication is refused. Messages are
// built and read with the control plane's codec, an implementation
// independent of the worker's.
#include <gtest/gtest.h>

#include "controlplane/core/stun/stun.hpp"
#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

constexpr stun::TransactionId kTransaction = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// A Send indication as a browser sends it: XOR-PEER-ADDRESS, DATA, and
// whatever `extra` adds after them (FINGERPRINT, unknown attributes...).
template <class Extra>
std::vector<uint8_t> send_indication(const SocketAddress& peer, std::span<const uint8_t> data, Extra&& extra) {
  std::vector<uint8_t> out(1500);
  stun::Builder b(out, stun::Method::Send, stun::MessageClass::Indication, kTransaction);
  b.add_xor_peer_address(peer).add_data(data);
  extra(b);
  const auto size = b.finish();
  EXPECT_TRUE(size.ok());
  out.resize(*size);
  return out;
}
std::vector<uint8_t> send_indication(const SocketAddress& peer, std::span<const uint8_t> data) {
  return send_indication(peer, data, [](stun::Builder&) {});
}

struct DataIndication {
  SocketAddress peer;
  std::vector<uint8_t> data;
  bool fingerprint = false;
};
// Reads what the worker wrote; nullopt unless it is a well-formed Data
// indication (the codec checks lengths and, when present, FINGERPRINT).
std::optional<DataIndication> read_data_indication(std::span<const uint8_t> payload) {
  auto m = stun::parse(payload);
  if (!m || m->method() != stun::Method::Data || m->message_class() != stun::MessageClass::Indication)
    return std::nullopt;
  auto peers = m->xor_peer_addresses();
  auto data = m->data();
  if (!peers || peers->size() != 1 || !data || !*data) return std::nullopt;
  return DataIndication{(*peers)[0], {(*data)->begin(), (*data)->end()}, m->has_fingerprint()};
}

using IndicationTest = WorkerTest;
using Indications = FamilyCombinationTest;

TEST_P(Indications, SendIndicationWithAPermissionLeavesAsPlainUdpFromTheRelayAddressToThePeer) {
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip), Applied::Ok);
  const auto data = bytes_of("an ICE check, 21 byte");  // odd length: DATA is padded
  FakeMbuf m(udp_frame(from_gateway(client().family()), client(), listen(), send_indication(peer(), data)));

  ASSERT_EQ(run(m), Next::Tx);

  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, relayed());
  EXPECT_EQ(out->dst, peer());
  EXPECT_EQ(out->payload, data);
  EXPECT_TRUE(out->ip_checksum_ok);
  EXPECT_TRUE(out->udp_checksum_ok);
  EXPECT_EQ(count(Counter::SendToPeer), 1u);
  EXPECT_EQ(worker->counters().relayed_of(Direction::ClientToPeer, client().family(), peer().family()).bytes,
            data.size());
}

TEST_P(Indications, UdpFromAPeerWithAPermissionReachesTheClientAsADataIndication) {
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip), Applied::Ok);
  const auto data = bytes_of("media from the peer");
  // Any port of the permitted IP (RFC 8656 §9).
  SocketAddress other_port = peer();
  other_port.port = 6001;
  FakeMbuf m(udp_frame(from_gateway(peer().family()), other_port, relayed(), data));

  ASSERT_EQ(run(m), Next::Tx);

  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, listen());
  EXPECT_EQ(out->dst, client());
  EXPECT_TRUE(out->ip_checksum_ok);
  EXPECT_TRUE(out->udp_checksum_ok);
  const auto ind = read_data_indication(out->payload);
  ASSERT_TRUE(ind) << "not a well-formed Data indication";
  EXPECT_EQ(ind->peer, other_port);
  EXPECT_EQ(ind->data, data);
  EXPECT_FALSE(ind->fingerprint);
  EXPECT_EQ(count(Counter::DataToClient), 1u);
}

TEST_P(Indications, DataIndicationsCarryAValidFingerprintWhenConfigured) {
  auto c = test_config();
  c.data_indication_fingerprint = true;
  make_worker(c);
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip), Applied::Ok);
  for (const size_t len : {0u, 1u, 2u, 3u, 4u, 333u}) {
    const std::vector<uint8_t> data(len, 0xA5);
    FakeMbuf m(udp_frame(from_gateway(peer().family()), peer(), relayed(), data));
    ASSERT_EQ(run(m), Next::Tx) << len;
    const auto out = read_udp_frame(m.bytes());
    ASSERT_TRUE(out);
    EXPECT_TRUE(out->udp_checksum_ok) << len;
    const auto ind = read_data_indication(out->payload);
    ASSERT_TRUE(ind) << len;
    EXPECT_TRUE(ind->fingerprint);
    EXPECT_EQ(ind->data, data);
  }
}

TEST_P(Indications, ABoundChannelWinsOverAPermission) {
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip), Applied::Ok);
  bind(50000, client(), 0x4001, peer());
  const auto data = bytes_of("x");
  FakeMbuf m(udp_frame(from_gateway(peer().family()), peer(), relayed(), data));
  ASSERT_EQ(run(m), Next::Tx);
  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->payload, channel_data(0x4001, data));
  EXPECT_EQ(count(Counter::PeerToClient), 1u);
}

TEST_P(Indications, AnExpiredPermissionIsNeverUsedInEitherDirection) {
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip, 1000), Applied::Ok);
  now += 1001;
  FakeMbuf send(udp_frame(from_gateway(client().family()), client(), listen(), send_indication(peer(), bytes_of("a"))));
  FakeMbuf back(udp_frame(from_gateway(peer().family()), peer(), relayed(), bytes_of("b")));
  EXPECT_EQ(run(send), Next::Free);
  EXPECT_EQ(run(back), Next::Free);
  EXPECT_EQ(count(Counter::DropExpired), 2u);
}

TEST_P(Indications, ReinstallingAPermissionRefreshesIt) {
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip, 1000), Applied::Ok);
  ASSERT_EQ(permit(50000, client(), peer().ip, 5000), Applied::Ok);
  now += 2000;
  FakeMbuf send(udp_frame(from_gateway(client().family()), client(), listen(), send_indication(peer(), bytes_of("a"))));
  EXPECT_EQ(run(send), Next::Tx);
  EXPECT_EQ(worker->counters().tables.permissions, 1u);
}

TEST_P(Indications, ARemovedPermissionIsGoneInBothDirectionsAndRemovingItAgainIsOk) {
  allocate(50000, client());
  ASSERT_EQ(permit(50000, client(), peer().ip), Applied::Ok);
  const SocketAddress listen_socket = listen();
  const SocketAddress relay{relayed().ip, 50000};
  const auto remove = ring_abi::make_remove_permission(
      ClientFiveTuple{ClientSocket{client()}, ListenSocket{listen_socket}}, peer().ip, relay);
  EXPECT_EQ(apply(remove), Applied::Ok);
  EXPECT_EQ(apply(remove), Applied::Ok);
  FakeMbuf send(udp_frame(from_gateway(client().family()), client(), listen(), send_indication(peer(), bytes_of("a"))));
  FakeMbuf back(udp_frame(from_gateway(peer().family()), peer(), relayed(), bytes_of("b")));
  EXPECT_EQ(run(send), Next::Free);
  EXPECT_EQ(run(back), Next::Free);
  EXPECT_EQ(count(Counter::DropNoPermission), 1u);
  EXPECT_EQ(worker->counters().tables.permissions, 0u);
}

INSTANTIATE_TEST_SUITE_P(AllFamilies, Indications, ::testing::ValuesIn(kFamilyCombinations),
                         [](const auto& info) { return std::string(info.param.name); });

const SocketAddress kClient = *SocketAddress::parse("198.51.100.10:40000");
const SocketAddress kListen = *SocketAddress::parse("203.0.113.1:3478");
const SocketAddress kPeer = *SocketAddress::parse("192.0.2.20:5000");
const SocketAddress kRelayed = *SocketAddress::parse("203.0.113.1:50000");

class SendIndicationTest : public IndicationTest {
 protected:
  void SetUp() override {
    IndicationTest::SetUp();
    allocate(50000, kClient);
    ASSERT_EQ(permit(50000, kClient, kPeer.ip), Applied::Ok);
  }
  // Runs a Send indication payload from kClient; returns where it went.
  Next send(const std::vector<uint8_t>& payload) {
    FakeMbuf m(udp_frame(from_gateway(Family::V4), kClient, kListen, payload));
    return run(m);
  }
  std::vector<uint8_t> valid() { return send_indication(kPeer, bytes_of("data")); }
};

TEST_F(SendIndicationTest, WithFingerprintAndAttributesTheServerKnowsIsRelayed) {
  EXPECT_EQ(send(send_indication(kPeer, bytes_of("data"), [](stun::Builder& b) {
              b.add_dont_fragment().add_software("browser").add_fingerprint();
            })),
            Next::Tx);
  EXPECT_EQ(count(Counter::SendToPeer), 1u);
}

TEST_F(SendIndicationTest, AnUnknownComprehensionOptionalAttributeIsIgnored) {
  const uint8_t value[4] = {1, 2, 3, 4};
  EXPECT_EQ(send(send_indication(kPeer, bytes_of("data"), [&](stun::Builder& b) { b.add_attribute(0xC001, value); })),
            Next::Tx);
}

TEST_F(SendIndicationTest, AnUnknownComprehensionRequiredAttributeDiscardsIt) {
  const uint8_t value[4] = {1, 2, 3, 4};
  EXPECT_EQ(send(send_indication(kPeer, bytes_of("data"), [&](stun::Builder& b) { b.add_attribute(0x0031, value); })),
            Next::Free);
  EXPECT_EQ(count(Counter::DropBadIndication), 1u);
}

TEST_F(SendIndicationTest, AFingerprintThatFailsIsDroppedAndCounted) {
  auto msg = send_indication(kPeer, bytes_of("data"), [](stun::Builder& b) { b.add_fingerprint(); });
  msg.back() ^= 1;
  EXPECT_EQ(send(msg), Next::Free);
  EXPECT_EQ(count(Counter::DropIndicationFingerprint), 1u);
}

TEST_F(SendIndicationTest, MalformedIndicationsAreDroppedAndCountedNeverAnswered) {
  std::vector<std::pair<const char*, std::vector<uint8_t>>> cases;
  {
    auto m = valid();
    m[3] = static_cast<uint8_t>(m[3] + 4);  // length claims more than arrived
    cases.emplace_back("lying message length", m);
  }
  {
    auto m = valid();
    m.resize(m.size() - 4);  // length claims what arrived plus 4
    cases.emplace_back("truncated", m);
  }
  {
    auto m = valid();
    m[3] = static_cast<uint8_t>(m[3] - 2);
    m.resize(m.size() - 2);
    cases.emplace_back("length not a multiple of 4", m);
  }
  {
    auto m = valid();
    // DATA's own length beyond the message (DATA is the last attribute).
    const size_t data_attr = m.size() - 8;
    m[data_attr + 3] = 200;
    cases.emplace_back("DATA longer than the datagram", m);
  }
  cases.emplace_back("two XOR-PEER-ADDRESS", send_indication(kPeer, bytes_of("data"), [](stun::Builder& b) {
                       b.add_xor_peer_address(*SocketAddress::parse("192.0.2.21:5000"));
                     }));
  cases.emplace_back("two DATA",
                     send_indication(kPeer, bytes_of("data"), [](stun::Builder& b) { b.add_data(bytes_of("more")); }));
  {
    std::vector<uint8_t> out(100);
    stun::Builder b(out, stun::Method::Send, stun::MessageClass::Indication, kTransaction);
    b.add_xor_peer_address(kPeer);
    out.resize(*b.finish());
    cases.emplace_back("no DATA", out);
  }
  {
    std::vector<uint8_t> out(100);
    stun::Builder b(out, stun::Method::Send, stun::MessageClass::Indication, kTransaction);
    b.add_data(bytes_of("data"));
    out.resize(*b.finish());
    cases.emplace_back("no XOR-PEER-ADDRESS", out);
  }
  {
    auto m = valid();
    m[20 + 5] = 3;  // XOR-PEER-ADDRESS family 3
    cases.emplace_back("unknown address family", m);
  }
  {
    auto m = send_indication(kPeer, bytes_of("data"), [](stun::Builder& b) { b.add_fingerprint(); });
    // An attribute after FINGERPRINT: grow the length by 8 and append SOFTWARE "abcd".
    m[3] = static_cast<uint8_t>(m[3] + 8);
    for (const uint8_t byte : std::initializer_list<uint8_t>{0x80, 0x22, 0x00, 0x04, 'a', 'b', 'c', 'd'}) m.push_back(byte);
    cases.emplace_back("attribute after FINGERPRINT", m);
  }
  for (const auto& [what, payload] : cases) {
    const uint64_t before = count(Counter::DropBadIndication);
    EXPECT_EQ(send(payload), Next::Free) << what;
    EXPECT_EQ(count(Counter::DropBadIndication), before + 1) << what;
  }
  EXPECT_EQ(count(Counter::ToControlPlane), 0u);
  EXPECT_EQ(count(Counter::SendToPeer), 0u);
}

TEST_F(SendIndicationTest, WithoutAPermissionForThePeerIsDroppedAsNoPermission) {
  EXPECT_EQ(send(send_indication(sock("192.0.2.99:5000"), bytes_of("data"))), Next::Free);
  EXPECT_EQ(count(Counter::DropNoPermission), 1u);
}

TEST_F(SendIndicationTest, FromAFiveTupleWithoutAnAllocationIsDroppedAsNoAllocation) {
  FakeMbuf m(udp_frame(from_gateway(Family::V4), sock("198.51.100.10:40001"), kListen, valid()));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropNoAllocation), 1u);
}

TEST_F(SendIndicationTest, AfterTheAllocationIsFreedItsPermissionsAreDead) {
  ASSERT_EQ(apply(ring_abi::make_free_allocation(AllocationPort{50000})), Applied::Ok);
  FakeMbuf back(udp_frame(from_gateway(Family::V4), kPeer, kRelayed, bytes_of("b")));
  EXPECT_EQ(send(valid()), Next::Free);
  EXPECT_EQ(run(back), Next::Free);
  EXPECT_EQ(count(Counter::DropExpired), 2u);
}

TEST_F(SendIndicationTest, PeersThatAreNoAddressOnTheWireOrOurOwnServicesAreDenied) {
  // The data plane trusts the control plane's permissions, but judges the
  // port and the form of the address itself.
  const SocketAddress mapped = sock("[::ffff:192.0.2.20]:5000");
  const SocketAddress listen_port = sock("203.0.113.1:3478");
  ASSERT_EQ(permit(50000, kClient, mapped.ip), Applied::Ok);
  ASSERT_EQ(permit(50000, kClient, listen_port.ip), Applied::Ok);
  EXPECT_EQ(send(send_indication(mapped, bytes_of("a"))), Next::Free);
  EXPECT_EQ(send(send_indication(listen_port, bytes_of("a"))), Next::Free);
  EXPECT_EQ(send(send_indication(sock("192.0.2.20:0"), bytes_of("a"))), Next::Free);
  EXPECT_EQ(count(Counter::DropDeniedPeer), 3u);
}

TEST_F(SendIndicationTest, OtherStunIndicationsStillGoToTheControlPlane) {
  std::vector<uint8_t> out(100);
  stun::Builder b(out, stun::Method::Binding, stun::MessageClass::Indication, kTransaction);
  out.resize(*b.finish());
  EXPECT_EQ(send(out), Next::ToControlPlane);
}

TEST_F(SendIndicationTest, ADataIndicationGrowingPastTheMtuIsDroppedNotFragmented) {
  ASSERT_EQ(permit(50000, kClient, ip("2001:db8:3::20")), Applied::Ok);
  // A 1500-byte IPv6 packet from the peer: the Data indication adds 48 bytes.
  const std::vector<uint8_t> data(1500 - 40 - 8, 0xAB);
  FakeMbuf m(udp_frame(from_gateway(Family::V6), sock("[2001:db8:3::20]:5000"), sock("[2001:db8:1::1]:50000"), data));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropTooBig), 1u);
}

TEST_F(SendIndicationTest, InstallsNamingAnotherRelayOrADeadAllocationAreRejected) {
  const ClientFiveTuple five{ClientSocket{kClient}, ListenSocket{kListen}};
  EXPECT_EQ(apply(ring_abi::make_install_permission(five, kPeer.ip, sock("203.0.113.9:50000"),
                                                    Instant::from_ns(now + 1000))),
            Applied::Rejected);
  EXPECT_EQ(apply(ring_abi::make_install_permission(five, ip("2001:db8:3::20"), kRelayed, Instant::from_ns(now + 1000))),
            Applied::Rejected);  // relay address of the other family
  EXPECT_EQ(apply(ring_abi::make_install_permission(five, kPeer.ip, sock("203.0.113.1:50001"),
                                                    Instant::from_ns(now + 1000))),
            Applied::Rejected);  // no allocation on 50001
}

TEST_F(SendIndicationTest, AFullPermissionTableRefusesInstallsAndSaysSo) {
  auto c = test_config();
  c.max_permissions = 2;
  make_worker(c);
  allocate(50000, kClient);
  ASSERT_EQ(permit(50000, kClient, ip("192.0.2.20")), Applied::Ok);
  ASSERT_EQ(permit(50000, kClient, ip("192.0.2.21")), Applied::Ok);
  EXPECT_EQ(permit(50000, kClient, ip("192.0.2.22")), Applied::TableFull);
  EXPECT_EQ(count(Counter::CommandTableFull), 1u);
}

// Two browsers behind symmetric NATs: each relays to the other's relayed
// address, as libwebrtc and nICEr do with a relay-only policy.
class ClientToClient : public IndicationTest {
 protected:
  const SocketAddress client_a = sock("198.51.100.10:40000");
  const SocketAddress client_b = sock("[2001:db8:2::10]:41000");
  void SetUp() override {
    IndicationTest::SetUp();
    allocate(50000, client_a);
    allocate(50001, client_b);
    ASSERT_EQ(permit(50000, client_a, ip("203.0.113.1")), Applied::Ok);
  }
};

TEST_F(ClientToClient, ASendIndicationReachesTheOtherClientAsADataIndication) {
  ASSERT_EQ(permit(50001, client_b, ip("203.0.113.1")), Applied::Ok);
  const auto data = bytes_of("STUN binding request inside");
  FakeMbuf m(udp_frame(from_gateway(Family::V4), client_a, kListen,
                       send_indication(sock("203.0.113.1:50001"), data)));

  ASSERT_EQ(run(m), Next::Tx);

  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->src, sock("[2001:db8:1::1]:3478"));
  EXPECT_EQ(out->dst, client_b);
  EXPECT_TRUE(out->udp_checksum_ok);
  const auto ind = read_data_indication(out->payload);
  ASSERT_TRUE(ind);
  EXPECT_EQ(ind->peer, sock("203.0.113.1:50000"));
  EXPECT_EQ(ind->data, data);
  EXPECT_EQ(count(Counter::ClientToClient), 1u);
}

TEST_F(ClientToClient, ASendIndicationReachesAClientWithAChannelAsChannelData) {
  bind(50001, client_b, 0x4002, sock("203.0.113.1:50000"));
  const auto data = bytes_of("x");
  FakeMbuf m(udp_frame(from_gateway(Family::V4), client_a, kListen, send_indication(sock("203.0.113.1:50001"), data)));
  ASSERT_EQ(run(m), Next::Tx);
  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_EQ(out->payload, channel_data(0x4002, data));
}

TEST_F(ClientToClient, ChannelDataReachesAClientWithOnlyAPermissionAsADataIndication) {
  bind(50000, client_a, 0x4001, sock("203.0.113.1:50001"));
  ASSERT_EQ(permit(50001, client_b, ip("203.0.113.1")), Applied::Ok);
  const auto data = bytes_of("after ChannelBind on one side only");
  FakeMbuf m(udp_frame(from_gateway(Family::V4), client_a, kListen, channel_data(0x4001, data)));
  ASSERT_EQ(run(m), Next::Tx);
  const auto out = read_udp_frame(m.bytes());
  ASSERT_TRUE(out);
  EXPECT_TRUE(out->udp_checksum_ok);
  const auto ind = read_data_indication(out->payload);
  ASSERT_TRUE(ind);
  EXPECT_EQ(ind->peer, sock("203.0.113.1:50000"));
  EXPECT_EQ(ind->data, data);
}

TEST_F(ClientToClient, WithoutThePeersPermissionNothingIsDelivered) {
  FakeMbuf m(udp_frame(from_gateway(Family::V4), client_a, kListen,
                       send_indication(sock("203.0.113.1:50001"), bytes_of("x"))));
  EXPECT_EQ(run(m), Next::Free);
  EXPECT_EQ(count(Counter::DropUnknownPeer), 1u);
}

}  // namespace
}  // namespace relay::dataplane::testing
