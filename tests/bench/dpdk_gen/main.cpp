// turn-dpdk-gen: turn-loadgen's clients, peer and schedule on a DPDK port
// of its own instead of kernel sockets, so that the generator is never
// what limits a benchmark. Its own EAL primary (--in-memory: nothing left
// on disk, --no-pci: only the one vdev it is given: net_memif against the
// relay's memif server for the kernel-free ceiling, net_af_packet or
// net_af_xdp on the namespace end of a veth against a relay on the other
// end), one lcore. N clients Allocate (401, then authenticated) and ChannelBind to the
// peer through the relay's control plane, then send ChannelData at a fixed
// rate; the relayed datagrams arrive at the peer address the generator also
// owns. Exits 0 after one JSON line on stdout; 1 with a message on stderr
// when the link or the relay could not be set up. See
// scripts/bench-vs-coturn (--generator dpdk, --ceiling).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_random.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "controlplane/core/stun/stun.hpp"
#include "dataplane/setup.hpp"
#include "tests/bench/dpdk_gen/link.hpp"
#include "tests/bench/dpdk_gen/traffic.hpp"
#include "tests/bench/turn_client/cpu_time.hpp"
#include "tests/bench/turn_client/options.hpp"
#include "tests/bench/turn_client/session.hpp"

namespace relay::dpdkgen {
namespace {

using namespace std::chrono_literals;

constexpr unsigned kSetupAndTeardownSeconds = 120;
constexpr auto kLinkAndArpLimit = 10s;
constexpr uint16_t kDefaultPeerPort = 40000;
constexpr unsigned kMbufs = 8191;
// 437 (the relay still holds this 5-tuple): a client moves to another port
// this many times, like turn-loadgen's fresh socket.
constexpr int kAllocationAttempts = 4;

struct EalOptions {
  // The one port, as an EAL --vdev argument; the link reads its MAC back.
  std::string vdev;
  unsigned lcore = 0;
  unsigned memory_mb = 256;
  std::string file_prefix = "turn-dpdk-gen-" + std::to_string(getpid());
  uint32_t first_client_port = 0;  // 0: random in 20000..29999
};

constexpr std::string_view kExtraUsage =
    "         --vdev NAME,DEVARGS [--lcore N] [--memory-mb MB] [--file-prefix P] [--first-client-port N]\n"
    "  --vdev e.g. net_memif0,role=client,socket=PATH,socket-abstract=no,zero-copy=yes\n"
    "              net_af_packet0,iface=IF,qpairs=1,qdisc_bypass=1   net_af_xdp0,iface=IF,force_copy=1\n"
    "  --rate above what the generator can send is the unthrottled point: it sends as fast as it can.\n";

// memif's zero-copy client lets the relay read and write our mbufs in
// place, which spares the generator its two copies (the relay, the server,
// copies either way); the memif PMD then needs the EAL's memory in one
// file per segment list.
bool wants_single_file_segments(std::string_view vdev) {
  return vdev.starts_with("net_memif") && vdev.find("zero-copy=yes") != std::string_view::npos;
}

using loadgen::parse_number;

loadgen::ExtraFlags extra_flags(EalOptions& e) {
  return {kExtraUsage, [&e](std::string_view flag, std::string_view v) -> std::optional<bool> {
            if (flag == "--vdev") return e.vdev = v, v.starts_with("net_");
            if (flag == "--lcore") return parse_number(v, e.lcore) && e.lcore < RTE_MAX_LCORE;
            if (flag == "--memory-mb") return parse_number(v, e.memory_mb) && e.memory_mb >= 64;
            if (flag == "--file-prefix") return e.file_prefix = v, !v.empty();
            if (flag == "--first-client-port")
              return parse_number(v, e.first_client_port) && e.first_client_port >= 1024;
            return std::nullopt;
          }};
}

std::vector<std::string> eal_arguments(const EalOptions& e) {
  std::vector<std::string> args{"turn-dpdk-gen", "-l", std::to_string(e.lcore), "--file-prefix", e.file_prefix,
                                "--in-memory", "--no-pci", "--no-telemetry", "--log-level", "*:warning", "-m",
                                std::to_string(e.memory_mb), "--vdev", e.vdev};
  if (wants_single_file_segments(e.vdev)) args.emplace_back("--single-file-segments");
  return args;
}

uint64_t unix_seconds() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// Allocate and bind every client; client i starts on port first + i and
// moves up by `clients` on a 437.
Result<std::vector<Client>, std::string> open_clients(const loadgen::Options& o, Link& link, const SocketAddress& peer,
                                                      uint32_t first_port) {
  const uint64_t expiry = unix_seconds() + 3600;
  std::vector<Client> clients;
  clients.reserve(o.clients);
  for (uint32_t i = 0; i < o.clients; ++i) {
    for (int attempt = 0;; ++attempt) {
      const SocketAddress local{o.client_ip, static_cast<uint16_t>(first_port + i + attempt * o.clients)};
      FramePath path(link, local);
      auto session = loadgen::open_session(path, o, peer, i, expiry);
      if (session) {
        clients.push_back({local, std::move(*session)});
        break;
      }
      if (session.error().code != stun::error_code::kAllocationMismatch || attempt + 1 == kAllocationAttempts)
        return Err{"client " + std::to_string(i) + ": " + session.error().what};
    }
  }
  return clients;
}

std::string json_line(const loadgen::Options& o, const TrafficReport& r, const Link& link, double setup_ms,
                      double cpu_s) {
  const bool echo = o.mode == loadgen::PeerMode::Echo;
  const uint64_t delivered = echo ? r.returned : r.peer_received;
  const uint64_t relayed = r.peer_received + r.returned;
  // A full TX ring is the relay's RX ring: what it refused is its loss.
  const uint64_t attempted = r.sent + r.tx_full;
  const uint64_t lost = (r.sent > delivered ? r.sent - delivered : 0) + r.tx_full;
  const double hz = static_cast<double>(rte_get_tsc_hz());
  const double secs = static_cast<double>(r.elapsed_cycles) / hz;
  const auto us = [&](double q) {
    const double cycles = r.latency.percentile(q);
    return cycles < 0 ? -1.0 : cycles / hz * 1e6;
  };
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "{\"bench\":\"turn-dpdk-gen\",\"label\":\"%s\",\"mode\":\"%s\",\"clients\":%u,\"payload_bytes\":%u,"
      "\"offered_pps\":%llu,\"duration_s\":%.3f,\"offered\":%llu,\"generator_behind\":%llu,\"sent\":%llu,"
      "\"tx_ring_full\":%llu,\"attempted_pps\":%.0f,\"sent_pps\":%.0f,\"peer_received\":%llu,\"peer_echo_failed\":%llu,"
      "\"returned\":%llu,\"relayed\":%llu,\"relayed_pps\":%.0f,\"lost\":%llu,\"loss\":%.6f,\"malformed\":%llu,"
      "\"rx_missed\":%llu,"
      "\"ignored_frames\":%llu,\"arp_replies\":%llu,\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f},"
      "\"setup_ms\":%.1f,\"traffic_s\":%.3f,\"generator_cpu_s\":%.3f,\"generator_idle_fraction\":%.4f,"
      "\"longest_turn_us\":%.1f,\"tsc_hz\":%.0f}",
      o.label.c_str(), echo ? "echo" : "count", o.clients, o.payload_bytes, static_cast<unsigned long long>(o.rate_pps),
      secs, static_cast<unsigned long long>(r.offered), static_cast<unsigned long long>(r.behind),
      static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.tx_full),
      static_cast<double>(attempted) / secs, static_cast<double>(r.sent) / secs,
      static_cast<unsigned long long>(r.peer_received), static_cast<unsigned long long>(r.peer_echo_failed),
      static_cast<unsigned long long>(r.returned), static_cast<unsigned long long>(relayed),
      static_cast<double>(relayed) / secs, static_cast<unsigned long long>(lost),
      attempted ? static_cast<double>(lost) / static_cast<double>(attempted) : 1.0,
      static_cast<unsigned long long>(r.malformed), static_cast<unsigned long long>(r.rx_missed),
      static_cast<unsigned long long>(link.ignored()),
      static_cast<unsigned long long>(link.arp_replies()), us(0.50), us(0.99), us(0.999), setup_ms,
      static_cast<double>(r.phase_cycles) / hz, cpu_s,
      static_cast<double>(r.idle_cycles) / static_cast<double>(r.elapsed_cycles),
      static_cast<double>(r.longest_turn_cycles) / hz * 1e6, hz);
  return buf;
}

