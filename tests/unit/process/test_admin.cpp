// relayctl's far end: the admin commands against a real Server and a real
// configuration file (admin_commands.cpp, live_reload.cpp), the admin socket
// itself (admin_socket.cpp), and relayctl's rendering of the answers.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "controlplane/process/admin_commands.hpp"
#include "controlplane/process/admin_socket.hpp"
#include "controlplane/relayctl/render.hpp"
#include "tests/unit/server/server_harness.hpp"

namespace relay::process {
namespace {

using core::testing::addr;
using core::testing::at;
using nlohmann::json;

const char* kToml = R"(
[relay]
realm = "firezone"
peer_deny = ["198.51.100.99/32"]
[relay.ipv4]
address = "203.0.113.1/24"
[log]
level = "info"
[portal]
ws_url = "wss://portal.example/"
token = "t0ps3cret"
)";

struct Scratch {
  std::filesystem::path dir;
  Scratch() {
    std::string pattern = (std::filesystem::temp_directory_path() / "relay-admin-XXXXXX").string();
    dir = ::mkdtemp(pattern.data());
  }
  ~Scratch() { std::filesystem::remove_all(dir); }
};

Result<RelayConfig, ConfigError> load_from(const std::string& path) {
  const char* argv[] = {"relay-controlplane", "--config", path.c_str()};
  return load_config(3, argv, "relay-controlplane", [](std::string_view) { return std::optional<std::string>(); });
}

struct AdminCommandsTest : core::testing::ServerTest {
  Scratch scratch;
  std::string toml = (scratch.dir / "relay.toml").string();
  Instant now = at(10);
  bool draining_told = false;
  std::optional<LiveConfig> live;
  std::optional<AdminContext> ctx;

  void SetUp() override {
    write(kToml);
    live.emplace([this] { return load_from(toml); }, load_from(toml).value(), server(), nullptr);
    ctx.emplace(AdminContext{.server = server(),
                             .live = *live,
                             .build = BuildInfo{"1.2.3", "abc123", "22.11.11"},
                             .started = at(0),
                             .workers = 2,
                             .now = [this] { return now; },
                             .unix_now = [] { return std::chrono::seconds(core::testing::kUnixAtBoot + 10); },
                             .not_ready = [this] {
                               return draining_told ? std::vector<std::string>{"draining"}
                                                    : std::vector<std::string>{};
                             },
                             .on_drain = [this](bool d) { draining_told = d; }});
  }
  void write(const std::string& text) const { std::ofstream(toml) << text; }
  json ask(const json& request) { return json::parse(handle_admin_request(*ctx, request.dump())); }
  // A second client with its own user.
  void allocate_as(const char* client_address, const char* user) {
    core::testing::Credentials who = core::testing::portal_credentials(core::testing::kUnixAtBoot + 3600, user);
    ASSERT_EQ(call_from(ClientSocket{addr(client_address)}, who, stun::Method::Allocate, core::testing::udp(), at(1))
                  .size(),
              2u);
  }
};

TEST_F(AdminCommandsTest, StatusSaysTheBuildUptimeReadinessDrainAndCounts) {
  ASSERT_EQ(allocate(at(1)).size(), 2u);
  const json s = ask({{"command", "status"}});
  EXPECT_TRUE(s["ok"]);
  EXPECT_EQ(s["version"], "1.2.3");
  EXPECT_EQ(s["revision"], "abc123");
  EXPECT_EQ(s["uptime_seconds"], 10);
  EXPECT_EQ(s["workers"], 2);
  EXPECT_EQ(s["ready"], true);
  EXPECT_EQ(s["draining"], false);
  EXPECT_EQ(s["allocations"], 1);
  EXPECT_EQ(s["config"], toml);
  EXPECT_EQ(s["stream_connections_tcp"], 0);
  ctx->streams = [] { return StreamConnectionCounts{3, 2}; };
  const json with_streams = ask({{"command", "status"}});
  EXPECT_EQ(with_streams["stream_connections_tcp"], 3);
  EXPECT_EQ(with_streams["stream_connections_tls"], 2);
}

TEST_F(AdminCommandsTest, AllocationsAreListedAndFilteredByUserAndByClientIpOrSocket) {
  ASSERT_EQ(allocate(at(1)).size(), 2u);  // 198.51.100.10:40000, fixture_salt
  allocate_as("198.51.100.10:40001", "bob");
  allocate_as("198.51.100.20:40000", "bob");
  EXPECT_EQ(ask({{"command", "allocations"}})["allocations"].size(), 3u);
  const json bobs = ask({{"command", "allocations"}, {"user", "bob"}})["allocations"];
  ASSERT_EQ(bobs.size(), 2u);
  EXPECT_EQ(bobs[0]["user"], "bob");
  EXPECT_EQ(ask({{"command", "allocations"}, {"client", "198.51.100.10"}})["allocations"].size(), 2u);
  const json one = ask({{"command", "allocations"}, {"client", "198.51.100.10:40001"}})["allocations"];
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0]["client"], "198.51.100.10:40001");
  EXPECT_EQ(one[0]["listen"], "203.0.113.1:3478");
  EXPECT_EQ(one[0]["transport"], "udp");
  EXPECT_EQ(one[0]["relay_v4"].get<std::string>().rfind("203.0.113.1:", 0), 0u);
  EXPECT_TRUE(one[0]["relay_v6"].is_null());
  EXPECT_EQ(one[0]["expires_in"], 591);  // 600 s from at(1), asked at(10)
  EXPECT_EQ(ask({{"command", "allocations"}, {"client", "nonsense"}})["error"],
            "client: \"nonsense\" is neither IP nor IP:PORT");
}

