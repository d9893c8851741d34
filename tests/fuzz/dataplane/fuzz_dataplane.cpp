// Raw frames through parse + classify + rewrite of one worker, with tables
// installed from the input, no EAL (mbufs are set up by hand).
//
// Input: [head][8 bytes per command][frames: len(2, BE) flags(1) bytes]
//   head: bits 0-3 = command count, bit 4 = Data indications with FINGERPRINT,
//         bit 5 = streams on (TCP to 3478/5349 to the kernel), bit 6 = odd
//         frames are a stream client's StreamInput instead, bit 7 = they are
//         what the kernel sent on the stream TAP instead.
//   command: kind, client index, peer index, channel low byte, port low
//            byte, expiry selector, client transport (0-3, 3 unknown), 1
//            unused; addresses come from small pools
//            so frames can hit what was installed (channels, permissions).
//   flags: bit 0/1 = RX IP/L4 checksum GOOD, bit 2 = IP BAD, bit 3 = two
//          segments, bits 4-7 = headroom / 8.
// Invariants checked: no crash or sanitizer report; when no command carried
// an expiry in the past, the replica digest kept command by command equals
// the digest of a full scan (the restart dump); every mbuf stays inside
// its buffer; whatever is sent for a frame whose checksums we verified
// ourselves carries valid IP and UDP checksums; STUN handed to the control
// plane is exactly its UDP payload with sane metadata; what goes to a
// stream client is a whole number of 4-byte words with a stream client's
// address.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "dataplane/worker.hpp"
#include "tests/unit/dataplane/test_support.hpp"

