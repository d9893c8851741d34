// render_metrics: exact text for the families an operator alerts on, the
// format's invariants for all of them, and promtool's verdict.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include "controlplane/metrics/render.hpp"

namespace relay::metrics {
namespace {


const BuildInfo kBuild{.version = "0.1.0", .revision = "6d25b31-dirty", .dpdk = "22.11.11"};

DataplaneSnapshot two_workers_on_two_ports() {
  DataplaneSnapshot dp;
  dp.tsc_hz = 2'000'000'000;
  dp.workers.resize(2);
  dp.workers[0].lcore = 1;
  dp.workers[0].port = 0;
  dp.workers[1].lcore = 2;
  dp.workers[1].port = 1;
  auto& a = dp.workers[0].counters;
  a.add(Counter::RxPackets, 10);
  a.rx_bytes = 1000;
  a.add(Counter::DropExpired, 4);
  a.add(Counter::DropToControlPlaneFull, 1);
  a.add_relayed(Direction::ClientToPeer, Family::V4, Family::V6, 100);
  a.busy_cycles = 1'000'000'000;
  a.total_cycles = 4'000'000'000;
  a.tables = {3, 5, 5};
  auto& b = dp.workers[1].counters;
  b.add(Counter::RxPackets, 20);
  b.rx_bytes = 3000;
  b.add(Counter::DropExpired, 1);
  b.add_relayed(Direction::ClientToPeer, Family::V4, Family::V6, 50);
  b.add_relayed(Direction::PeerToClient, Family::V6, Family::V4, 70);
  dp.mempool = MempoolUsage{123, 8191};
  return dp;
}

std::string render_example() {
  core::Stats s;
  s.active_allocations_v4 = 2;
  s.active_allocations_v6 = 1;
  s.allocations_created = 9;
  s.responses[static_cast<size_t>(core::MethodLabel::Allocate)][static_cast<size_t>(core::ResponseCode::Success)] = 9;
  s.auth_failures[static_cast<size_t>(core::AuthFailure::BadIntegrity)] = 2;
  s.free_ports = 16375;
  s.held_ports = 6;
  ControlPlaneIo io;
  io.commands_lost = 6;
  io.datagrams_waiting = 2;
  Log2Histogram latency;
  latency.observe_ns(1000);
  latency.observe_ns(3000);
  const ControlPlaneMemory memory{.heap_bytes = 4096, .resident_bytes = 8192};
  return render_metrics(kBuild, s, two_workers_on_two_ports(), io, memory, latency);
}

// The lines of one family: its HELP, TYPE and samples.
std::string family(const std::string& text, const std::string& name) {
  const size_t start = text.find("# HELP " + name + " ");
  if (start == std::string::npos) return "";
  const size_t end = text.find("# HELP ", start + 1);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(RenderMetrics, AllocationsActiveAreAGaugeByRelayAddressFamily) {
  EXPECT_EQ(family(render_example(), "relay_allocations_active"),
            "# HELP relay_allocations_active Allocations alive now, by relay address family (a dual-family "
            "allocation counts in both).\n"
            "# TYPE relay_allocations_active gauge\n"
            "relay_allocations_active{family=\"ipv4\"} 2\n"
            "relay_allocations_active{family=\"ipv6\"} 1\n");
}

TEST(RenderMetrics, RxBytesAreSummedPerPortAcrossTheWorkersOfThatPort) {
  EXPECT_EQ(family(render_example(), "relay_dataplane_rx_bytes_total"),
            "# HELP relay_dataplane_rx_bytes_total Frame bytes the workers received, by port.\n"
            "# TYPE relay_dataplane_rx_bytes_total counter\n"
            "relay_dataplane_rx_bytes_total{port=\"0\"} 1000\n"
            "relay_dataplane_rx_bytes_total{port=\"1\"} 3000\n");
}

TEST(RenderMetrics, DropsAreSummedOverWorkersAndLabelledWithTheTableNameWithoutItsPrefix) {
  const std::string drops = family(render_example(), "relay_dataplane_drops_total");
  EXPECT_NE(drops.find("relay_dataplane_drops_total{reason=\"expired\"} 5\n"), std::string::npos);
  EXPECT_NE(drops.find("relay_dataplane_drops_total{reason=\"to_control_plane_full\"} 1\n"), std::string::npos);
  EXPECT_NE(drops.find("relay_dataplane_drops_total{reason=\"multi_segment\"} 0\n"), std::string::npos);
  EXPECT_EQ(drops.find("reason=\"drop_"), std::string::npos);
}

TEST(RenderMetrics, EveryCounterIsADropAnEventOrAPortCountByItsKind) {
  const std::string text = render_example();
  const std::string drops = family(text, "relay_dataplane_drops_total");
  const std::string events = family(text, "relay_dataplane_events_total");
  for (size_t i = 0; i < kCounterCount; ++i) {
    const auto c = static_cast<Counter>(i);
    const bool dropped = drops.find("{reason=\"" + std::string(drop_reason(c)) + "\"}") != std::string::npos;
    const bool event = events.find("{event=\"" + std::string(to_string(c)) + "\"}") != std::string::npos;
    EXPECT_EQ(dropped, kind_of(c) == CounterKind::Drop) << to_string(c);
    EXPECT_EQ(event, kind_of(c) != CounterKind::Drop && kind_of(c) != CounterKind::Port) << to_string(c);
  }
}

TEST(RenderMetrics, RelayedBytesCarryDirectionAndBothFamilies) {
  const std::string bytes = family(render_example(), "relay_relayed_bytes_total");
  EXPECT_NE(bytes.find("relay_relayed_bytes_total{direction=\"client_to_peer\",from_family=\"ipv4\","
                       "to_family=\"ipv6\"} 150\n"),
            std::string::npos);
  EXPECT_NE(bytes.find("relay_relayed_bytes_total{direction=\"peer_to_client\",from_family=\"ipv6\","
                       "to_family=\"ipv4\"} 70\n"),
            std::string::npos);
  EXPECT_NE(bytes.find("relay_relayed_bytes_total{direction=\"client_to_client\",from_family=\"ipv6\","
                       "to_family=\"ipv6\"} 0\n"),
            std::string::npos);
}

TEST(RenderMetrics, FirezonesOriginalRelayNamesAreExportedBesideOurs) {
  const std::string text = render_example();
  EXPECT_EQ(family(text, "relay_allocations_total"),
            "# HELP relay_allocations_total Allocations made, adopted ones included (Firezone's original relay's "
            "name).\n"
            "# TYPE relay_allocations_total counter\n"
            "relay_allocations_total 9\n");
  const std::string responses = family(text, "relay_responses_total");
  EXPECT_NE(responses.find("relay_responses_total{class=\"success\",message=\"allocate\"} 9\n"), std::string::npos);
  EXPECT_NE(responses.find("relay_responses_total{class=\"error\",message=\"allocate\"} 0\n"), std::string::npos);
  EXPECT_NE(responses.find("message=\"channel_bind\""), std::string::npos);
  EXPECT_EQ(responses.find("message=\"other\""), std::string::npos);
  EXPECT_NE(family(text, "relay_data_relayed_bytes_total").find("relay_data_relayed_bytes_total 220\n"),
            std::string::npos)
      << family(text, "relay_data_relayed_bytes_total");
}

TEST(RenderMetrics, LcoreCyclesBecomeSecondsAtTheRecordedTscRate) {
  EXPECT_EQ(family(render_example(), "relay_dataplane_lcore_busy_seconds_total"),
            "# HELP relay_dataplane_lcore_busy_seconds_total Time a worker lcore spent in loop iterations that "
            "received or sent packets.\n"
            "# TYPE relay_dataplane_lcore_busy_seconds_total counter\n"
            "relay_dataplane_lcore_busy_seconds_total{lcore=\"1\"} 0.5\n"
            "relay_dataplane_lcore_busy_seconds_total{lcore=\"2\"} 0\n");
}

TEST(RenderMetrics, RingFailuresCombineTheDataPlanesToCpDropsWithTheControlPlanesLosses) {
  const std::string rings = family(render_example(), "relay_ring_enqueue_failures_total");
  EXPECT_NE(rings.find("relay_ring_enqueue_failures_total{ring=\"to_cp\"} 1\n"), std::string::npos);
  EXPECT_NE(rings.find("relay_ring_enqueue_failures_total{ring=\"from_cp\"} 0\n"), std::string::npos);
  EXPECT_NE(rings.find("relay_ring_enqueue_failures_total{ring=\"cmd\"} 6\n"), std::string::npos);
}

TEST(RenderMetrics, StreamFamiliesAppearOnlyWhenStreamsServe) {
  EXPECT_EQ(render_example().find("relay_stream_"), std::string::npos);
  core::Stats s;
  ControlPlaneIo io;
  io.streams = ControlPlaneIo::Streams{.tcp_connections = 3,
                                       .tls_connections = 1,
                                       .closed = {{"garbage", 2}, {"idle_timeout", 0}},
                                       .dropped = {{"backpressure", 7}},
                                       .messages_in = 10,
                                       .messages_out = 12};
  const std::string text = render_metrics(kBuild, s, DataplaneSnapshot{}, io, ControlPlaneMemory{}, Log2Histogram{});
  EXPECT_NE(family(text, "relay_stream_connections").find("relay_stream_connections{transport=\"tls\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("relay_stream_connections_closed_total{reason=\"garbage\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("relay_stream_dropped_total{reason=\"backpressure\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("relay_stream_messages_total{direction=\"out\"} 12\n"), std::string::npos);
}

TEST(RenderMetrics, PortGaugesTellFreeFromHeldPorts) {
  const std::string text = render_example();
  EXPECT_NE(family(text, "relay_ports_free").find("\nrelay_ports_free 16375\n"), std::string::npos);
  EXPECT_NE(family(text, "relay_ports_held").find("# TYPE relay_ports_held gauge\nrelay_ports_held 6\n"),
            std::string::npos);
}

TEST(RenderMetrics, ControlPlaneMemoryIsInBytes) {
  const std::string text = render_example();
  EXPECT_NE(family(text, "relay_controlplane_heap_bytes").find("\nrelay_controlplane_heap_bytes 4096\n"),
            std::string::npos);
  EXPECT_NE(family(text, "relay_controlplane_resident_bytes").find("\nrelay_controlplane_resident_bytes 8192\n"),
            std::string::npos);
}

TEST(RenderMetrics, ExceptionLatencyIsACumulativeHistogramInSeconds) {
  const std::string h = family(render_example(), "relay_exception_latency_seconds");
  EXPECT_EQ(h.find("# HELP relay_exception_latency_seconds "), 0u);
  EXPECT_NE(h.find("# TYPE relay_exception_latency_seconds histogram\n"
                   "relay_exception_latency_seconds_bucket{le=\"1.024e-06\"} 1\n"
                   "relay_exception_latency_seconds_bucket{le=\"2.048e-06\"} 1\n"
                   "relay_exception_latency_seconds_bucket{le=\"4.096e-06\"} 2\n"),
            std::string::npos);
  EXPECT_NE(h.find("relay_exception_latency_seconds_bucket{le=\"1.073741824\"} 2\n"
                   "relay_exception_latency_seconds_bucket{le=\"+Inf\"} 2\n"
                   "relay_exception_latency_seconds_sum 4e-06\n"
                   "relay_exception_latency_seconds_count 2\n"),
            std::string::npos);
}

TEST(RenderMetrics, BuildInfoIsOneSampleOfValueOneLabelledWithTheBuild) {
  EXPECT_EQ(family(render_example(), "relay_build_info"),
            "# HELP relay_build_info Always 1; the labels say which release, git revision and DPDK the control plane "
            "runs.\n# TYPE relay_build_info gauge\n"
            "relay_build_info{version=\"0.1.0\",revision=\"6d25b31-dirty\",dpdk=\"22.11.11\"} 1\n");
}

TEST(RenderMetrics, WithTheDataPlaneDownOnlyItsUpGaugeSaysSo) {
  const std::string text = render_metrics(kBuild, core::Stats{}, DataplaneSnapshot{}, ControlPlaneIo{},
                                          ControlPlaneMemory{}, Log2Histogram{});
  EXPECT_NE(text.find("\nrelay_dataplane_up 0\n"), std::string::npos);
  EXPECT_EQ(text.find("relay_dataplane_rx_packets_total"), std::string::npos);
  EXPECT_NE(text.find("relay_requests_total{method=\"allocate\",code=\"success\"} 0\n"), std::string::npos);
  EXPECT_NE(render_example().find("\nrelay_dataplane_up 1\n"), std::string::npos);
}

// Every sample belongs to the family announced just before it, every family
// has HELP and TYPE, names start with relay_, counters end in _total.
TEST(RenderMetrics, EveryFamilyHasHelpAndTypeAndEverySampleFollowsItsOwnFamily) {
  std::istringstream lines(render_example());
  std::string line, current, type;
  std::set<std::string> seen;
  int families = 0;
  while (std::getline(lines, line)) {
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(current.starts_with("relay_")) << current;
      EXPECT_TRUE(seen.insert(current).second) << "family twice: " << current;
      ASSERT_TRUE(std::getline(lines, line));
      ASSERT_TRUE(line.starts_with("# TYPE " + current + " ")) << line;
      type = line.substr(8 + current.size());
      EXPECT_EQ(type == "counter", current.ends_with("_total")) << current;
      ++families;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    const bool own = name == current || (type == "histogram" && (name == current + "_bucket" ||
                                                                 name == current + "_sum" ||
                                                                 name == current + "_count"));
    EXPECT_TRUE(own) << line << " after family " << current;
  }
  EXPECT_GE(families, 30);
}

TEST(RenderMetrics, PromtoolFindsNoProblemInTheText) {
  const char* promtool = std::getenv("PROMTOOL");
  ASSERT_TRUE(promtool != nullptr && *promtool != '\0')
      << "promtool not found: install the Debian package prometheus (scripts/setup does)";
  char path[] = "/tmp/relay-metrics-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << render_example();
  const std::string command = std::string(promtool) + " check metrics < " + path + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = pclose(p);
  unlink(path);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace relay::metrics