TEST_F(AdminCommandsTest, KillEndsExactlyTheMatchingAllocationsAndNeedsExactlyOneTarget) {
  ASSERT_EQ(allocate(at(1)).size(), 2u);
  allocate_as("198.51.100.20:40000", "bob");
  drain();
  EXPECT_EQ(ask({{"command", "kill"}})["error"], "kill takes exactly one of user, client, port");
  EXPECT_EQ(ask({{"command", "kill"}, {"user", "bob"}, {"port", 1}})["error"],
            "kill takes exactly one of user, client, port");
  EXPECT_TRUE(ask({{"command", "kill"}, {"user", "nobody"}})["ended"].empty());
  const json ended = ask({{"command", "kill"}, {"user", "bob"}})["ended"];
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0]["client"], "198.51.100.20:40000");
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<core::FreeAllocation>(out[0]));
  const uint16_t port = server().allocations().at(0).port.value;
  EXPECT_EQ(ask({{"command", "kill"}, {"port", port}})["ended"].size(), 1u);
  EXPECT_EQ(server().allocation_count(), 0u);
  EXPECT_EQ(ask({{"command", "kill"}, {"port", 70000}})["error"], "port must be a whole number 0..65535");
}

TEST_F(AdminCommandsTest, DrainTellsReadinessRefusesAllocatesAndEndsTheRestAtItsDeadline) {
  ASSERT_EQ(allocate(at(1)).size(), 2u);
  json s = ask({{"command", "drain"}, {"deadline_seconds", 30}});
  EXPECT_EQ(s["draining"], true);
  EXPECT_EQ(s["drain_deadline_in"], 30);
  EXPECT_EQ(s["ready"], false);
  EXPECT_EQ(s["not_ready"], json::array({"draining"}));
  EXPECT_TRUE(draining_told);
  EXPECT_TRUE(tick(at(39)).empty());
  EXPECT_EQ(tick(at(40)).size(), 1u);  // FreeAllocation
  s = ask({{"command", "drain"}, {"cancel", true}});
  EXPECT_EQ(s["draining"], false);
  EXPECT_FALSE(draining_told);
  EXPECT_EQ(ask({{"command", "drain"}, {"deadline_seconds", -1}})["ok"], false);
}