namespace {

using namespace relay;
using namespace relay::dataplane;

constexpr uint64_t kHz = 1'000'000'000;
constexpr uint64_t kNow = 1'000'000'000'000;

// Parsed once: text parsing per command cost more than applying it.
SocketAddress sa(const char* text) { return *SocketAddress::parse(text); }
const SocketAddress kClients[] = {sa("198.51.100.10:40000"), sa("[2001:db8:2::10]:40000"), sa("198.51.100.11:40001"),
                                  sa("[2001:db8:2::11]:40001")};
const SocketAddress kPeers[] = {sa("192.0.2.20:5000"), sa("[2001:db8:3::20]:5000"), sa("203.0.113.1:49153"),
                                sa("[2001:db8:1::1]:49152"), sa("203.0.113.50:6000"), sa("[2001:db8:1::50]:6000")};
const IpAddress kRelayV4 = *IpAddress::parse("203.0.113.1");
const IpAddress kRelayV6 = *IpAddress::parse("2001:db8:1::1");
const IpAddress kGatewayV4 = *IpAddress::parse("203.0.113.254");
const IpAddress kGatewayV6 = *IpAddress::parse("2001:db8:1::fe");

InterfaceConfig make_config() {
  InterfaceConfig c;
  c.mac = {0x02, 0, 0, 0, 0, 0x01};
  c.ipv4 = InterfaceAddress{kRelayV4, 24, kGatewayV4};
  c.ipv6 = InterfaceAddress{kRelayV6, 64, kGatewayV6};
  c.allocation_ports = {49152, 49159};
  c.max_channels = 16;
  c.max_permissions = 16;
  c.neighbour_capacity = 8;
  c.stun_limiter_sets = 1;
  return c;
}
const InterfaceConfig kConfig = make_config();
const InterfaceConfig kFingerprintConfig = [] {
  InterfaceConfig c = make_config();
  c.data_indication_fingerprint = true;
  return c;
}();

ring_abi::CommandMessage command_from(const uint8_t* b) {
  const SocketAddress& client = kClients[b[1] % 4];
  const SocketAddress& peer = kPeers[b[2] % 6];
  const auto channel = static_cast<uint16_t>(0x4000 | b[3]);
  const auto port = static_cast<uint16_t>(49152 + b[4] % 10);  // some outside the range
  const Instant expiry = Instant::from_ns(b[5] % 4 == 0 ? kNow - 1 : kNow + 1'000'000'000ull * b[5]);
  const SocketAddress listen{client.ip.is_v4() ? kRelayV4 : kRelayV6, 3478};
  const SocketAddress relay{peer.ip.is_v4() ? kRelayV4 : kRelayV6, port};
  ClientFiveTuple five{ClientSocket{client}, ListenSocket{listen}, static_cast<Transport>(b[6] % 3)};
  const bool unknown_transport = b[6] % 4 == 3;
  switch (b[0] % 7) {
    case 0: {
      auto m = ring_abi::make_create_allocation(AllocationPort{port}, SocketAddress{kRelayV4, port},
                                                SocketAddress{kRelayV6, port}, five, expiry);
      if (unknown_transport) m.client.transport = 3;
      return m;
    }
    case 1: return ring_abi::make_update_allocation(AllocationPort{port}, expiry);
    case 2: return ring_abi::make_free_allocation(AllocationPort{port});
    case 3: return ring_abi::make_install_channel(five, ChannelNumber{channel}, PeerSocket{peer}, relay, expiry);
    case 4: return ring_abi::make_install_permission(five, peer.ip, relay, expiry);
    case 5: return ring_abi::make_remove_permission(five, peer.ip, relay);
    default: return ring_abi::make_remove_channel(five, ChannelNumber{channel}, PeerSocket{peer}, relay);
  }
}

// The digest of what a full scan finds: the dump's allocations and channels.
uint64_t scanned_digest(Worker& worker) {
  DumpCursor cursor;
  cursor.start(1);
  ring_abi::CommandMessage out[64];
  uint64_t digest = 0;
  while (cursor.active()) {
    const size_t n = worker.tables().dump(cursor, out, UINT64_MAX, TscClock{kHz, kNow, kNow});
    for (size_t i = 0; i < n; ++i) {
      if (out[i].kind == ring_abi::CommandKind::CreateAllocation || out[i].kind == ring_abi::CommandKind::InstallChannel)
        digest ^= ring_abi::entry_digest(out[i]);
    }
  }
  return digest;
}

void check_to_stream(rte_mbuf* m) {
  if (m->data_off + m->data_len > m->buf_len || m->pkt_len != m->data_len || m->data_len % 4 != 0) std::abort();
  const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(m));
  const auto t = ring_abi::transport_of(meta->remote);
  if (!ring_abi::from_wire(meta->remote) || !ring_abi::from_wire(meta->local) || !t || *t == Transport::Udp)
    std::abort();
}

void check_sent(const rte_mbuf* m, bool we_verified) {
  if (m->data_off + m->data_len > m->buf_len || m->pkt_len != m->data_len || m->data_len < 14) std::abort();
  if (!we_verified) return;
  const auto* f = rte_pktmbuf_mtod(m, const uint8_t*);
  const auto out = testing::read_udp_frame({f, m->data_len});
  if (out && (!out->ip_checksum_ok || !out->udp_checksum_ok)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  WorkerSetup setup;
  setup.config = (data[0] & 0x10) != 0 ? kFingerprintConfig : kConfig;
  setup.has_port = false;
  setup.tsc_hz = kHz;
  setup.table_secret = HashSecret{0x243F6A8885A308D3, 0x13198A2E03707344};  // reproducible table layout
  if ((data[0] & 0x20) != 0) {
    setup.config.stream_ports = {3478, 5349, 0};
    setup.kernel_port = 1;
    setup.kernel_mac = {0x02, 0, 0, 0, 0, 0x5A};
  }
  auto worker = std::move(Worker::create(setup).value());
  const MacAddress gw = {0x02, 0, 0, 0, 0, 0xFE};
  worker->neighbours().learn(Family::V4, kGatewayV4.bytes.data(), gw.data(), kNow);
  worker->neighbours().learn(Family::V6, kGatewayV6.bytes.data(), gw.data(), kNow);

  size_t pos = 1;
  bool expired = false;
  for (unsigned i = 0; i < data[0] % 16 && pos + 8 <= size; ++i, pos += 8) {
    const ring_abi::CommandMessage m = command_from(data + pos);
    expired = expired || (m.expiry_ns != 0 && m.expiry_ns <= kNow);
    worker->apply(m, kNow, kNow);
  }
  if (!expired && scanned_digest(*worker) != worker->tables().digest()) std::abort();

  std::vector<std::unique_ptr<testing::FakeMbuf>> mbufs;
  std::vector<uint64_t> flags;
  while (pos + 3 <= size && mbufs.size() < kMaxBurst) {
    const size_t len = std::min<size_t>(load_be16(data + pos), size - pos - 3);
    const uint8_t fl = data[pos + 2];
    const std::span<const uint8_t> frame{data + pos + 3, std::min<size_t>(len, 2048)};
    auto m = std::make_unique<testing::FakeMbuf>(frame, static_cast<uint16_t>((fl >> 4) * 8));
    uint64_t ol = 0;
    if (fl & 1) ol |= RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    if (fl & 2) ol |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    if (fl & 4) ol |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
    m->get()->ol_flags = ol;
    if (fl & 8) m->get()->nb_segs = 2;
    flags.push_back(ol);
    mbufs.push_back(std::move(m));
    pos += 3 + len;
  }
  if (mbufs.empty()) return 0;
  std::vector<rte_mbuf*> burst;
  for (auto& m : mbufs) burst.push_back(m->get());
  // Odd frames as a stream client's input or the kernel's output: taken
  // out of the burst and judged one by one, like drain_control_plane and
  // drain_kernel do.
  if ((data[0] & 0xC0) != 0) {
    std::vector<rte_mbuf*> wire;
    std::vector<uint64_t> wire_flags;
    for (size_t i = 0; i < burst.size(); ++i) {
      if (i % 2 == 0) {
        wire.push_back(burst[i]);
        wire_flags.push_back(flags[i]);
        continue;
      }
      Verdict v;
      if ((data[0] & 0x40) != 0) {
        auto* meta = static_cast<ring_abi::PacketMeta*>(rte_mbuf_to_priv(burst[i]));
        *meta = ring_abi::PacketMeta{};
        const SocketAddress& client = kClients[i / 2 % 4];
        meta->remote = ring_abi::to_wire(ClientSocket{client}, static_cast<Transport>(1 + i / 8 % 2));
        meta->local = ring_abi::to_wire(SocketAddress{client.ip.is_v4() ? kRelayV4 : kRelayV6, 3478});
        meta->kind = ring_abi::PacketKind::StreamInput;
        v = worker->stream_input(burst[i], kNow);
      } else {
        v = worker->from_kernel(burst[i], kNow);
      }
      if (v.next == Next::Tx) check_sent(burst[i], false);
      if (v.next == Next::ToStream) check_to_stream(burst[i]);
    }
    burst = wire;
    flags = wire_flags;
    if (burst.empty()) return 0;
  }
  Next next[kMaxBurst];
  worker->classify(burst, kNow, kNow, next);
  for (size_t i = 0; i < burst.size(); ++i) {
    if (next[i] == Next::Tx) check_sent(burst[i], flags[i] == 0);
    if (next[i] == Next::ToStream) check_to_stream(burst[i]);
    if (next[i] == Next::ToKernel && burst[i]->data_off + burst[i]->data_len > burst[i]->buf_len) std::abort();
    if (next[i] == Next::ToControlPlane) {
      const auto* meta = static_cast<const ring_abi::PacketMeta*>(rte_mbuf_to_priv(burst[i]));
      if (!ring_abi::from_wire(meta->remote) || !ring_abi::from_wire(meta->local)) std::abort();
      if (burst[i]->data_len < kStunHeaderSize) std::abort();
    }
  }
  return 0;
}
