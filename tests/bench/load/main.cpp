// turn-loadgen: see options.hpp for the flags (and kExtraUsage below for
// its own) and traffic.hpp for what is measured. Exits 0 after printing one
// JSON line; 1 with a message on stderr when the relay could not be set up.
#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench/load/traffic.hpp"
#include "tests/bench/load/turn_setup.hpp"
#include "tests/bench/turn_client/cpu_time.hpp"
#include "tests/bench/turn_client/options.hpp"

namespace relay::loadgen {
namespace {

// Generous for setup (a few round trips per client) and teardown; the
// watchdog kills a run that hangs anyway, whatever hangs.
constexpr unsigned kSetupAndTeardownSeconds = 120;

constexpr std::string_view kExtraUsage =
    "         [--transport udp|tcp|tls]\n"
    "  --transport: how the clients reach --relay (RFC 8656 §3.1): a UDP socket each (the default), or a TCP\n"
    "  or TLS-over-TCP connection each, carrying the same Allocate / ChannelBind and ChannelData padded to\n"
    "  4 bytes (§12.5); the peer stays UDP. TLS does NOT verify the relay's certificate: this is a\n"
    "  benchmark against a throwaway self-signed one, never a client to trust. Frames a stream's full\n"
    "  send queue refuses (the relay did not take them in time) count as lost (backpressured).\n";

ExtraFlags extra_flags(Transport& transport) {
  return {kExtraUsage, [&transport](std::string_view flag, std::string_view v) -> std::optional<bool> {
            if (flag != "--transport") return std::nullopt;
            for (Transport t : {Transport::Udp, Transport::Tcp, Transport::Tls})
              if (v == to_string(t)) return transport = t, true;
            return false;
          }};
}

struct UdpErrors {
  uint64_t rcvbuf = 0, sndbuf = 0, in = 0;
};

// /proc/net/snmp of this network namespace: datagrams the kernel dropped at
// our own sockets are the machine's loss, not the relay's.
UdpErrors read_udp_errors() {
  std::ifstream f("/proc/net/snmp");
  std::string header, values, line;
  while (std::getline(f, line)) {
    if (line.rfind("Udp: ", 0) != 0) continue;
    if (header.empty()) header = line;
    else values = line;
  }
  std::istringstream hs(header), vs(values);
  std::string name, value;
  UdpErrors e;
  while (hs >> name && vs >> value) {
    if (name == "RcvbufErrors") e.rcvbuf = std::stoull(value);
    if (name == "SndbufErrors") e.sndbuf = std::stoull(value);
    if (name == "InErrors") e.in = std::stoull(value);
  }
  return e;
}

double percentile_us(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return -1;
  const auto k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k] / 1000.0;
}

std::string json_line(const Options& o, Transport transport, TrafficReport& r, double setup_ms, double cpu_s, const UdpErrors& before,
                      const UdpErrors& after) {
  const bool echo = o.mode == PeerMode::Echo;
  const uint64_t delivered = echo ? r.returned : r.peer_received;
  const uint64_t relayed = r.peer_received + r.returned;
  // What the relay was handed or refused (a stream's back-pressure) and did
  // not deliver; over UDP nothing is refused, so this is sent - delivered.
  const uint64_t attempted = r.sent + r.backpressured;
  const uint64_t lost = attempted > delivered ? attempted - delivered : 0;
  const double secs = static_cast<double>(r.elapsed_ns) / 1e9;
  const double p50 = percentile_us(r.latency_ns, 0.50), p99 = percentile_us(r.latency_ns, 0.99),
               p999 = percentile_us(r.latency_ns, 0.999);
  char buf[2048];
  std::snprintf(
      buf, sizeof buf,
      "{\"bench\":\"turn-loadgen\",\"label\":\"%s\",\"transport\":\"%s\",\"mode\":\"%s\",\"clients\":%u,\"payload_bytes\":%u,"
      "\"offered_pps\":%llu,\"duration_s\":%.3f,\"tick_us\":%.0f,\"offered\":%llu,\"generator_behind\":%llu,"
      "\"sent\":%llu,\"send_failed\":%llu,\"backpressured\":%llu,\"stream_errors\":%llu,\"sent_pps\":%.0f,\"peer_received\":%llu,\"peer_echo_failed\":%llu,"
      "\"returned\":%llu,\"relayed\":%llu,\"relayed_pps\":%.0f,\"lost\":%llu,\"loss\":%.6f,\"malformed\":%llu,"
      "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f},\"setup_ms\":%.1f,\"generator_cpu_s\":%.3f,"
      "\"udp_rcvbuf_errors\":%llu,\"udp_sndbuf_errors\":%llu,\"udp_in_errors\":%llu}",
      o.label.c_str(), std::string(to_string(transport)).c_str(), echo ? "echo" : "count", o.clients, o.payload_bytes, static_cast<unsigned long long>(o.rate_pps),
      secs, static_cast<double>(r.tick_ns) / 1000.0, static_cast<unsigned long long>(r.offered),
      static_cast<unsigned long long>(r.behind), static_cast<unsigned long long>(r.sent),
      static_cast<unsigned long long>(r.send_failed), static_cast<unsigned long long>(r.backpressured),
      static_cast<unsigned long long>(r.stream_errors), static_cast<double>(r.sent) / secs,
      static_cast<unsigned long long>(r.peer_received), static_cast<unsigned long long>(r.peer_echo_failed),
      static_cast<unsigned long long>(r.returned), static_cast<unsigned long long>(relayed),
      static_cast<double>(relayed) / secs, static_cast<unsigned long long>(lost),
      attempted ? static_cast<double>(lost) / static_cast<double>(attempted) : 1.0,
      static_cast<unsigned long long>(r.malformed), p50, p99, p999, setup_ms, cpu_s,
      static_cast<unsigned long long>(after.rcvbuf - before.rcvbuf),
      static_cast<unsigned long long>(after.sndbuf - before.sndbuf), static_cast<unsigned long long>(after.in - before.in));
  return buf;
}

int run(const Options& o, Transport transport) {
  // A relay that closes a TLS stream must not kill us in SSL_write.
  std::signal(SIGPIPE, SIG_IGN);
  const auto total = std::chrono::duration_cast<std::chrono::seconds>(o.duration + o.drain).count();
  alarm(static_cast<unsigned>(total) + kSetupAndTeardownSeconds);

  auto peer = open_udp(o.peer, nullptr);
  if (!peer) return std::fprintf(stderr, "turn-loadgen: peer socket: %s\n", peer.error().c_str()), 1;
  auto peer_address = local_address(*peer);
  if (!peer_address) return std::fprintf(stderr, "turn-loadgen: %s\n", peer_address.error().c_str()), 1;

  const auto setup_start = std::chrono::steady_clock::now();
  const auto expiry = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch()).count()) + 3600;
  std::vector<TurnClient> clients;
  clients.reserve(o.clients);
  for (uint32_t i = 0; i < o.clients; ++i) {
    auto c = open_turn_client(o, transport, *peer_address, i, expiry);
    if (!c) return std::fprintf(stderr, "turn-loadgen: client %u: %s\n", i, c.error().c_str()), 1;
    clients.push_back(std::move(*c));
  }
  const double setup_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - setup_start).count();

  // The driver samples the relay's CPU counters at these two marks, so
  // that setup and teardown stay out of the cost per packet.
  std::fprintf(stderr, "{\"event\":\"traffic_start\"}\n");
  std::fflush(stderr);
  const UdpErrors before = read_udp_errors();
  const double cpu_before = process_cpu_seconds();
  TrafficReport report = run_traffic(o, clients, *peer);
  const double cpu_s = process_cpu_seconds() - cpu_before;
  const UdpErrors after = read_udp_errors();
  std::fprintf(stderr, "{\"event\":\"traffic_end\"}\n");
  std::fflush(stderr);
  std::printf("%s\n", json_line(o, transport, report, setup_ms, cpu_s, before, after).c_str());
  std::fflush(stdout);
  // A relay that does not answer one release will not answer the rest;
  // waiting for each would only run into the watchdog.
  for (auto& c : clients)
    if (!release_turn_client(c)) break;
  return 0;
}

}  // namespace
}  // namespace relay::loadgen

int main(int argc, char** argv) {
  relay::Transport transport = relay::Transport::Udp;
  auto o = relay::loadgen::parse_options(argc, argv, "turn-loadgen", relay::loadgen::extra_flags(transport));
  if (!o) {
    std::fprintf(stderr, "%s\n", o.error().c_str());
    return 2;
  }
  return relay::loadgen::run(*o, transport);
}