TEST_F(AdminCommandsTest, ReloadAppliesTheNewDenyListAndNamesWhatWaitsForARestart) {
  ASSERT_EQ(allocate(at(1)).size(), 2u);
  ASSERT_EQ(bind(0x4000, "198.51.100.50:5000", at(2)).size(), 3u);
  drain();
  write(std::string(kToml).replace(std::string(kToml).find("198.51.100.99/32"), 16, "198.51.100.50/32") +
        "[eal]\nfile_prefix = \"other\"\n");
  const json r = ask({{"command", "reload"}});
  ASSERT_TRUE(r["ok"]) << r;
  EXPECT_EQ(r["channels_revoked"], 1);
  EXPECT_EQ(r["permissions_revoked"], 1);
  EXPECT_EQ(r["needs_restart"], json::array({"eal.file_prefix"}));
  EXPECT_EQ(r["applied"], json::array({"peer_policy", "log"}));  // the quotas did not change
  EXPECT_TRUE(r["refused"].empty());
  EXPECT_EQ(drain().size(), 2u);  // RemoveChannel, RemovePermission
  EXPECT_EQ(live->running().relay.peer_deny, std::vector<Cidr>{*Cidr::parse("198.51.100.50/32")});
  EXPECT_EQ(live->running().eal.file_prefix, "relay");  // not live: unchanged until a restart

  write("[relay]\nlisten_port = 70000\n");
  const json broken = ask({{"command", "reload"}});
  EXPECT_EQ(broken["ok"], false);
  EXPECT_EQ(broken["error"].get<std::string>().find(toml + ":2:15: relay.listen_port"), 0u) << broken;
  EXPECT_EQ(live->running().relay.peer_deny, std::vector<Cidr>{*Cidr::parse("198.51.100.50/32")});
}

// relay.tls_certificate / tls_private_key are live when a TLS listener runs:
// re-read at every reload (a renewal rewrites the same files), refused
// with the loader's reason when they do not load.
struct TlsReloadTest : AdminCommandsTest {
  std::vector<std::string> loaded;
  std::optional<std::string> failure;
  std::optional<LiveConfig> tls_live;
  void SetUp() override {
    AdminCommandsTest::SetUp();
    write(tls_toml("/etc/relay/cert.pem"));
    tls_live.emplace([this] { return load_from(toml); }, load_from(toml).value(), server(), nullptr,
                     [this](const RelaySection& relay) -> Result<void, std::string> {
                       if (failure) return Err{*failure};
                       loaded.push_back(*relay.tls_certificate + " " + *relay.tls_private_key);
                       return {};
                     });
  }
  static std::string tls_toml(const std::string& cert) {
    return std::string(kToml).replace(std::string(kToml).find("[relay]\n"), 8,
                                      "[relay]\ntls_certificate = \"" + cert +
                                          "\"\ntls_private_key = \"/etc/relay/key.pem\"\n") +
           "[stream]\nenabled = true\n";
  }
};

TEST_F(TlsReloadTest, EveryReloadGivesTheCertificateToTheStreamServerForNewConnections) {
  const ReloadOutcome same = tls_live->reload(at(2));
  ASSERT_TRUE(same.loaded) << same.error;
  EXPECT_EQ(loaded, std::vector<std::string>{"/etc/relay/cert.pem /etc/relay/key.pem"});
  EXPECT_NE(std::find(same.applied.begin(), same.applied.end(), "tls_certificate"), same.applied.end());
  write(tls_toml("/etc/relay/renewed.pem"));
  const ReloadOutcome renewed = tls_live->reload(at(3));
  EXPECT_TRUE(renewed.needs_restart.empty());
  EXPECT_EQ(loaded.back(), "/etc/relay/renewed.pem /etc/relay/key.pem");
  EXPECT_EQ(tls_live->running().relay.tls_certificate, "/etc/relay/renewed.pem");
}

