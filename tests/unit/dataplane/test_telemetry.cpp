// /relay/* telemetry commands, asked over the EAL's real telemetry socket
// as dpdk-telemetry.py asks them. One EAL process: --no-huge --no-shconf
// and its own --file-prefix.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "dataplane/telemetry.hpp"

namespace relay::dataplane {
namespace {

struct alignas(64) ZoneMemory {
  std::byte bytes[counters_zone_size(2)];
};
ZoneMemory g_memory;
std::span<WorkerCounters> g_workers;

class Telemetry : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string prefix = "relay-telemetry-" + std::to_string(getpid());
    std::vector<std::string> args = {"test_telemetry", "--no-huge", "--no-shconf", "--no-pci", "-l", "0",
                                     "-m", "64", "--file-prefix", prefix, "--log-level", "error"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    ASSERT_GE(rte_eal_init(static_cast<int>(argv.size()), argv.data()), 0);
    const WorkerPlacement placement[] = {{1, 0}, {2, 0}};
    auto workers = init_counters_zone(g_memory.bytes, 2'000'000'000, placement);
    ASSERT_TRUE(workers.ok()) << workers.error();
    g_workers = *workers;
    auto view = view_counters_zone(g_memory.bytes);
    ASSERT_TRUE(view.ok());
    auto registered = register_telemetry(*view);
    ASSERT_TRUE(registered.ok()) << registered.error();
  }
  static void TearDownTestSuite() {
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    // Hermetic: the EAL leaves its runtime directory behind, and unlinks the
    // telemetry socket in it only at exit.
    unlink((runtime_dir + "/dpdk_telemetry.v2").c_str());
    rmdir(runtime_dir.c_str());
  }

  // Connects, skips the greeting, sends one command, returns its value.
  static nlohmann::json ask(const std::string& command) {
    const std::string path = std::string(rte_eal_get_runtime_dir()) + "/dpdk_telemetry.v2";
    const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    EXPECT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << path;
    std::vector<char> buf(1 << 16);
    EXPECT_GT(read(fd, buf.data(), buf.size()), 0);  // {"version": ..., "pid": ...}
    EXPECT_EQ(write(fd, command.data(), command.size()), static_cast<ssize_t>(command.size()));
    const ssize_t n = read(fd, buf.data(), buf.size());
    close(fd);
    if (n <= 0) return {};
    const auto reply = nlohmann::json::parse(std::string(buf.data(), static_cast<size_t>(n)), nullptr, false);
    return reply.is_object() && reply.contains(command) ? reply[command] : nlohmann::json{};
  }
};

TEST_F(Telemetry, RelayStatsSumsEveryCounterOverTheWorkers) {
  g_workers[0].add(Counter::DropExpired, 4);
  g_workers[1].add(Counter::DropExpired, 1);
  g_workers[1].add_relayed(Direction::ClientToPeer, Family::V6, Family::V4, 99);

  const auto stats = ask("/relay/stats");

  ASSERT_TRUE(stats.is_object()) << stats.dump();
  EXPECT_EQ(stats["drop_expired"], 5);
  EXPECT_EQ(stats["rx_packets"], 0);
  EXPECT_EQ(stats["client_to_peer_ipv6_to_ipv4_bytes"], 99);
  EXPECT_EQ(stats["client_to_peer_ipv6_to_ipv4_packets"], 1);
  EXPECT_EQ(stats.size(), kCounterCount + 4 + 2 * kDirectionCount * 4);
}

TEST_F(Telemetry, RelayLcoresListsEachWorkersCyclesAndTrafficByLcore) {
  g_workers[0].busy_cycles = 10;
  g_workers[1].busy_cycles = 20;
  g_workers[1].total_cycles = 80;
  g_workers[1].rx_bytes = 1500;

  const auto lcores = ask("/relay/lcores");

  ASSERT_TRUE(lcores.is_object()) << lcores.dump();
  EXPECT_EQ(lcores["lcore"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(lcores["busy_cycles"], nlohmann::json::array({10, 20}));
  EXPECT_EQ(lcores["total_cycles"][1], 80);
  EXPECT_EQ(lcores["rx_bytes"][1], 1500);
  EXPECT_EQ(lcores["tsc_hz"], 2'000'000'000);
}

TEST_F(Telemetry, RelayAllocationsReportsWhatWorkerZeroPublished) {
  g_workers[0].tables = {3, 7, 6};

  const auto tables = ask("/relay/allocations");

  ASSERT_TRUE(tables.is_object()) << tables.dump();
  EXPECT_EQ(tables["allocations"], 3);
  EXPECT_EQ(tables["channels"], 7);
  EXPECT_EQ(tables["bindings"], 6);
}

TEST_F(Telemetry, TheStandardCommandListNowIncludesTheRelayCommands) {
  const auto commands = ask("/");
  ASSERT_TRUE(commands.is_array()) << commands.dump();
  for (const char* c : {"/relay/stats", "/relay/lcores", "/relay/allocations", "/ethdev/list"})
    EXPECT_NE(std::find(commands.begin(), commands.end(), c), commands.end()) << c;
}

}  // namespace
}  // namespace relay::dataplane
