// The pcap replay driver: one worker on a net_pcap vdev reading the
// generator's input pcap and writing what it sends to an output pcap. The
// forwarding state arrives through the same cmd ring the control plane
// uses (read from a commands file); STUN handed to "to_cp" is answered by
// echoing it back through "from_cp", as the control plane would. Writes
// the worker's counters as JSON for the checker.
//
//   pcap_replay --in in.pcap --out out.pcap --commands commands.txt
//               --counters counters.json --expect-rx N [--vlan ID]
//
// commands.txt, one per line, expiries in ms relative to now (negative =
// already expired):
//   create <port> <relay_v4|-> <relay_v6|-> <client> <listen> <expiry_ms>
//   install <client> <listen> <channel> <peer> <relay> <expiry_ms>
//   remove <client> <listen> <channel> <peer> <relay>
//   free <port>
//   permit <client> <listen> <peer_ip> <relay> <expiry_ms>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane/setup.hpp"
#include "dataplane/worker.hpp"

namespace relay::dataplane {
namespace {

struct Args {
  std::string in, out, commands, counters;
  uint64_t expect_rx = 0;
  std::optional<uint16_t> vlan;
};

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "pcap_replay: %s\n", why.c_str());
  std::exit(1);
}

InterfaceConfig replay_config(const Args& a) {
  InterfaceConfig c;
  c.mac = {0x02, 0, 0, 0, 0, 0x01};
  c.vlan = a.vlan;
  c.ipv4 = InterfaceAddress{*IpAddress::parse("203.0.113.1"), 24, IpAddress::parse("203.0.113.254")};
  c.ipv6 = InterfaceAddress{*IpAddress::parse("2001:db8:1::1"), 64, IpAddress::parse("2001:db8:1::fe")};
  c.max_channels = 4096;
  return c;
}

SocketAddress addr(const std::string& text) {
  auto a = SocketAddress::parse(text);
  if (!a) fail("bad address " + text);
  return *a;
}
std::optional<SocketAddress> maybe_addr(const std::string& text) {
  if (text == "-") return std::nullopt;
  return addr(text);
}

std::vector<ring_abi::CommandMessage> read_commands(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read " + path);
  std::vector<ring_abi::CommandMessage> out;
  const uint64_t now = monotonic_now_ns();
  auto expiry = [now](long ms) { return Instant::from_ns(static_cast<uint64_t>(static_cast<int64_t>(now) + ms * 1'000'000)); };
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string verb;
    if (!(s >> verb) || verb[0] == '#') continue;
    if (verb == "create") {
      unsigned port;
      std::string r4, r6, client, listen;
      long ms;
      s >> port >> r4 >> r6 >> client >> listen >> ms;
      out.push_back(ring_abi::make_create_allocation(AllocationPort{static_cast<uint16_t>(port)}, maybe_addr(r4),
                                                     maybe_addr(r6),
                                                     ClientFiveTuple{ClientSocket{addr(client)}, ListenSocket{addr(listen)}},
                                                     expiry(ms)));
    } else if (verb == "install" || verb == "remove") {
      std::string client, listen, peer, relay;
      unsigned channel;
      long ms = 0;
      s >> client >> listen >> std::hex >> channel >> std::dec >> peer >> relay;
      if (verb == "install") s >> ms;
      const ClientFiveTuple five{ClientSocket{addr(client)}, ListenSocket{addr(listen)}};
      const ChannelNumber ch{static_cast<uint16_t>(channel)};
      out.push_back(verb == "install" ? ring_abi::make_install_channel(five, ch, PeerSocket{addr(peer)}, addr(relay), expiry(ms))
                                      : ring_abi::make_remove_channel(five, ch, PeerSocket{addr(peer)}, addr(relay)));
    } else if (verb == "permit") {
      std::string client, listen, peer, relay;
      long ms = 0;
      s >> client >> listen >> peer >> relay >> ms;
      const auto peer_ip = IpAddress::parse(peer);
      if (!peer_ip) fail("bad peer address " + peer);
      out.push_back(ring_abi::make_install_permission(ClientFiveTuple{ClientSocket{addr(client)}, ListenSocket{addr(listen)}},
                                                      *peer_ip, addr(relay), expiry(ms)));
    } else if (verb == "free") {
      unsigned port;
      s >> port;
      out.push_back(ring_abi::make_free_allocation(AllocationPort{static_cast<uint16_t>(port)}));
    } else {
      fail("unknown command " + verb);
    }
    if (!s && !s.eof()) fail("bad line: " + line);
  }
  return out;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--in") a.in = v;
    else if (k == "--out") a.out = v;
    else if (k == "--commands") a.commands = v;
    else if (k == "--counters") a.counters = v;
    else if (k == "--expect-rx") a.expect_rx = std::stoull(v);
    else if (k == "--vlan") a.vlan = static_cast<uint16_t>(std::stoul(v));
    else fail("unknown option " + k);
  }
  if (a.in.empty() || a.out.empty() || a.commands.empty() || a.counters.empty()) fail("missing option");
  return a;
}