TEST_F(TlsReloadTest, ACertificateThatDoesNotLoadChangesNothingAndIsRefusedWithItsReason) {
  failure = "relay.tls_certificate /etc/relay/broken.pem: no start line";
  write(tls_toml("/etc/relay/broken.pem"));
  const ReloadOutcome r = tls_live->reload(at(2));
  ASSERT_TRUE(r.loaded);
  EXPECT_EQ(r.refused, std::vector<std::string>{*failure});
  EXPECT_EQ(tls_live->running().relay.tls_certificate, "/etc/relay/cert.pem");
}

TEST_F(TlsReloadTest, WithoutATlsListenerANewCertificateWaitsForARestart) {
  write(tls_toml("/etc/relay/cert.pem"));
  const ReloadOutcome r = live->reload(at(2));  // the fixture's: no TLS listener
  ASSERT_TRUE(r.loaded);
  EXPECT_NE(std::find(r.needs_restart.begin(), r.needs_restart.end(), "relay.tls_certificate"), r.needs_restart.end());
}

TEST_F(AdminCommandsTest, AReloadThatRaisesTheLogLevelStillLogsWhatItApplied) {
  std::string captured;
  log::set_output(&captured);
  const std::string toml_text(kToml);
  write(std::string(toml_text).replace(toml_text.find("level = \"info\""), 14, "level = \"warn\""));
  const json r = ask({{"command", "reload"}});
  log::set_output(stderr);
  log::set_level(log::Level::Info);
  ASSERT_TRUE(r["ok"]) << r;
  EXPECT_NE(captured.find("applied the live keys"), std::string::npos) << captured;
  EXPECT_EQ(live->running().log.level, log::Level::Warn);
}

TEST_F(AdminCommandsTest, CredentialsAreMintedForTheConfiguredSchemeWithBoundedLifetimes) {
  const json c = ask({{"command", "credentials"}, {"user", "alice"}, {"lifetime", 600}});
  ASSERT_TRUE(c["ok"]) << c;
  const uint64_t expiry = core::testing::kUnixAtBoot + 10 + 600;
  EXPECT_EQ(c["username"], std::to_string(expiry) + ":alice");
  EXPECT_EQ(c["password"], core::testing::portal_credentials(expiry, "alice").password);
  EXPECT_EQ(c["realm"], "firezone");
  EXPECT_EQ(c["uris"], json::array({"turn:203.0.113.1:3478?transport=udp", "turn:[2001:db8::1]:3478?transport=udp"}));
  EXPECT_EQ(ask({{"command", "credentials"}, {"user", "a:b"}})["ok"], false);
  EXPECT_EQ(ask({{"command", "credentials"}})["ok"], false);
  EXPECT_EQ(ask({{"command", "credentials"}, {"user", "alice"}, {"lifetime", 86401}})["ok"], false);
}

TEST_F(AdminCommandsTest, ConfigShowsEveryKeyWithSecretsRedacted) {
  const std::string raw = handle_admin_request(*ctx, R"({"command":"config"})");
  EXPECT_EQ(raw.find("t0ps3cret"), std::string::npos);
  const json c = json::parse(raw);
  bool token_seen = false;
  for (const auto& s : c["settings"]) {
    if (s["key"] == "portal.token") {
      EXPECT_EQ(s["value"], "<redacted>");
      token_seen = true;
    }
    if (s["key"] == "relay.ipv4.address") {
      EXPECT_EQ(s["value"], "203.0.113.1/24");
    }
  }
  EXPECT_TRUE(token_seen);
}

TEST_F(AdminCommandsTest, BadRequestsAreAnsweredWithOneLineAndChangeNothing) {
  EXPECT_EQ(json::parse(handle_admin_request(*ctx, "{not json"))["error"], "the request is not JSON");
  EXPECT_EQ(ask(json::array())["error"], "a request is a JSON object");
  EXPECT_EQ(ask({{"command", "explode"}})["error"], "unknown command \"explode\"");
  EXPECT_EQ(ask({{"command", 7}})["error"], "command must be a string");
}

// ----- the socket ---------------------------------------------------------

std::string talk(const std::string& path, const std::string& text, bool read_answer = true) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)!::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
  std::string answer;
  char buffer[4096];
  for (ssize_t n; read_answer && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
  ::close(fd);
  return answer;
}

