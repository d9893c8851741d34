// Loading: defaults, the file, the environment and flags, and which wins.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/unit/config/config_test_support.hpp"

using namespace relay;
using namespace relay::test;
using namespace std::chrono_literals;

TEST(ConfigDefaults, OneRelayAddressIsAllThatMustBeGiven) {
  auto cfg = load(kMinimal);
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->source, "");
  ASSERT_TRUE(cfg->relay.ipv4);
  EXPECT_EQ(cfg->relay.ipv4->address.to_string(), "198.51.100.1");
  EXPECT_EQ(cfg->relay.ipv4->prefix_len, 24);
  EXPECT_EQ(cfg->relay.ipv4->subnet().to_string(), "198.51.100.0/24");
  EXPECT_EQ(cfg->relay.ipv4->advertised().to_string(), "198.51.100.1");
  EXPECT_FALSE(cfg->relay.ipv4->gateway);
  EXPECT_FALSE(cfg->relay.ipv6);
  EXPECT_EQ(cfg->relay.listen_port, 3478);
  EXPECT_EQ(cfg->relay.allocation_ports.lowest, 49152);
  EXPECT_EQ(cfg->relay.allocation_ports.highest, 65535);
  EXPECT_EQ(cfg->relay.realm, "firezone");
  EXPECT_EQ(cfg->relay.auth.scheme, AuthScheme::Firezone);
  EXPECT_TRUE(cfg->relay.auth.secrets.empty());
  EXPECT_FALSE(cfg->relay.auth.users_file);
  EXPECT_FALSE(cfg->relay.auth_secret_file);
  EXPECT_TRUE(cfg->relay.deny_on_link);
  EXPECT_FALSE(cfg->relay.rng_seed);
  EXPECT_EQ(cfg->relay.allocation_lifetime, 600s);
  EXPECT_EQ(cfg->relay.max_allocation_lifetime, 3600s);
  EXPECT_EQ(cfg->relay.channel_lifetime, 600s);
  EXPECT_EQ(cfg->relay.permission_lifetime, 300s);
  EXPECT_EQ(cfg->relay.nonce_uses, 10);
  EXPECT_TRUE(cfg->relay.peer_allow.empty());
  EXPECT_TRUE(cfg->relay.peer_deny.empty());
  EXPECT_EQ(cfg->quotas.allocations_per_user, 64u);
  EXPECT_EQ(cfg->quotas.allocations_total, 0u);
  EXPECT_EQ(cfg->eal.lcores, "0-1");
  EXPECT_EQ(cfg->eal.lcore_ids, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(cfg->eal.effective_main_lcore(), 0u);
  EXPECT_EQ(cfg->eal.file_prefix, "relay");
  EXPECT_TRUE(cfg->eal.huge_pages);
  EXPECT_TRUE(cfg->eal.pci_allowlist.empty());
  EXPECT_EQ(cfg->dataplane.worker_lcores, (std::vector<uint32_t>{1}));
  EXPECT_EQ(cfg->dataplane.burst_size, 32);
  EXPECT_EQ(cfg->dataplane.stun_rate_per_source, 200u);
  EXPECT_EQ(cfg->dataplane.stun_burst_per_source, 100u);
  EXPECT_FALSE(cfg->dataplane.mac_address);
  EXPECT_FALSE(cfg->portal.ws_url);
  EXPECT_FALSE(cfg->portal.allow_insecure_ws);
  EXPECT_FALSE(cfg->metrics.address);
  EXPECT_EQ(cfg->log.format, log::Format::Text);
  EXPECT_EQ(cfg->log.level, log::Level::Info);
}

