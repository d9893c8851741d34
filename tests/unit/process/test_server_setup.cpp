// From the operator's configuration to the Server's: every field the Server
// is told comes from the key the operator set, and the auth secret is
// configured, or generated and never logged (a warning says nobody can mint
// credentials when no portal does).
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "controlplane/process/server_setup.hpp"
#include "tests/unit/config/config_test_support.hpp"
#include "tests/unit/observability/log_test_support.hpp"

namespace relay::process {
namespace {

using test::TempToml;

RelayConfig load_file(const std::string& path, const std::vector<std::string>& flags = {}) {
  std::vector<std::string> args{"relay-controlplane", "--config", path};
  args.insert(args.end(), flags.begin(), flags.end());
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto no_env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  auto loaded = load_config(static_cast<int>(argv.size()), argv.data(), "relay-controlplane", no_env);
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().message);
  return loaded.ok() ? loaded.value() : RelayConfig{};
}

RelayConfig load(const std::string& toml, const std::vector<std::string>& flags = {}) {
  TempToml file(toml);
  return load_file(file.path(), flags);
}

const char* kFull = R"(
[relay]
listen_port = 3479
lowest_port = 50000
highest_port = 50999
realm = "example.org"
auth_secret = "s3cret-s3cret-s3cret"
allocation_lifetime = 300
max_allocation_lifetime = 1800
channel_lifetime = 420
permission_lifetime = 240
nonce_uses = 3
peer_allow = ["192.0.2.0/24", "2001:db8::/32"]
peer_deny = ["192.0.2.128/25"]

[relay.ipv4]
address = "203.0.113.1/24"
public_address = "198.51.100.77"

[relay.ipv6]
address = "2001:db8:100::1/64"

[quotas]
max_allocations_per_username = 5
max_allocations_per_client_ip = 6
max_allocations = 7
max_channels_per_allocation = 8
max_permissions_per_allocation = 9
)";

TEST(ServerSetup, AddressesPortsRealmAndLifetimesComeFromTheirKeys) {
  auto c = server_config_from(load(kFull), {"s3cret"});
  EXPECT_EQ(c.relay_v4, IpAddress::parse("203.0.113.1"));
  EXPECT_EQ(c.relay_v6, IpAddress::parse("2001:db8:100::1"));
  EXPECT_EQ(c.listen_port, 3479);
  EXPECT_EQ(c.allocation_ports, (PortRange{50000, 50999}));
  EXPECT_EQ(c.realm, "example.org");
  EXPECT_EQ(c.auth_scheme, AuthScheme::Firezone);
  EXPECT_EQ(c.auth_secrets, std::vector<std::string>{"s3cret"});
  EXPECT_EQ(c.default_allocation_lifetime, std::chrono::seconds(300));
  EXPECT_EQ(c.max_allocation_lifetime, std::chrono::seconds(1800));
  EXPECT_EQ(c.channel_lifetime, std::chrono::seconds(420));
  EXPECT_EQ(c.permission_lifetime, std::chrono::seconds(240));
  EXPECT_EQ(c.nonce_uses, 3);
  EXPECT_TRUE(core::validate(c).ok());
}

TEST(ServerSetup, RelayAddressIsTheInterfaceAddressAndThePublicOneIsAdvertised) {
  auto c = server_config_from(load(kFull), {"s3cret"});
  EXPECT_EQ(c.relay_v4, IpAddress::parse("203.0.113.1"));
  EXPECT_EQ(c.advertised_v4, IpAddress::parse("198.51.100.77"));
  EXPECT_EQ(c.advertised_v6, std::nullopt);  // no public_address: the interface address is advertised
}

TEST(ServerSetup, PeerPolicyListsCarryOverInOrder) {
  auto c = server_config_from(load(kFull), {"s3cret"});
  ASSERT_EQ(c.peer_allow.size(), 2u);
  EXPECT_EQ(c.peer_allow[0], Cidr::parse("192.0.2.0/24"));
  EXPECT_EQ(c.peer_allow[1], Cidr::parse("2001:db8::/32"));
  ASSERT_EQ(c.peer_deny.size(), 1u);
  EXPECT_EQ(c.peer_deny[0], Cidr::parse("192.0.2.128/25"));
}

TEST(ServerSetup, GatewaysAlwaysAndOnLinkSubnetsByDefaultAreTheRelaysLocalNetworks) {
  const char* toml = R"(
[relay.ipv4]
address = "203.0.113.1/24"
gateway = "203.0.113.254"
[relay.ipv6]
address = "2001:db8:100::1/64"
gateway = "2001:db8:100::fe"
)";
  auto c = server_config_from(load(toml), {"x"});
  EXPECT_EQ(c.local_networks, (std::vector<Cidr>{*Cidr::parse("203.0.113.254/32"), *Cidr::parse("203.0.113.0/24"),
                                                 *Cidr::parse("2001:db8:100::fe/128"),
                                                 *Cidr::parse("2001:db8:100::/64")}));
  auto open = server_config_from(load(toml, {"--deny-on-link=false"}), {"x"});
  EXPECT_EQ(open.local_networks, (std::vector<Cidr>{*Cidr::parse("203.0.113.254/32"),
                                                    *Cidr::parse("2001:db8:100::fe/128")}));
  auto demo = server_config_from(load_file(RELAY_CONF_DIR "/demo.toml"), {"x"});
  EXPECT_TRUE(demo.local_networks.empty());  // no gateway, deny_on_link = false
}