// Runs `client` on a thread while the io_context serves (at most 5 s).
std::string served(boost::asio::io_context& io, const std::function<std::string()>& client) {
  std::string answer;
  std::atomic<bool> done = false;
  std::thread t([&] {
    answer = client();
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_for(std::chrono::milliseconds(10));
  t.join();
  io.restart();
  io.poll();
  return answer;
}

TEST(AdminSocket, AnswersOneRequestPerConnectionOwnerOnlyAndRemovesItsFile) {
  Scratch scratch;
  const std::string path = (scratch.dir / "run" / "relay.sock").string();
  boost::asio::io_context io;
  auto socket = AdminSocket::open(io, path, [](const std::string& line) { return "echo " + line; });
  ASSERT_TRUE(socket.ok()) << socket.error();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((scratch.dir / "run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(served(io, [&] { return talk(path, "hello\n"); }), "echo hello\n");
  EXPECT_EQ((*socket)->stats().requests, 1u);
  socket.value().reset();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(AdminSocket, AStaleSocketFileIsReplacedAndALiveOneIsRefused) {
  Scratch scratch;
  const std::string path = (scratch.dir / "relay.sock").string();
  boost::asio::io_context io;
  {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);  // bound, never listening: a dead process's file
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::close(fd);
  }
  auto first = AdminSocket::open(io, path, [](const std::string&) { return "first"; });
  ASSERT_TRUE(first.ok()) << first.error();
  auto second = AdminSocket::open(io, path, [](const std::string&) { return "second"; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), "admin socket " + path + ": another control plane answers on it (admin.socket must differ)");
  EXPECT_EQ(served(io, [&] { return talk(path, "x\n"); }), "first\n");
}

TEST(AdminSocket, ARequestOverTheLimitIsClosedUnansweredAndTheNextIsServed) {
  Scratch scratch;
  const std::string path = (scratch.dir / "relay.sock").string();
  boost::asio::io_context io;
  auto socket = AdminSocket::open(io, path, [](const std::string&) { return "ok"; });
  ASSERT_TRUE(socket.ok()) << socket.error();
  const std::string giant(AdminSocket::kMaxRequestBytes + 10, 'x');
  EXPECT_EQ(served(io, [&] {
              const std::string a = talk(path, giant);
              return a.empty() ? std::string("closed") : a;
            }),
            "closed");
  EXPECT_EQ((*socket)->stats().bad_requests, 1u);
  EXPECT_EQ(served(io, [&] { return talk(path, "fine\n"); }), "ok\n");
}

// ----- relayctl's rendering ------------------------------------------------

TEST(RelayctlRender, AllocationsAreAnAlignedTableWithACount) {
  const json answer = {{"ok", true},
                       {"allocations",
                        {{{"port", 49152}, {"client", "198.51.100.10:40000"}, {"user", "alice"},
                          {"relay_v4", "203.0.113.1:49152"}, {"relay_v6", nullptr}, {"expires_in", 591},
                          {"channels", 1}, {"permissions", 2}, {"transport", "tls"}}}}};
  EXPECT_EQ(relayctl::render("allocations", answer),
            "PORT   CLIENT               TRANSPORT  USER   RELAY              EXPIRES_IN  CHANNELS  PERMISSIONS\n"
            "49152  198.51.100.10:40000  tls        alice  203.0.113.1:49152  591s        1         2\n"
            "1 allocation\n");
  EXPECT_TRUE(relayctl::succeeded("allocations", answer));
}

TEST(RelayctlRender, AKillThatEndedNothingSaysSoAndFails) {
  const json answer = {{"ok", true}, {"ended", json::array()}};
  EXPECT_EQ(relayctl::render("kill", answer), "no allocation matches\n");
  EXPECT_FALSE(relayctl::succeeded("kill", answer));
  EXPECT_FALSE(relayctl::succeeded("reload", {{"ok", true}, {"refused", {"users_file: x"}}}));
}

}  // namespace
}  // namespace relay::process