TEST(ConfigFile, ValuesFromEveryTableReplaceTheDefaults) {
  TempToml file(R"(
[relay]
listen_port = 3479
realm = "example.org"
auth_secret = "s3cret-from-file"
rng_seed = 42
channel_lifetime = 60
nonce_uses = 3
peer_allow = ["203.0.113.0/24"]
peer_deny = ["203.0.113.128/25", "2001:db8:dead::/48"]
[relay.ipv4]
address = "198.51.100.1/24"
gateway = "198.51.100.254"
public_address = "203.0.113.77"
[relay.ipv6]
address = "2001:db8:100::1/64"
[quotas]
max_channels_per_allocation = 16
[eal]
lcores = "2-4,7"
main_lcore = 7
huge_pages = false
memory_mb = 512
vdevs = ["net_ring0", "net_null0"]
[dataplane]
worker_lcores = [2, 4]
mac_address = "02:00:00:aa:bb:cc"
vlan = 100
[portal]
ws_url = "wss://portal.example.org"
token = "portal-token"
[metrics]
address = "[::1]:9100"
[log]
format = "json"
level = "debug"
)");
  auto cfg = load({"--config", file.path()});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->source, file.path());
  EXPECT_EQ(cfg->relay.listen_port, 3479);
  EXPECT_EQ(cfg->relay.realm, "example.org");
  EXPECT_EQ(cfg->relay.auth.secrets, std::vector<std::string>{"s3cret-from-file"});
  EXPECT_EQ(cfg->relay.rng_seed, 42u);
  EXPECT_EQ(cfg->relay.channel_lifetime, 60s);
  EXPECT_EQ(cfg->relay.nonce_uses, 3);
  EXPECT_EQ(cfg->relay.ipv4->gateway->to_string(), "198.51.100.254");
  EXPECT_EQ(cfg->relay.ipv4->advertised().to_string(), "203.0.113.77");
  EXPECT_EQ(cfg->relay.ipv6->address.to_string(), "2001:db8:100::1");
  EXPECT_EQ(cfg->relay.ipv6->advertised().to_string(), "2001:db8:100::1");
  // What the lists mean is core::PeerPolicy's business (tests/unit/server).
  EXPECT_EQ(cfg->relay.peer_allow, (std::vector<Cidr>{*Cidr::parse("203.0.113.0/24")}));
  EXPECT_EQ(cfg->relay.peer_deny,
            (std::vector<Cidr>{*Cidr::parse("203.0.113.128/25"), *Cidr::parse("2001:db8:dead::/48")}));
  EXPECT_EQ(cfg->quotas.channels_per_allocation, 16u);
  EXPECT_EQ(cfg->eal.lcore_ids, (std::vector<uint32_t>{2, 3, 4, 7}));
  EXPECT_EQ(cfg->eal.effective_main_lcore(), 7u);
  EXPECT_FALSE(cfg->eal.huge_pages);
  EXPECT_EQ(cfg->eal.memory_mb, 512u);
  EXPECT_EQ(cfg->eal.vdevs, (std::vector<std::string>{"net_ring0", "net_null0"}));
  EXPECT_EQ(cfg->dataplane.worker_lcores, (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(cfg->dataplane.mac_address, (MacAddress{0x02, 0, 0, 0xaa, 0xbb, 0xcc}));
  EXPECT_EQ(cfg->dataplane.vlan, 100);
  EXPECT_EQ(cfg->portal.ws_url, "wss://portal.example.org");
  EXPECT_EQ(cfg->portal.token, "portal-token");
  EXPECT_EQ(cfg->metrics.address->to_string(), "[::1]:9100");
  EXPECT_EQ(cfg->log.format, log::Format::Json);
  EXPECT_EQ(cfg->log.level, log::Level::Debug);
}

TEST(ConfigPrecedence, EnvironmentBeatsFileAndFlagBeatsEnvironment) {
  TempToml file(
      "[relay]\nlisten_port = 3479\nrealm = \"from-file\"\n"
      "[relay.ipv4]\naddress = \"198.51.100.1/24\"\n");
  Env env{{"LISTEN_PORT", "3480"}, {"REALM", "from-env"}};
  auto from_env = load({"--config", file.path()}, env);
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env->relay.listen_port, 3480);
  EXPECT_EQ(from_env->relay.realm, "from-env");

  auto from_flag = load({"--config", file.path(), "--listen-port", "3481"}, env);
  ASSERT_TRUE(from_flag.ok()) << from_flag.error().message;
  EXPECT_EQ(from_flag->relay.listen_port, 3481);
  EXPECT_EQ(from_flag->relay.realm, "from-env");
}

