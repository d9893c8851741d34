// bench-dataplane: one worker on the testpmd-style net_ring loopback (no
// kernel, no NIC). The driver (same lcore, not timed) fills the RX ring
// with 100-byte-payload frames whose addresses are patched per packet to a
// uniformly random installed channel (ChannelData both ways) or permission
// (Send indications out, Data indications back), so lookups miss the cache
// the way a full table would; only Worker::poll_once() is timed. Prints one
// JSON line per case; see scripts/bench-dataplane.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_hash.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/loopback.hpp"
#include "dataplane/setup.hpp"
#include "dataplane/worker.hpp"

namespace relay::dataplane {
namespace {

constexpr uint16_t kBurst = 32;
constexpr uint16_t kPayload = 100;
constexpr uint16_t kAllocations = 16384;  // ports 49152..65535
constexpr MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddress kGatewayMac = {0x02, 0, 0, 0, 0, 0xFE};

struct Options {
  uint64_t packets = 4'000'000;
  bool quick = false;
  bool hugepages = false;
  uint32_t only_channels = 0;  // 0: every size
  std::string only_direction;  // empty: every direction (scripts/bench-profile runs one at a time)
  bool lookup_only = false;
};

IpAddress ip(const char* t) { return *IpAddress::parse(t); }

InterfaceConfig bench_config(uint32_t channels) {
  InterfaceConfig c;
  c.mac = kOurMac;
  c.ipv4 = InterfaceAddress{ip("203.0.113.1"), 24, ip("203.0.113.254")};
  c.ipv6 = InterfaceAddress{ip("2001:db8:1::1"), 64, ip("2001:db8:1::fe")};
  c.max_channels = channels;
  c.max_permissions = channels;
  c.burst_size = kBurst;
  return c;
}

// Channel i belongs to allocation i % 16384 (one client each) and has its
// own peer, so every channel and every binding key is distinct.
SocketAddress client_of(uint32_t i) {
  const uint32_t a = i % kAllocations;
  return {IpAddress::v4(0xC6336400u | (a % 250 + 1)), static_cast<uint16_t>(1024 + a)};  // 198.51.100.x
}
uint16_t allocation_of(uint32_t i) { return static_cast<uint16_t>(49152 + i % kAllocations); }
uint16_t channel_of(uint32_t i) { return static_cast<uint16_t>(0x4000 + i / kAllocations); }
SocketAddress peer_of(uint32_t i, Family f) {
  if (f == Family::V4)
    return {IpAddress::v4(0xC0000200u | (i % 254 + 1)), static_cast<uint16_t>(1024 + i / 254)};  // 192.0.2.x
  std::array<uint8_t, 16> b = {0x20, 0x01, 0x0d, 0xb8, 0, 3};
  store_be32(b.data() + 12, i + 1);
  return {IpAddress::v6(b), 5000};
}

// Channel (or permission) i: allocation i % 16384's client to peer i.
// With permissions_only, peer i's IP is permitted instead of bound; the
// (client, peer IP) keys stay distinct up to lcm(16384, 254) ≈ 2M entries.
void install(Worker& w, uint32_t channels, Family peer_family, uint64_t now_tsc, uint64_t mono,
             bool permissions_only = false) {
  const Instant expiry = Instant::from_ns(mono + 3600'000'000'000ull);
  const SocketAddress listen{ip("203.0.113.1"), 3478};
  for (uint32_t a = 0; a < kAllocations && a < channels; ++a) {
    const uint16_t port = allocation_of(a);
    w.apply(ring_abi::make_create_allocation(AllocationPort{port}, SocketAddress{ip("203.0.113.1"), port},
                                             SocketAddress{ip("2001:db8:1::1"), port},
                                             ClientFiveTuple{ClientSocket{client_of(a)}, ListenSocket{listen}}, expiry),
            now_tsc, mono);
  }
  for (uint32_t i = 0; i < channels; ++i) {
    const SocketAddress relay{peer_family == Family::V4 ? ip("203.0.113.1") : ip("2001:db8:1::1"), allocation_of(i)};
    const ClientFiveTuple client{ClientSocket{client_of(i)}, ListenSocket{listen}};
    const auto m = permissions_only
                       ? ring_abi::make_install_permission(client, peer_of(i, peer_family).ip, relay, expiry)
                       : ring_abi::make_install_channel(client, ChannelNumber{channel_of(i)},
                                                        PeerSocket{peer_of(i, peer_family)}, relay, expiry);
    if (w.apply(m, now_tsc, mono) != Applied::Ok) {
      std::fprintf(stderr, "bench: install %u refused\n", i);
      std::exit(1);
    }
  }
}

// A Send indication (RFC 8656 §11.1) as a browser sends it: XOR-PEER-ADDRESS
// then DATA; the address is patched per packet by patch_peer.
constexpr size_t kXorPeerValue = 20 + 4;  // offset of XOR-PEER-ADDRESS's value in the message
std::vector<uint8_t> send_indication(Family peer_family, uint16_t data_len) {
  const uint16_t address_len = peer_family == Family::V4 ? 8 : 20;
  std::vector<uint8_t> m(20 + 4 + address_len + 4 + data_len, 0xAB);
  store_be16(m.data(), kSendIndicationType);
  store_be16(m.data() + 2, static_cast<uint16_t>(m.size() - 20));
  store_be32(m.data() + 4, kStunMagicCookie);
  std::memset(m.data() + 8, 0x5A, 12);
  store_be16(m.data() + 20, static_cast<uint16_t>(stun::AttributeType::XorPeerAddress));
  store_be16(m.data() + 22, address_len);
  m[kXorPeerValue] = 0;
  m[kXorPeerValue + 1] = static_cast<uint8_t>(peer_family);
  store_be16(m.data() + kXorPeerValue + address_len, static_cast<uint16_t>(stun::AttributeType::Data));
  store_be16(m.data() + kXorPeerValue + address_len + 2, data_len);
  return m;
}
void patch_peer(uint8_t* msg, const SocketAddress& peer) {
  uint8_t* v = msg + kXorPeerValue;
  store_be16(v + 2, static_cast<uint16_t>(peer.port ^ (kStunMagicCookie >> 16)));
  for (size_t i = 0; i < peer.ip.size(); ++i) v[4 + i] = peer.ip.bytes[i] ^ msg[4 + i];
}

// Valid IP and UDP checksums (untimed driver work): the mbufs also carry
// RX_IP/L4_CKSUM_GOOD, as from a NIC with RX checksum offload, and the
// worker updates the checksum it trusts incrementally.
void fill_checksums(uint8_t* f, bool v6) {
  uint8_t* ipp = f + 14;
  uint8_t* udp = ipp + (v6 ? 40 : 20);
  const uint16_t udp_len = load_be16(udp + 4);
  store_be16(udp + 6, 0);
  const uint32_t pseudo = wire::pseudo_header_sum(ipp + (v6 ? 8 : 12), ipp + (v6 ? 24 : 16), v6 ? 16 : 4,
                                                  wire::kProtoUdp, udp_len);
  wire::store_checksum(udp + 6, wire::finish_udp_checksum(wire::sum_bytes(udp, udp_len, pseudo)));
  if (!v6) {
    store_be16(ipp + 10, 0);
    wire::store_checksum(ipp + 10, wire::finish_checksum(wire::sum_bytes(ipp, 20)));
  }
}

// A frame with valid headers but no checksums yet (see fill_checksums).
std::vector<uint8_t> frame(const SocketAddress& src, const SocketAddress& dst, uint16_t payload_len) {
  const bool v4 = src.ip.is_v4();
  std::vector<uint8_t> f(14 + (v4 ? 20 : 40) + 8 + payload_len, 0);
  std::memcpy(f.data(), kOurMac.data(), 6);
  std::memcpy(f.data() + 6, kGatewayMac.data(), 6);
  store_be16(f.data() + 12, v4 ? 0x0800 : 0x86DD);
  uint8_t* ipp = f.data() + 14;
  uint8_t* udp;
  if (v4) {
    ipp[0] = 0x45;
    store_be16(ipp + 2, static_cast<uint16_t>(20 + 8 + payload_len));
    ipp[8] = 64;
    ipp[9] = 17;
    std::memcpy(ipp + 12, src.ip.bytes.data(), 4);
    std::memcpy(ipp + 16, dst.ip.bytes.data(), 4);
    udp = ipp + 20;
  } else {
    ipp[0] = 0x60;
    store_be16(ipp + 4, static_cast<uint16_t>(8 + payload_len));
    ipp[6] = 17;
    ipp[7] = 64;
    std::memcpy(ipp + 8, src.ip.bytes.data(), 16);
    std::memcpy(ipp + 24, dst.ip.bytes.data(), 16);
    udp = ipp + 40;
  }
  store_be16(udp, src.port);
  store_be16(udp + 2, dst.port);
  store_be16(udp + 4, static_cast<uint16_t>(8 + payload_len));
  return f;
}

struct Case {
  // client_to_peer | peer_to_client (ChannelData), send_to_peer |
  // peer_to_client_data (Send and Data indications)
  const char* direction;
  Family peer_family;
  uint32_t channels;  // or permissions, for the indication directions
};

// The machine the benchmark runs on may be shared: a preempted burst costs
// milliseconds of TSC. The median burst is what the code costs; the mean is
// reported beside it.
double median(std::vector<uint64_t> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return static_cast<double>(v[v.size() / 2]);
}

double load_average() {
  double l = 0;
  return getloadavg(&l, 1) == 1 ? l : -1;
}

uint64_t xorshift(uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

void run_case(const Case& c, rte_mempool* pool, const Loopback& lb, const Options& o) {
  static std::atomic<bool> stop{false};
  WorkerSetup setup;
  setup.config = bench_config(c.channels);
  setup.port_id = lb.port_id;
  setup.tsc_hz = rte_get_tsc_hz();
  setup.stop = &stop;
  auto created = Worker::create(setup);
  if (!created) {
    std::fprintf(stderr, "bench: %s\n", created.error().c_str());
    std::exit(1);
  }
  Worker& w = **created;
  const uint64_t t0 = rte_rdtsc();
  const bool send = std::strcmp(c.direction, "send_to_peer") == 0;
  const bool data = std::strcmp(c.direction, "peer_to_client_data") == 0;
  install(w, c.channels, c.peer_family, t0, monotonic_now_ns(), send || data);
  w.neighbours().learn(Family::V4, ip("203.0.113.254").bytes.data(), kGatewayMac.data(), t0);
  w.neighbours().learn(Family::V6, ip("2001:db8:1::fe").bytes.data(), kGatewayMac.data(), t0);

  const bool to_peer = std::strcmp(c.direction, "client_to_peer") == 0 || send;
  const SocketAddress listen{ip("203.0.113.1"), 3478};
  std::vector<uint8_t> tmpl;
  if (send) {
    const auto msg = send_indication(c.peer_family, kPayload);
    tmpl = frame(client_of(0), listen, static_cast<uint16_t>(msg.size()));
    std::memcpy(tmpl.data() + 14 + 20 + 8, msg.data(), msg.size());
  } else if (to_peer) {
    std::vector<uint8_t> cd(4 + kPayload, 0xAB);
    tmpl = frame(client_of(0), listen, static_cast<uint16_t>(cd.size()));
    store_be16(tmpl.data() + 14 + 20 + 8 + 2, kPayload);
    tmpl[14 + 20 + 8] = 0x40;
  } else {
    const SocketAddress relay{c.peer_family == Family::V4 ? ip("203.0.113.1") : ip("2001:db8:1::1"), 49152};
    tmpl = frame(peer_of(0, c.peer_family), relay, kPayload);
  }
  const bool v6_in = !to_peer && c.peer_family == Family::V6;
  const size_t l4 = 14 + (v6_in ? 40 : 20);
  const uint16_t len = static_cast<uint16_t>(tmpl.size());
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  uint64_t worker_cycles = 0;
  uint64_t packets = 0;
  std::vector<uint64_t> bursts;
  bursts.reserve(o.packets / kBurst + 1);
  const uint64_t warmup = o.packets / 8;
  rte_mbuf* burst[kBurst];
  while (packets < o.packets + warmup) {
    if (rte_pktmbuf_alloc_bulk(pool, burst, kBurst) != 0) {
      std::fprintf(stderr, "bench: mempool empty\n");
      std::exit(1);
    }
    for (rte_mbuf* m : burst) {
      const auto i = static_cast<uint32_t>(xorshift(seed) % c.channels);
      auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
      std::memcpy(f, tmpl.data(), len);
      m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
      if (to_peer) {
        const SocketAddress cl = client_of(i);
        std::memcpy(f + 26, cl.ip.bytes.data(), 4);
        store_be16(f + l4, cl.port);
        if (send) {
          patch_peer(f + l4 + 8, peer_of(i, c.peer_family));
        } else {
          store_be16(f + l4 + 8, channel_of(i));
        }
      } else {
        const SocketAddress p = peer_of(i, c.peer_family);
        std::memcpy(f + (v6_in ? 22 : 26), p.ip.bytes.data(), v6_in ? 16 : 4);
        store_be16(f + l4, p.port);
        store_be16(f + l4 + 2, allocation_of(i));
      }
      fill_checksums(f, v6_in);
    }
    rte_ring_enqueue_bulk(lb.rx, reinterpret_cast<void* const*>(burst), kBurst, nullptr);
    const uint64_t start = rte_rdtsc();
    w.poll_once();
    const uint64_t end = rte_rdtsc();
    void* out[kBurst];
    const unsigned n = rte_ring_dequeue_burst(lb.tx, out, kBurst, nullptr);
    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(out), n);
    packets += kBurst;
    if (packets > warmup) {
      worker_cycles += end - start;
      bursts.push_back(end - start);
    }
  }
  const auto& k = w.counters();
  const Counter success = send   ? Counter::SendToPeer
                          : data ? Counter::DataToClient
                          : to_peer ? Counter::ClientToPeer
                                    : Counter::PeerToClient;
  const uint64_t forwarded = k.get(success);
  if (forwarded != packets) {
    std::fprintf(stderr, "bench: only %lu of %lu packets forwarded\n", static_cast<unsigned long>(forwarded),
                 static_cast<unsigned long>(packets));
    std::exit(1);
  }
  const double cpp = median(bursts) / kBurst;
  const double mean_cpp = static_cast<double>(worker_cycles) / static_cast<double>(bursts.size() * kBurst);
  std::printf(
      "{\"bench\": \"dataplane\", \"direction\": \"%s\", \"families\": \"v4->%s\", \"%s\": %u, "
      "\"mpps\": %.2f, \"cycles_per_packet\": %.1f, \"mean_cycles_per_packet\": %.1f, \"load_average\": %.1f, "
      "\"packets\": %lu, \"payload_bytes\": %u, \"burst\": %u, "
      "\"rx_checksum\": \"nic_offload_flags\", \"tx_checksum\": \"software\", \"hugepages\": %s, "
      "\"table_bytes_per_channel\": %.1f, \"tsc_hz\": %lu}\n",
      c.direction, c.peer_family == Family::V4 ? "v4" : "v6", send || data ? "permissions" : "channels", c.channels,
      static_cast<double>(rte_get_tsc_hz()) / cpp / 1e6, cpp, mean_cpp, load_average(),
      static_cast<unsigned long>(o.packets), kPayload, kBurst,
      o.hugepages ? "true" : "false", w.tables().bytes_per_channel(), static_cast<unsigned long>(rte_get_tsc_hz()));
  std::fflush(stdout);
}

// Lookup-only: the fast path's two-pass pattern (hash + prefetch a burst,
// then find) on the channel table, and the same keys through rte_hash's
// bulk lookup for the table-choice comparison.
void run_lookups(uint32_t channels, uint64_t lookups) {
  WorkerSetup setup;
  setup.config = bench_config(channels);
  setup.has_port = false;
  setup.tsc_hz = rte_get_tsc_hz();
  auto w = std::move(Worker::create(setup).value());
  install(*w, channels, Family::V4, rte_rdtsc(), monotonic_now_ns());
  std::vector<ChannelKey> keys(channels);
  for (uint32_t i = 0; i < channels; ++i) {
    const SocketAddress cl = client_of(i);
    keys[i] = make_channel_key(Family::V4, cl.ip.bytes.data(), rte_cpu_to_be_16(cl.port),
                               rte_cpu_to_be_16(channel_of(i)));
  }
  rte_hash_parameters params{};
  params.name = "bench_rte_hash";
  params.entries = channels + channels / 3 + 1;
  params.key_len = sizeof(ChannelKey);
  params.socket_id = SOCKET_ID_ANY;
  rte_hash* h = rte_hash_create(&params);
  // rte_hash stores a pointer per key; the entry itself lives elsewhere, so
  // a fair lookup also reads it (the flat table's entry shares the key's line).
  std::vector<ChannelEntry> entries(channels);
  for (uint32_t i = 0; i < channels; ++i) entries[i] = *w->tables().channels().find(keys[i]);
  for (uint32_t i = 0; h != nullptr && i < channels; ++i) rte_hash_add_key_data(h, &keys[i], &entries[i]);

  auto& table = w->tables().channels();
  uint64_t seed = 12345;
  uint64_t found = 0;
  std::vector<uint64_t> flat_bursts;
  std::vector<uint64_t> rte_bursts;
  std::vector<uint32_t> idx(32);
  for (uint64_t done = 0; done < lookups; done += 32) {
    for (auto& x : idx) x = static_cast<uint32_t>(xorshift(seed) % channels);
    uint64_t hashes[32];
    uint64_t t = rte_rdtsc();
    for (int j = 0; j < 32; ++j) {
      hashes[j] = table.hash(keys[idx[j]]);
      table.prefetch(hashes[j]);
    }
    for (int j = 0; j < 32; ++j) {
      const ChannelEntry* e = table.find(keys[idx[j]], hashes[j]);
      found += e != nullptr && e->deadline_tsc != 0;
    }
    flat_bursts.push_back(rte_rdtsc() - t);
    if (h != nullptr) {
      const void* kp[32];
      void* data[32];
      for (int j = 0; j < 32; ++j) kp[j] = &keys[idx[j]];
      t = rte_rdtsc();
      uint64_t hits = 0;
      rte_hash_lookup_bulk_data(h, kp, 32, &hits, data);
      for (int j = 0; j < 32; ++j) found += (hits >> j & 1) != 0 && static_cast<ChannelEntry*>(data[j])->deadline_tsc != 0;
      rte_bursts.push_back(rte_rdtsc() - t);
    }
  }
  const double hz = static_cast<double>(rte_get_tsc_hz());
  const double flat = median(flat_bursts) / 32;
  const double rte = median(rte_bursts) / 32;
  std::printf(
      "{\"bench\": \"dataplane\", \"direction\": \"lookup\", \"table\": \"flat_table\", \"channels\": %u, "
      "\"mlookups_per_s\": %.1f, \"cycles_per_lookup\": %.1f, \"found\": %lu}\n",
      channels, hz / flat / 1e6, flat,
      static_cast<unsigned long>(found));
  if (h != nullptr) {
    std::printf(
        "{\"bench\": \"dataplane\", \"direction\": \"lookup\", \"table\": \"rte_hash\", \"channels\": %u, "
        "\"mlookups_per_s\": %.1f, \"cycles_per_lookup\": %.1f}\n",
        channels, hz / rte / 1e6, rte);
    rte_hash_free(h);
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace relay::dataplane

int main(int argc, char** argv) {
  using namespace relay::dataplane;
  using relay::Family;
  Options o;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) o.quick = true;
    if (std::strcmp(argv[i], "--hugepages") == 0) o.hugepages = true;
    if (std::strcmp(argv[i], "--lookup-only") == 0) o.lookup_only = true;
    if (std::strcmp(argv[i], "--channels") == 0 && i + 1 < argc) o.only_channels = static_cast<uint32_t>(std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--packets") == 0 && i + 1 < argc) o.packets = std::strtoull(argv[++i], nullptr, 10);
    if (std::strcmp(argv[i], "--direction") == 0 && i + 1 < argc) o.only_direction = argv[++i];
  }
  if (o.quick && o.packets == 4'000'000) o.packets = 200'000;
  const std::string prefix = "bench-dp-" + std::to_string(getpid());
  std::vector<std::string> args = {"bench_dataplane", "--no-pci", "--no-telemetry", "-l", "0", "--file-prefix",
                                   prefix, "--log-level", "*:warning", "-m", "512"};
  if (o.hugepages) {
    args.push_back("--in-memory");
  } else {
    args.push_back("--no-huge");
    args.push_back("--no-shconf");
  }
  std::vector<char*> eal_argv;
  for (auto& a : args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "bench: rte_eal_init failed\n");
    return 1;
  }
  auto pool = create_mbuf_pool("bench.", 8191, SOCKET_ID_ANY);
  if (!pool) {
    std::fprintf(stderr, "bench: %s\n", pool.error().c_str());
    return 1;
  }
  auto lb = create_loopback("bench_ring", 1024, SOCKET_ID_ANY, *pool);
  if (!lb) {
    std::fprintf(stderr, "bench: %s\n", lb.error().c_str());
    return 1;
  }
  const std::vector<uint32_t> sizes = o.quick ? std::vector<uint32_t>{1024, 65536}
                                              : std::vector<uint32_t>{1024, 65536, 1u << 20};
  for (uint32_t n : sizes) {
    if (o.lookup_only || (o.only_channels != 0 && n != o.only_channels)) continue;
    for (const char* dir : {"client_to_peer", "peer_to_client", "send_to_peer", "peer_to_client_data"}) {
      if (!o.only_direction.empty() && o.only_direction != dir) continue;
      for (Family f : {Family::V4, Family::V6}) run_case(Case{dir, f, n}, *pool, *lb, o);
    }
  }
  if ((o.only_channels == 0 && o.only_direction.empty()) || o.lookup_only) run_lookups(65536, o.quick ? 1'000'000 : 20'000'000);
  rte_eal_cleanup();
  return 0;
}