// The control plane's part: answer every STUN datagram by sending it back
// with its first byte turned into 0x01 (a "success response" class).
void echo_stun(rte_ring* to_cp, rte_ring* from_cp) {
  void* objs[32];
  const unsigned n = rte_ring_dequeue_burst(to_cp, objs, 32, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    auto* m = static_cast<rte_mbuf*>(objs[i]);
    rte_pktmbuf_mtod(m, uint8_t*)[0] = 0x01;
    if (rte_ring_enqueue(from_cp, m) != 0) rte_pktmbuf_free(m);
  }
}

void write_counters(const std::string& path, const WorkerCounters& c) {
  std::ofstream out(path);
  out << "{";
  for (size_t i = 0; i < kCounterCount; ++i)
    out << (i ? ", " : "") << '"' << kCounterNames[i] << "\": " << c.values[i];
  out << "}\n";
}

int run(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  const std::string prefix = "pcap-replay-" + std::to_string(getpid());
  const std::string vdev = "net_pcap0,rx_pcap=" + a.in + ",tx_pcap=" + a.out;
  std::vector<std::string> eal = {"pcap_replay", "--no-pci", "--no-huge", "--no-shconf", "--no-telemetry",
                                  "-l", "0", "--file-prefix", prefix, "--log-level", "*:warning", "--vdev", vdev};
  std::vector<char*> eal_argv;
  for (auto& s : eal) eal_argv.push_back(s.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) fail("rte_eal_init failed");
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name("net_pcap0", &port) != 0) fail("no net_pcap0 port");

  auto pool = create_mbuf_pool("replay.", 4095, SOCKET_ID_ANY);
  if (!pool) fail(pool.error());
  auto cmd = create_command_ring("replay.", 0, SOCKET_ID_ANY);
  if (!cmd) fail(cmd.error());
  auto rings = create_exception_rings("replay.", SOCKET_ID_ANY);
  if (!rings) fail(rings.error());
  std::atomic<bool> stop{false};
  WorkerSetup setup;
  setup.config = replay_config(a);
  setup.port_id = port;
  setup.commands = *cmd;
  setup.to_cp = rings->to_cp;
  setup.from_cp = rings->from_cp;
  setup.tsc_hz = rte_get_tsc_hz();
  setup.stop = &stop;
  auto worker = Worker::create(setup);
  if (!worker) fail(worker.error());

  // Through the real ring, all applied before the first packet arrives.
  for (auto m : read_commands(a.commands))
    if (rte_ring_enqueue_elem(*cmd, &m, sizeof m) != 0) fail("cmd ring full");
  (*worker)->apply_pending_commands();
  PortQueues q;
  q.rx_descriptors = q.tx_descriptors = 512;
  if (auto started = start_port(port, *pool, q); !started) fail(started.error());

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  unsigned idle = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    const uint16_t n = (*worker)->poll_once();
    echo_stun(rings->to_cp, rings->from_cp);
    const bool all_in = (*worker)->counters().get(Counter::RxPackets) >= a.expect_rx;
    idle = n == 0 ? idle + 1 : 0;
    if (all_in && idle > 1000) break;  // input consumed and the STUN echoes sent
  }
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);  // flushes the tx pcap
  write_counters(a.counters, (*worker)->counters());
  rte_eal_cleanup();
  return (*worker)->counters().get(Counter::RxPackets) == a.expect_rx ? 0 : 2;
}

}  // namespace
}  // namespace relay::dataplane

int main(int argc, char** argv) { return relay::dataplane::run(argc, argv); }