TEST(ConfigPrecedence, EachKeyTakesItsOwnHighestSource) {
  TempToml file("[relay]\nrealm = \"file-realm\"\n[log]\nlevel = \"warn\"\nformat = \"json\"\n");
  auto cfg = load({"--config", file.path(), "--log-level", "error", "--ip6-addr", "2001:db8::5/64"},
                  {{"LOG_LEVEL", "debug"}, {"RNG_SEED", "18446744073709551615"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->relay.realm, "file-realm");
  EXPECT_EQ(cfg->log.format, log::Format::Json);
  EXPECT_EQ(cfg->log.level, log::Level::Error);
  EXPECT_EQ(cfg->relay.rng_seed, UINT64_MAX);
  EXPECT_EQ(cfg->relay.ipv6->address.to_string(), "2001:db8::5");
}

TEST(ConfigPrecedence, TheStunRateLimitComesFromFileEnvironmentOrFlag) {
  TempToml file(
      "[relay.ipv4]\naddress = \"198.51.100.1/24\"\n[dataplane]\nstun_rate_per_source = 0\n"
      "stun_burst_per_source = 7\n");
  auto from_file = load({"--config", file.path()});
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file->dataplane.stun_rate_per_source, 0u);
  EXPECT_EQ(from_file->dataplane.stun_burst_per_source, 7u);
  auto overridden = load({"--config", file.path(), "--dataplane-stun-burst-per-source", "9"},
                         {{"DATAPLANE_STUN_RATE_PER_SOURCE", "1000"}});
  ASSERT_TRUE(overridden.ok()) << overridden.error().message;
  EXPECT_EQ(overridden->dataplane.stun_rate_per_source, 1000u);
  EXPECT_EQ(overridden->dataplane.stun_burst_per_source, 9u);
  EXPECT_FALSE(load({"--config", file.path(), "--dataplane-stun-burst-per-source", "0"}).ok());
}

TEST(ConfigPrecedence, ConfigFlagBeatsConfigVariable) {
  TempToml flagged("[relay]\nrealm = \"flagged\"\n[relay.ipv4]\naddress = \"198.51.100.1/24\"\n");
  TempToml from_env("[relay]\nrealm = \"env\"\n[relay.ipv4]\naddress = \"198.51.100.1/24\"\n");
  auto by_env = load({}, {{"CONFIG", from_env.path()}});
  ASSERT_TRUE(by_env.ok()) << by_env.error().message;
  EXPECT_EQ(by_env->relay.realm, "env");
  auto by_flag = load({"--config", flagged.path()}, {{"CONFIG", from_env.path()}});
  ASSERT_TRUE(by_flag.ok()) << by_flag.error().message;
  EXPECT_EQ(by_flag->relay.realm, "flagged");
}

TEST(ConfigPrecedence, AnEmptyFlagSwitchesOffWhatTheFileSwitchedOn) {
  TempToml file(
      "[relay.ipv4]\naddress = \"198.51.100.1/24\"\n[metrics]\naddress = \"127.0.0.1:9100\"\n"
      "[eal]\nmain_lcore = 1\n");
  auto cfg = load({"--config", file.path(), "--metrics", "", "--eal-main-lcore", ""});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_FALSE(cfg->metrics.address);
  EXPECT_FALSE(cfg->eal.main_lcore);
}

TEST(ConfigLists, FlagsRepeatAndEnvironmentSplitsOnWhitespace) {
  auto cfg =
      load({"--ip4-addr", "198.51.100.1/24", "--eal-vdevs",
            "net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap", "--eal-vdevs", "net_null0"},
           {{"PEER_DENY", " 10.0.0.0/8\t192.168.0.0/16 "}, {"DATAPLANE_WORKER_LCORES", "0 1"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->eal.vdevs,
            (std::vector<std::string>{"net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap", "net_null0"}));
  ASSERT_EQ(cfg->relay.peer_deny.size(), 2u);
  EXPECT_EQ(cfg->relay.peer_deny[1].to_string(), "192.168.0.0/16");
  EXPECT_EQ(cfg->dataplane.worker_lcores, (std::vector<uint32_t>{0, 1}));
}

TEST(ConfigLists, BooleanFlagsStandAloneOrTakeAValue) {
  auto on =
      load({"--ip4-addr", "198.51.100.1/24", "--allow-insecure-ws", "--eal-huge-pages=false"});
  ASSERT_TRUE(on.ok()) << on.error().message;
  EXPECT_TRUE(on->portal.allow_insecure_ws);
  EXPECT_FALSE(on->eal.huge_pages);
  auto env = load(kMinimal, {{"ALLOW_INSECURE_WS", "yes"}, {"EAL_HUGE_PAGES", "0"}});
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_TRUE(env->portal.allow_insecure_ws);
  EXPECT_FALSE(env->eal.huge_pages);
}

TEST(ConfigWorkers, TheMainLcoreWorksOnlyWhenItIsTheOnlyOne) {
  auto single = load({"--ip4-addr", "198.51.100.1/24", "--eal-lcores", "3"});
  ASSERT_TRUE(single.ok()) << single.error().message;
  EXPECT_EQ(single->dataplane.worker_lcores, (std::vector<uint32_t>{3}));
  auto many =
      load({"--ip4-addr", "198.51.100.1/24", "--eal-lcores", "0-3", "--eal-main-lcore", "2"});
  ASSERT_TRUE(many.ok()) << many.error().message;
  EXPECT_EQ(many->dataplane.worker_lcores, (std::vector<uint32_t>{0, 1, 3}));
}

TEST(ConfigFiles, EveryFileInConfLoadsWithoutError) {
  size_t loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(RELAY_CONF_DIR)) {
    if (entry.path().extension() != ".toml") continue;
    auto cfg = load({"--config", entry.path().string()});
    EXPECT_TRUE(cfg.ok()) << entry.path() << ": " << (cfg.ok() ? "" : cfg.error().message);
    ++loaded;
  }
  EXPECT_GE(loaded, 3u);  // demo.toml, nic.toml and the test topologies
}

TEST(ConfigFiles, TheDemoFileDescribesTheLoopbackDemo) {
  auto cfg = load({"--config", std::string(RELAY_CONF_DIR) + "/demo.toml"});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->relay.ipv4->subnet().to_string(), "198.51.100.0/24");
  EXPECT_EQ(cfg->relay.ipv6->address.to_string(), "2001:db8:100::1");
  EXPECT_TRUE(cfg->eal.vdevs.empty());
  EXPECT_EQ(cfg->eal.interface, "turn-demo0");
  EXPECT_EQ(cfg->eal.interface_driver, InterfaceDriver::Auto);
  EXPECT_TRUE(cfg->eal.pci_allowlist.empty());
  EXPECT_EQ(cfg->metrics.address->to_string(), "127.0.0.1:9100");
  EXPECT_EQ(cfg->log.format, log::Format::Text);
  EXPECT_FALSE(cfg->relay.deny_on_link);  // its clients and peers share the relay's /24
}

TEST(AuthSecret, AFileGivesTheSecretWithoutItsTrailingNewlineFromEverySource) {
  TempToml secret("s3cret from a file\n");
  TempToml crlf("s3cret-s3cret-s3cret\r\n");
  auto from_flag = load({"--ip4-addr", "198.51.100.1/24", "--auth-secret-file", secret.path()});
  ASSERT_TRUE(from_flag.ok()) << from_flag.error().message;
  EXPECT_EQ(from_flag->relay.auth.secrets, std::vector<std::string>{"s3cret from a file"});
  EXPECT_EQ(from_flag->relay.auth_secret_file, secret.path());
  auto from_env = load(kMinimal, {{"AUTH_SECRET_FILE", crlf.path()}});
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env->relay.auth.secrets, std::vector<std::string>{"s3cret-s3cret-s3cret"});
  TempToml file("[relay]\nauth_secret_file = \"" + secret.path() + "\"\n[relay.ipv4]\naddress = \"198.51.100.1/24\"\n");
  auto from_file = load({"--config", file.path()});
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file->relay.auth.secrets, std::vector<std::string>{"s3cret from a file"});
}