TEST(ServerSetup, QuotasMapOneToOne) {
  auto q = server_config_from(load(kFull), {"s3cret"}).quotas;
  EXPECT_EQ(q.allocations_per_user, 5u);
  EXPECT_EQ(q.allocations_per_client_ip, 6u);
  EXPECT_EQ(q.allocations_total, 7u);
  EXPECT_EQ(q.channels_per_allocation, 8u);
  EXPECT_EQ(q.permissions_per_allocation, 9u);
}

TEST(ServerSetup, ASighupTakesTheNewQuotasButKeepsTheRunningTablesTotals) {
  const auto running = server_config_from(load(kFull, {"--dataplane-channel-table-capacity", "1000"}), {"s3cret"});
  auto live = live_server_config(running, load(kFull, {"--max-allocations-per-username", "2",
                                                        "--dataplane-channel-table-capacity", "4096"}));
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_EQ(live->quotas.allocations_per_user, 2u);
  EXPECT_EQ(live->quotas.channels_per_allocation, 8u);
  EXPECT_EQ(live->quotas.channels_total, 1000u);  // the data plane's tables did not grow
}

TEST(ServerSetup, ASighupRefusesAChannelQuotaAboveTheRunningTables) {
  const auto running = server_config_from(load(kFull, {"--dataplane-channel-table-capacity", "1000"}), {"s3cret"});
  auto live = live_server_config(running, load(kFull, {"--max-channels-per-allocation", "4000",
                                                        "--dataplane-channel-table-capacity", "4096"}));
  ASSERT_FALSE(live.ok());
  EXPECT_EQ(live.error(), "quota_above_total");
}

TEST(ServerSetup, AReloadTakesTheNewPeerPolicyAndSecretsAndNothingElse) {
  const auto running = server_config_from(load(kFull), {"s3cret-s3cret-s3cret"});
  RelayConfig fresh = load(kFull, {"--peer-deny", "198.51.100.0/24", "--deny-on-link=false", "--realm",
                                   "other.example", "--listen-port", "3500"});
  fresh.relay.auth.secrets = {"n3w-s3cret-n3w-s3cret"};
  auto live = live_server_config(running, fresh);
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_EQ(live->peer_deny, std::vector<Cidr>{*Cidr::parse("198.51.100.0/24")});
  EXPECT_EQ(live->peer_allow, running.peer_allow);
  EXPECT_FALSE(running.local_networks.empty());
  EXPECT_TRUE(live->local_networks.empty());
  EXPECT_EQ(live->auth_secrets, std::vector<std::string>{"n3w-s3cret-n3w-s3cret"});
  EXPECT_EQ(live->realm, "example.org");  // a restart changes the rest
  EXPECT_EQ(live->listen_port, 3479);
}

TEST(ServerSetup, AReloadWithoutConfiguredSecretsKeepsTheRunningOnes) {
  const auto running = server_config_from(load(kFull), {"generated-generated-generated"});
  RelayConfig fresh = load(kFull);
  fresh.relay.auth.secrets.clear();
  auto live = live_server_config(running, fresh);
  ASSERT_TRUE(live.ok()) << live.error();
  EXPECT_EQ(live->auth_secrets, std::vector<std::string>{"generated-generated-generated"});
}

TEST(ServerSetup, TheDataPlanesTablesAreTheServersTotalsOfChannelsAndPermissions) {
  auto q = server_config_from(load(kFull, {"--dataplane-channel-table-capacity", "1000",
                                           "--dataplane-permission-table-capacity", "2000"}),
                              {"s3cret"})
               .quotas;
  EXPECT_EQ(q.channels_total, 1000u);
  EXPECT_EQ(q.permissions_total, 2000u);
  EXPECT_EQ(server_config_from(load(kFull), {"s3cret"}).quotas.channels_total, 65536u);  // the tables' default
}

TEST(ServerSetup, TheServerWaitsForAPortalExactlyWhenAPortalUrlIsSet) {
  EXPECT_FALSE(server_config_from(load(kFull), {"x"}).has_portal);
  auto with_portal = load(kFull, {"--portal-ws-url", "wss://portal.example", "--portal-token", "t"});
  EXPECT_TRUE(server_config_from(with_portal, {"x"}).has_portal);
}

TEST(ServerSetup, AnIpv6OnlyRelayHasNoIpv4Address) {
  auto c = server_config_from(load("[relay.ipv6]\naddress = \"2001:db8::1/64\"\n"), {"x"});
  EXPECT_EQ(c.relay_v4, std::nullopt);
  EXPECT_EQ(c.relay_v6, IpAddress::parse("2001:db8::1"));
  EXPECT_TRUE(core::validate(c).ok());
}