// first_client_port 0: a random one, so that runs in a row do not meet the
// previous run's allocations.
int generate(const loadgen::Options& o, uint32_t first_client_port) {
  // Packed: its EAL has no PCI device, and net_af_xdp needs the mbufs in
  // one block (dataplane/setup.hpp).
  auto pool = dataplane::create_mbuf_pool("dpdk_gen.", kMbufs, static_cast<int>(rte_socket_id()),
                                          dataplane::kMempoolCache, dataplane::PoolLayout::Packed);
  if (!pool) return std::fprintf(stderr, "turn-dpdk-gen: %s\n", pool.error().c_str()), 1;
  if (rte_eth_dev_count_avail() != 1) return std::fprintf(stderr, "turn-dpdk-gen: expected exactly one port\n"), 1;
  uint16_t port = 0;
  RTE_ETH_FOREACH_DEV(port) break;
  const SocketAddress peer{o.peer.ip, o.peer.port != 0 ? o.peer.port : kDefaultPeerPort};
  auto link = Link::open(port, *pool, LinkConfig{o.client_ip, peer.ip, o.relay});
  if (!link) return std::fprintf(stderr, "turn-dpdk-gen: %s\n", link.error().c_str()), 1;
  if (auto up = (*link)->wait_for_relay(kLinkAndArpLimit); !up)
    return std::fprintf(stderr, "turn-dpdk-gen: %s\n", up.error().c_str()), 1;

  const uint32_t first_port =
      first_client_port != 0 ? first_client_port : 20000 + static_cast<uint32_t>(rte_rand_max(10000));
  if (first_port + uint64_t{kAllocationAttempts} * o.clients > 65535)
    return std::fprintf(stderr, "turn-dpdk-gen: too many clients for --first-client-port %u\n", first_port), 1;
  const auto setup_start = std::chrono::steady_clock::now();
  auto clients = open_clients(o, **link, peer, first_port);
  if (!clients) return std::fprintf(stderr, "turn-dpdk-gen: %s\n", clients.error().c_str()), 1;
  const double setup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - setup_start).count();

  // The driver samples the relay's counters at these two marks, so that
  // setup and teardown stay out of them.
  std::fprintf(stderr, "{\"event\":\"traffic_start\"}\n");
  std::fflush(stderr);
  const double cpu_before = loadgen::process_cpu_seconds();
  rte_eth_stats before{}, after{};
  const bool counted = rte_eth_stats_get(port, &before) == 0;
  auto report = run_traffic(o, **link, *clients, peer);
  const double cpu_s = loadgen::process_cpu_seconds() - cpu_before;
  if (report && counted && rte_eth_stats_get(port, &after) == 0) report->rx_missed = after.imissed - before.imissed;
  std::fprintf(stderr, "{\"event\":\"traffic_end\"}\n");
  std::fflush(stderr);
  if (!report) return std::fprintf(stderr, "turn-dpdk-gen: %s\n", report.error().c_str()), 1;
  std::printf("%s\n", json_line(o, *report, **link, setup_ms, cpu_s).c_str());
  std::fflush(stdout);
  // A relay that does not answer one release will not answer the rest.
  for (auto& c : *clients) {
    FramePath path(**link, c.local);
    if (!loadgen::close_session(path, c.session)) break;
  }
  return 0;
}

int run(int argc, char** argv) {
  EalOptions e;
  auto o = loadgen::parse_options(argc, argv, "turn-dpdk-gen", extra_flags(e));
  if (!o) return std::fprintf(stderr, "%s\n", o.error().c_str()), 2;
  if (e.vdev.empty()) return std::fprintf(stderr, "turn-dpdk-gen: --vdev is required\n"), 2;
  if (!o->client_ip.is_v4()) return std::fprintf(stderr, "turn-dpdk-gen: IPv4 only\n"), 2;
  const auto total = std::chrono::duration_cast<std::chrono::seconds>(o->duration + o->drain).count();
  alarm(static_cast<unsigned>(total) + kSetupAndTeardownSeconds);

  auto args = eal_arguments(e);
  std::vector<char*> eal_argv;
  for (auto& a : args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0)
    return std::fprintf(stderr, "turn-dpdk-gen: rte_eal_init failed\n"), 1;
  const int status = generate(*o, e.first_client_port);
  rte_eal_cleanup();
  return status;
}

}  // namespace
}  // namespace relay::dpdkgen

int main(int argc, char** argv) { return relay::dpdkgen::run(argc, argv); }