TEST(AuthSecret, ASecretFileHoldsOneSecretALineForARotation) {
  TempToml rotation("rotation-secret-new-0002\n\nrotation-secret-old-0001\r\n");
  auto cfg = load(kMinimal, {{"AUTH_SECRET_FILE", rotation.path()}, {"AUTH_SCHEME", "rest"}});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->relay.auth.scheme, AuthScheme::Rest);
  EXPECT_EQ(cfg->relay.auth.secrets,
            (std::vector<std::string>{"rotation-secret-new-0002", "rotation-secret-old-0001"}));
}

TEST(AuthSecret, TheSchemeAndTheSecretsComeFromTheFileTheEnvironmentOrFlags) {
  TempToml file("[relay.ipv4]\naddress = \"198.51.100.1/24\"\n"
                "[relay.auth]\nscheme = \"rest\"\nsecrets = [\"rotation-secret-new-0002\", "
                "\"rotation-secret-old-0001\"]\n");
  auto from_file = load({"--config", file.path()});
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file->relay.auth.scheme, AuthScheme::Rest);
  EXPECT_EQ(from_file->relay.auth.secrets.size(), 2u);
  auto from_env = load(kMinimal, {{"AUTH_SCHEME", "rest"}, {"AUTH_SECRETS", "rotation-secret-new-0002 rotation-secret-old-0001"}});
  ASSERT_TRUE(from_env.ok()) << from_env.error().message;
  EXPECT_EQ(from_env->relay.auth.secrets, from_file->relay.auth.secrets);
  TempToml users("alice:pw\n");
  auto from_flags = load({"--ip4-addr", "198.51.100.1/24", "--auth-scheme", "static", "--auth-users-file", users.path()});
  ASSERT_TRUE(from_flags.ok()) << from_flags.error().message;
  EXPECT_EQ(from_flags->relay.auth.scheme, AuthScheme::Static);
  EXPECT_EQ(from_flags->relay.auth.users_file, users.path());
}

TEST(AuthSecret, ASeedGivesTheSameSecretEveryTime) {
  auto a = generate_auth_secret(7);
  auto b = generate_auth_secret(7);
  auto c = generate_auth_secret(8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(a->size(), 64u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(AuthSecret, WithoutASeedEverySecretIsFresh) {
  auto a = generate_auth_secret(std::nullopt);
  auto b = generate_auth_secret(std::nullopt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
}