TEST(ServerSetup, TheDemoConfigurationGivesAServerThatValidates) {
  auto config = load_file(RELAY_CONF_DIR "/demo.toml");
  auto secret = resolve_auth_secret(config.relay);
  ASSERT_TRUE(secret.ok());
  EXPECT_TRUE(core::validate(server_config_from(config, secret->values)).ok());
}

TEST(ServerSetup, TheSchemeAndEverySecretReachTheServer) {
  auto config = load(kFull, {"--auth-scheme", "rest"});
  auto secret = resolve_auth_secret(config.relay);
  ASSERT_TRUE(secret.ok());
  auto c = server_config_from(config, secret->values);
  EXPECT_EQ(c.auth_scheme, AuthScheme::Rest);
  EXPECT_EQ(c.auth_secrets, std::vector<std::string>{"s3cret-s3cret-s3cret"});
  EXPECT_TRUE(core::validate(c).ok());
}

TEST(StaticUsersFile, IsReadForTheRealmAndABadLineIsNamedByFileAndLine) {
  TempToml users("alice:firezone:0x307d1d285db1502e4aeeccb462998449\nbob:a-password\n");
  auto config = load("[relay.ipv4]\naddress = \"203.0.113.1/24\"\n", {"--auth-scheme", "static", "--auth-users-file", users.path()});
  auto loaded = load_static_users(config.relay);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(loaded->keys.size(), 2u);
  TempToml bad("alice:pw\nbob\n");
  config.relay.auth.users_file = bad.path();
  EXPECT_EQ(load_static_users(config.relay).error(),
            bad.path() + ":2:1: relay.auth.users_file: not user:password or user:realm:0xKEY");
  config.relay.auth.users_file = "/nonexistent/users";
  EXPECT_EQ(load_static_users(config.relay).error(),
            "/nonexistent/users: relay.auth.users_file: cannot open: No such file or directory");
}

struct AuthSecretLog : test::CapturedLog {};

TEST_F(AuthSecretLog, AConfiguredSecretIsUsedAsItIsAndNeverLogged) {
  auto config = load(kFull);
  auto secret = resolve_auth_secret(config.relay);
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->values, std::vector<std::string>{"s3cret-s3cret-s3cret"});
  EXPECT_FALSE(secret->generated);
  warn_if_generated_without_portal(*secret, config);
  EXPECT_EQ(lines_, "");
}

TEST(AuthSecret, ASecretFileIsUsedAsItIs) {
  TempToml file("from-a-file-of-secrets\n");
  auto config = load("[relay.ipv4]\naddress = \"203.0.113.1/24\"\n", {"--auth-secret-file", file.path()});
  auto secret = resolve_auth_secret(config.relay);
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->stamp(), "from-a-file-of-secrets");
  EXPECT_FALSE(secret->generated);
}

TEST(AuthSecret, WithARngSeedTheGeneratedSecretReplaysExactly) {
  auto config = load("[relay]\nrng_seed = 42\n[relay.ipv4]\naddress = \"203.0.113.1/24\"\n");
  auto a = resolve_auth_secret(config.relay);
  auto b = resolve_auth_secret(config.relay);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->generated);
  EXPECT_EQ(a->stamp(), b->stamp());
  EXPECT_EQ(a->stamp().size(), 64u);  // 32 bytes, hex
  config.relay.rng_seed = 43;
  EXPECT_NE(resolve_auth_secret(config.relay)->stamp(), a->stamp());
}

TEST(AuthSecret, WithoutASeedEachStartGeneratesAFreshSecret) {
  auto config = load("[relay.ipv4]\naddress = \"203.0.113.1/24\"\n");
  auto a = resolve_auth_secret(config.relay);
  auto b = resolve_auth_secret(config.relay);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->stamp(), b->stamp());
}

TEST_F(AuthSecretLog, AGeneratedSecretIsNeverLoggedAndWithoutAPortalAWarningSaysSo) {
  auto config = load("[relay]\nrng_seed = 42\n[relay.ipv4]\naddress = \"203.0.113.1/24\"\n");
  auto secret = resolve_auth_secret(config.relay);
  ASSERT_TRUE(secret.ok());
  warn_if_generated_without_portal(*secret, config);
  ASSERT_EQ(lines().size(), 1u) << lines_;
  EXPECT_NE(lines_.find("WARN"), std::string::npos) << lines_;
  EXPECT_NE(lines_.find("relay.auth_secret_file"), std::string::npos) << lines_;
  EXPECT_NE(lines_.find("from_rng_seed=true"), std::string::npos) << lines_;
  EXPECT_EQ(lines_.find(secret->stamp()), std::string::npos) << lines_;
  EXPECT_EQ(lines_.find(secret->stamp().substr(0, 8)), std::string::npos) << lines_;
  lines_.clear();
  config.portal.ws_url = "wss://portal.example";  // the portal mints credentials
  warn_if_generated_without_portal(*secret, config);
  EXPECT_EQ(lines_, "");
}

}  // namespace
}  // namespace relay::process
