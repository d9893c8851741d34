// Every class of configuration error, each as the exact one line the
// process prints before it exits with status 2.
#include <gtest/gtest.h>

#include <map>

#include "tests/unit/config/config_test_support.hpp"

using namespace relay;
using namespace relay::test;

namespace {

std::string file_error(const std::string& toml, std::vector<std::string> more = {}, Env env = {}) {
  TempToml file(toml);
  std::vector<std::string> args{"--config", file.path()};
  args.insert(args.end(), more.begin(), more.end());
  auto message = error_of(args, std::move(env));
  // The temp name varies; the tests compare what follows it.
  if (message.starts_with(file.path())) message.replace(0, file.path().size(), "FILE");
  return message;
}

const std::string kAddr = "[relay.ipv4]\naddress = \"198.51.100.1/24\"\n";

}  // namespace

TEST(ConfigFileErrors, AnUnknownKeyIsReportedAtTheKey) {
  EXPECT_EQ(file_error(kAddr + "[relay]\nlisten_prot = 3478\n"),
            "FILE:4:1: relay.listen_prot: unknown key");
  EXPECT_EQ(file_error(kAddr + "[relais]\nrealm = \"x\"\n"), "FILE:3:2: relais: unknown key");
}

TEST(ConfigFileErrors, AWrongTypeIsReportedAtTheValue) {
  EXPECT_EQ(file_error(kAddr + "[relay]\nlisten_port = \"3478\"\n"),
            "FILE:4:15: relay.listen_port: expected an integer, got a string");
  EXPECT_EQ(file_error(kAddr + "[eal]\nhuge_pages = 1\n"),
            "FILE:4:14: eal.huge_pages: expected a boolean, got an integer");
  EXPECT_EQ(file_error(kAddr + "[eal]\nvdevs = \"net_null0\"\n"),
            "FILE:4:9: eal.vdevs: expected an array of strings, got a string");
  EXPECT_EQ(file_error("relay = 5\n"), "FILE:1:9: relay: expected a table, got an integer");
}

TEST(ConfigFileErrors, AWrongTypeInsideAnArrayIsReportedAtTheElement) {
  EXPECT_EQ(file_error(kAddr + "[relay]\npeer_deny = [\"10.0.0.0/8\", 5]\n"),
            "FILE:4:28: relay.peer_deny: expected a string, got an integer");
}

TEST(ConfigFileErrors, AValueOutOfRangeIsReportedAtTheValue) {
  EXPECT_EQ(file_error(kAddr + "[relay]\nlisten_port = 70000\n"),
            "FILE:4:15: relay.listen_port: 70000 is out of range 1..65535");
  EXPECT_EQ(file_error(kAddr + "[relay]\nlowest_port = 80\n"),
            "FILE:4:15: relay.lowest_port: 80 is out of range 1024..65535");
  EXPECT_EQ(file_error(kAddr + "[relay]\nrng_seed = -1\n"),
            "FILE:4:12: relay.rng_seed: -1 is out of range 0..18446744073709551615");
  EXPECT_EQ(file_error(kAddr + "[relay]\nnonce_uses = 0\n"),
            "FILE:4:14: relay.nonce_uses: 0 is out of range 1..255");
  EXPECT_EQ(file_error(kAddr + "[dataplane]\nrx_descriptors = 1000\n"),
            "FILE:4:18: dataplane.rx_descriptors: 1000 is not a power of two");
}

TEST(ConfigFileErrors, AnUnparsableValueIsQuotedAtTheValue) {
  EXPECT_EQ(file_error("[relay.ipv4]\naddress = \"198.51.100.1\"\n"),
            "FILE:2:11: relay.ipv4.address: \"198.51.100.1\" needs a prefix length, e.g. "
            "198.51.100.1/24");
  EXPECT_EQ(file_error(kAddr + "[relay]\npeer_deny = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"),
            "FILE:4:28: relay.peer_deny: \"10.0.0.0/33\" is not a CIDR prefix");
  EXPECT_EQ(file_error(kAddr + "[log]\nformat = \"xml\"\n"),
            "FILE:4:10: log.format: \"xml\" is not one of text (or human), json");
  EXPECT_EQ(file_error(kAddr + "[eal]\nlcores = \"0-\"\n"),
            "FILE:4:10: eal.lcores: \"0-\" is not an lcore list such as \"0-3,5\" (ids 0..1023)");
  EXPECT_EQ(file_error(kAddr + "[dataplane]\nmac_address = \"03:00:00:00:00:01\"\n"),
            "FILE:4:15: dataplane.mac_address: \"03:00:00:00:00:01\" is a multicast address");
  EXPECT_EQ(file_error(kAddr + "[eal]\npci_allowlist = [\"3b:00\"]\n"),
            "FILE:4:18: eal.pci_allowlist: \"3b:00\" is not a PCI address such as 0000:01:00.0");
  EXPECT_EQ(file_error(kAddr + "[eal]\nextra_args = [\"-a\"]\n"),
            "FILE:4:15: eal.extra_args: \"-a\" is set by its own key (eal.*), not by extra_args");  EXPECT_EQ(file_error(kAddr + "[dataplane]\nidle = \"sleepy\"\n"),
            "FILE:4:8: dataplane.idle: \"sleepy\" is not one of poll, adaptive");
  EXPECT_EQ(file_error(kAddr + "[portal]\ntoken_placement = \"cookie\"\n"),
            "FILE:4:19: portal.token_placement: \"cookie\" is not one of header, query, both");
  EXPECT_EQ(file_error(kAddr + "[dataplane]\nmax_idle_sleep_us = 0\n"),
            "FILE:4:21: dataplane.max_idle_sleep_us: 0 is out of range 1..10000");
}

TEST(ConfigFileErrors, ASyntaxErrorCarriesTheParsersPosition) {
  auto message = file_error("[relay\nlisten_port = 1\n");
  EXPECT_TRUE(message.starts_with("FILE:1:")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(ConfigFileErrors, AMissingFileIsNamed) {
  EXPECT_EQ(error_of({"--config", "/nonexistent/relay.toml"}),
            "/nonexistent/relay.toml: cannot open: No such file or directory");
}

TEST(ConfigTextErrors, AnEnvironmentVariableIsNamedByItself) {
  EXPECT_EQ(error_of(kMinimal, {{"LISTEN_PORT", "abc"}}), "LISTEN_PORT: \"abc\" is not an integer");
  EXPECT_EQ(error_of(kMinimal, {{"ALLOW_INSECURE_WS", "maybe"}}),
            "ALLOW_INSECURE_WS: \"maybe\" is not a boolean (true or false)");
  EXPECT_EQ(error_of(kMinimal, {{"PEER_ALLOW", "10.0.0.0/8 nonsense"}}),
            "PEER_ALLOW: \"nonsense\" is not a CIDR prefix");
}

TEST(ConfigTextErrors, AFlagIsNamedByItself) {
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--log-level", "loud"}),
            "--log-level: \"loud\" is not one of trace, debug, info, warn, error");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--listen-port", "65536"}),
            "--listen-port: 65536 is out of range 1..65535");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--nonce-uses", "256"}),
            "--nonce-uses: 256 is out of range 1..255");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--listen-port"}),
            "--listen-port: 1 required INT missing");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--listen-prot", "3478"}),
            "--listen-prot: unknown flag");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "stray"}),
            "\"stray\": unexpected argument (every setting is a --flag)");
}

TEST(ConfigTextErrors, TheEnvironmentIsCheckedBeforeFlagsOverrideIt) {
  // A bad value stays an error even when a flag would have replaced it:
  // a typo in the service's environment should not hide behind a flag.
  EXPECT_EQ(
      error_of({"--ip4-addr", "198.51.100.1/24", "--listen-port", "3478"}, {{"LISTEN_PORT", "x"}}),
      "LISTEN_PORT: \"x\" is not an integer");
}

TEST(ConfigCrossChecks, ARelayWithoutAnyAddressIsRefused) {
  EXPECT_EQ(error_of({}),
            "relay.ipv4.address: no relay address: set relay.ipv4.address or relay.ipv6.address "
            "(or both)");
  EXPECT_EQ(file_error("[relay]\nrealm = \"x\"\n"),
            "FILE: relay.ipv4.address: no relay address: set relay.ipv4.address or "
            "relay.ipv6.address (or both)");
}

TEST(ConfigCrossChecks, AGatewayMustBeOfItsFamilyAndOnLink) {
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--ip4-gateway", "2001:db8::1"}),
            "--ip4-gateway: \"2001:db8::1\" is not an IPv4 address");
  EXPECT_EQ(file_error("[relay.ipv6]\naddress = \"2001:db8::1/64\"\ngateway = \"198.51.100.1\"\n"),
            "FILE:3:11: relay.ipv6.gateway: \"198.51.100.1\" is not an IPv6 address");
  EXPECT_EQ(file_error(kAddr + "gateway = \"203.0.113.1\"\n"),
            "FILE:3:11: relay.ipv4.gateway: gateway 203.0.113.1 is not inside 198.51.100.0/24 "
            "(relay.ipv4.address)");
  EXPECT_EQ(error_of({"--ip6-addr", "2001:db8::1/64", "--ip4-gateway", "198.51.100.254"}),
            "--ip4-gateway: needs relay.ipv4.address");
}

TEST(ConfigCrossChecks, ThePortRangeMustBeNonEmptyAndAvoidTheListenPort) {
  EXPECT_EQ(file_error(kAddr + "[relay]\nlowest_port = 60000\nhighest_port = 50000\n"),
            "FILE:4:15: relay.lowest_port: the allocation port range 60000..50000 is empty "
            "(relay.lowest_port > relay.highest_port)");
  EXPECT_EQ(file_error(kAddr + "[relay]\nlisten_port = 50000\n"),
            "FILE:4:15: relay.listen_port: relay.listen_port 50000 lies inside the allocation port "
            "range 49152..65535");
  // The key the operator set with the strongest source is the one blamed.
  EXPECT_EQ(
      file_error(kAddr + "[relay]\nlisten_port = 40000\n", {"--lowest-port", "30000"}),
      "--lowest-port: relay.listen_port 40000 lies inside the allocation port range 30000..65535");
}

TEST(ConfigCrossChecks, TheTlsPortsAvoidTheListenPortTheAllocationRangeAndEachOther) {
  EXPECT_EQ(file_error(kAddr + "[relay]\ntls_port = 3478\n"),
            "FILE:4:12: relay.tls_port: relay.tls_port 3478 is relay.listen_port, which serves TURN over TCP");
  EXPECT_EQ(file_error(kAddr + "[relay]\nalternate_tls_port = 50000\n"),
            "FILE:4:22: relay.alternate_tls_port: relay.alternate_tls_port 50000 lies inside the allocation "
            "port range 49152..65535");
  EXPECT_EQ(file_error(kAddr + "[relay]\nalternate_tls_port = 5349\n"),
            "FILE:4:22: relay.alternate_tls_port: relay.alternate_tls_port 5349 is relay.tls_port already");
  // 0 turns a TLS port off, and two zeros are no clash.
  EXPECT_EQ(file_error(kAddr + "[relay]\ntls_port = 0\nalternate_tls_port = 443\n"), "");
  EXPECT_EQ(file_error(kAddr + "[relay]\ntls_port = 0\n"), "");
}

TEST(ConfigCrossChecks, TheTlsCertificateAndKeyComeTogether) {
  EXPECT_EQ(file_error(kAddr + "[relay]\ntls_certificate = \"/etc/relay/cert.pem\"\n"),
            "FILE:4:19: relay.tls_certificate: relay.tls_certificate and relay.tls_private_key come together");
  EXPECT_EQ(file_error(kAddr + "[relay]\ntls_private_key = \"/etc/relay/key.pem\"\n"),
            "FILE:4:19: relay.tls_private_key: relay.tls_certificate and relay.tls_private_key come together");
  EXPECT_EQ(file_error(kAddr + "[relay]\ntls_certificate = \"/c.pem\"\ntls_private_key = \"/k.pem\"\n"), "");
}

TEST(ConfigCrossChecks, TheStreamRoutingTableIsNoneOfTheKernelsOwn) {
  EXPECT_EQ(file_error(kAddr + "[stream]\nrouting_table = 254\n"),
            "FILE:4:17: stream.routing_table: 254 is one of the kernel's own tables (253 default, 254 main, "
            "255 local)");
  // The default, written out, and a table past 255 are fine.
  EXPECT_EQ(file_error(kAddr + "[stream]\nrouting_table = 3478\n"), "");
  EXPECT_EQ(file_error(kAddr + "[stream]\nrouting_table = 252\n"), "");
}

TEST(ConfigCrossChecks, LifetimesLcoresAndPoolsMustFitTogether) {
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--allocation-lifetime", "7200"}),
            "--allocation-lifetime: relay.allocation_lifetime 7200 exceeds "
            "relay.max_allocation_lifetime 3600");
  EXPECT_EQ(error_of(kMinimal, {{"EAL_MAIN_LCORE", "5"}}),
            "EAL_MAIN_LCORE: main lcore 5 is not in eal.lcores \"0-1\"");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--dataplane-worker-lcores", "3"}),
            "--dataplane-worker-lcores: worker lcore 3 is not in eal.lcores \"0-1\"");
  EXPECT_EQ(
      error_of({"--ip4-addr", "198.51.100.1/24", "--dataplane-mbuf-cache", "16"}),
      "--dataplane-mbuf-cache: dataplane.mbuf_cache 16 is smaller than dataplane.burst_size 32");
  EXPECT_EQ(
      error_of({"--ip4-addr", "198.51.100.1/24", "--dataplane-mempool-size", "383"}),
      "--dataplane-mempool-size: dataplane.mbuf_cache 256 exceeds dataplane.mempool_size / 1.5 "
      "(383 mbufs)");
}

TEST(ConfigFileErrors, AnInterfaceDriverIsOneOfTheThree) {
  EXPECT_EQ(file_error(kAddr + "[eal]\ninterface = \"veth1\"\ninterface_driver = \"xdp\"\n"),
            "FILE:5:20: eal.interface_driver: \"xdp\" is not one of auto, af_xdp, af_packet");
  EXPECT_EQ(file_error(kAddr + "[eal]\ninterface = \"eth0/1\"\n"),
            "FILE:4:13: eal.interface: \"eth0/1\" is not 1..15 characters of A-Z a-z 0-9 _ -");
}

TEST(ConfigCrossChecks, AnInterfaceIsNotAlsoTakenByAVdev) {
  EXPECT_EQ(file_error(kAddr + "[eal]\nvdevs = [\"net_af_packet0,iface=veth1\"]\ninterface = \"veth1\"\n"),
            "FILE:5:13: eal.interface: eal.interface veth1 is also taken by eal.vdevs "
            "\"net_af_packet0,iface=veth1\": keep one of them");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--eal-vdevs", "net_af_xdp0,iface=veth1",
                      "--eal-interface", "veth1"}),
            "--eal-interface: eal.interface veth1 is also taken by eal.vdevs "
            "\"net_af_xdp0,iface=veth1\": keep one of them");
  // Another interface's vdev is no conflict here (the data plane then
  // refuses two ports, naming both).
  TempToml file(kAddr + "[eal]\nvdevs = [\"net_af_packet0,iface=veth2\"]\ninterface = \"veth1\"\n");
  auto config = load({"--config", file.path()});
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->eal.interface, "veth1");
  EXPECT_EQ(config->eal.interface_driver, InterfaceDriver::Auto);
}

TEST(ConfigCrossChecks, PerAllocationQuotasMustFitTheDataPlanesTables) {
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--dataplane-channel-table-capacity", "1024"}),
            "--dataplane-channel-table-capacity: quotas.max_channels_per_allocation 4096 exceeds "
            "dataplane.channel_table_capacity 1024: lower the quota or raise the table (every worker holds "
            "them all)");
  EXPECT_EQ(file_error(kAddr + "[quotas]\nmax_permissions_per_allocation = 70000\n"),
            "FILE:4:34: quotas.max_permissions_per_allocation: quotas.max_permissions_per_allocation 70000 "
            "exceeds dataplane.permission_table_capacity 65536: lower the quota or raise the table (every "
            "worker holds them all)");
  // 0: no quota of its own, the table is the bound.
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--dataplane-channel-table-capacity", "1024",
                      "--max-channels-per-allocation", "0"}),
            "");
}

TEST(ConfigCrossChecks, APortalNeedsATokenAndRefusesPlainWebSocketsUnlessAllowed) {
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--portal-ws-url", "wss://portal.example"}),
            "--portal-ws-url: portal.ws_url needs portal.token");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--portal-ws-url", "ws://192.0.2.9:8080"},
                     {{"PORTAL_TOKEN", "t0ken"}}),
            "--portal-ws-url: ws:// would send the token in clear text: use wss:// or set "
            "portal.allow_insecure_ws");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--portal-ws-url", "ws://192.0.2.9:8080",
                      "--allow-insecure-ws"},
                     {{"PORTAL_TOKEN", "t0ken"}}),
            "");
}

TEST(ConfigErrorStatus, HelpExitsZeroAndEveryErrorExitsTwo) {
  auto help = load({"--help"});
  ASSERT_FALSE(help.ok());
  EXPECT_EQ(help.error().kind, ConfigError::Kind::HelpRequested);
  EXPECT_EQ(help.error().exit_status(), 0);
  auto bad = load({"--listen-port", "x"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ConfigError::Kind::Invalid);
  EXPECT_EQ(bad.error().exit_status(), 2);
}

TEST(ConfigErrorStatus, VersionExitsZeroBeforeTheFileIsRead) {
  auto version = load({"--config", "/nonexistent/relay.toml", "--version"});
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().kind, ConfigError::Kind::VersionRequested);
  EXPECT_EQ(version.error().exit_status(), 0);
}

TEST(ConfigCheck, CheckLoadsEverythingAndOnlyMarksTheConfigurationAsNotToBeStarted) {
  auto checked = load({"--ip4-addr", "198.51.100.1/24", "--check"});
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_TRUE(checked->check_only);
  EXPECT_FALSE(load({"--ip4-addr", "198.51.100.1/24"})->check_only);
  auto bad = load({"--ip4-addr", "198.51.100.1/24", "--listen-port", "0", "--check"});
  ASSERT_FALSE(bad.ok());  // the same error, the same exit status 2, as a start
  EXPECT_EQ(bad.error().message, "--listen-port: 0 is out of range 1..65535");
}

TEST(ConfigAdmin, TheAdminSocketIsPerFilePrefixUnlessNamedAndMustFitAUnixSocketPath) {
  auto by_prefix = load({"--ip4-addr", "198.51.100.1/24", "--eal-file-prefix", "edge7"});
  ASSERT_TRUE(by_prefix.ok());
  EXPECT_EQ(admin_socket_path(by_prefix.value()), "/run/turn-relay/edge7.sock");
  auto named = load({"--ip4-addr", "198.51.100.1/24", "--admin-socket", "/run/relay/admin.sock"});
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(admin_socket_path(named.value()), "/run/relay/admin.sock");
  EXPECT_EQ(load({"--ip4-addr", "198.51.100.1/24", "--admin-socket", "relative.sock"}).error().message,
            "--admin-socket: \"relative.sock\" is not an absolute path");
  const auto too_long = load({"--ip4-addr", "198.51.100.1/24", "--admin-socket", "/" + std::string(120, 'x')});
  ASSERT_FALSE(too_long.ok());
  EXPECT_TRUE(too_long.error().message.starts_with("--admin-socket: \"/xxx"));
  EXPECT_TRUE(too_long.error().message.ends_with("\" is longer than a unix socket path may be (107 bytes)"));
}

TEST(ConfigAdmin, KeysOnlyChecksEachValueButNotTheRulesBetweenKeys) {
  // relayctl reads the relay's file for its socket: a rest scheme whose
  // secret comes from the relay's environment file still names the socket.
  TempToml file("[relay.auth]\nscheme = \"rest\"\n[eal]\nfile_prefix = \"edge7\"\n");
  const char* argv[] = {"relayctl", "--config", file.path().c_str()};
  auto no_env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  EXPECT_FALSE(load_config(3, argv, "relayctl", no_env).ok());  // no address, no secret
  auto lenient = load_config(3, argv, "relayctl", no_env, Validation::KeysOnly);
  ASSERT_TRUE(lenient.ok()) << lenient.error().message;
  EXPECT_EQ(admin_socket_path(lenient.value()), "/run/turn-relay/edge7.sock");
  TempToml bad("[eal]\nfile_prefix = 7\n");
  const char* bad_argv[] = {"relayctl", "--config", bad.path().c_str()};
  EXPECT_FALSE(load_config(3, bad_argv, "relayctl", no_env, Validation::KeysOnly).ok());
}

TEST(ConfigAdmin, EffectiveSettingsShowEveryKeyAndRedactSetSecrets) {
  auto c = load({"--ip4-addr", "198.51.100.1/24", "--auth-secret", "a-secret-of-16-bytes", "--listen-port", "3479"});
  ASSERT_TRUE(c.ok());
  std::map<std::string, std::string> shown;
  for (const auto& s : effective_settings(c.value())) shown[s.key] = s.value;
  EXPECT_EQ(shown["relay.listen_port"], "3479");
  EXPECT_EQ(shown["relay.ipv4.address"], "198.51.100.1/24");
  EXPECT_EQ(shown["relay.auth.secrets"], "<redacted>");
  EXPECT_EQ(shown["portal.token"], "");  // unset
  EXPECT_EQ(shown["log.level"], "info");
  for (const auto& s : effective_settings(c.value(), true)) {
    if (s.key == "relay.auth.secrets") {
      EXPECT_EQ(s.value, "a-secret-of-16-bytes");
    }
  }
}

TEST(BuildInfo, TheVersionLineNamesTheProgramTheRevisionAndTheDpdkRunning) {
  const BuildInfo build = build_info("DPDK 22.11.11");
  EXPECT_EQ(build.version, RELAY_VERSION);
  EXPECT_EQ(build.dpdk, "22.11.11");
  EXPECT_FALSE(build.revision.empty());
  EXPECT_EQ(version_line("relay-dataplane", build),
            "relay-dataplane " RELAY_VERSION " (revision " + build.revision + ") DPDK 22.11.11");
}

TEST(ConfigHelp, EveryFlagIsListedWithItsEnvironmentVariableAndDefault) {
  auto help = load({"--help"}).error().message;
  auto reference = config_reference_markdown();
  size_t rows = 0;
  for (size_t at = reference.find("| `"); at != std::string::npos;
       at = reference.find("| `", at + 1)) {
    auto flag_start = reference.find("`--", at);
    auto flag_end = reference.find('`', flag_start + 1);
    auto env_start = reference.find('`', flag_end + 1);
    auto env_end = reference.find('`', env_start + 1);
    auto flag = reference.substr(flag_start + 1, flag_end - flag_start - 1);
    auto env = reference.substr(env_start + 1, env_end - env_start - 1);
    EXPECT_NE(help.find(flag + " "), std::string::npos) << flag;
    EXPECT_NE(help.find("(env: " + env), std::string::npos) << env;  // then ")" or ", ALIAS)"
    at = reference.find('\n', at);
    ++rows;
  }
  EXPECT_GE(rows, 50u);
  EXPECT_NE(help.find("--listen-port  INT [3478] (env: LISTEN_PORT)"), std::string::npos) << help;
  EXPECT_NE(help.find("--log-format  TEXT [text] (env: LOG_FORMAT, JSON_LOG)"), std::string::npos);
}

TEST(ConfigSecrets, HelpNeverShowsASecretFromAnySource) {
  TempToml file("[relay]\nauth_secret = \"file-secret-1\"\n[portal]\ntoken = \"file-token-1\"\n");
  auto help = load({"--config", file.path(), "--auth-secret", "flag-secret-2", "--help"},
                   {{"AUTH_SECRET", "env-secret-3"}, {"PORTAL_TOKEN", "env-token-4"}})
                  .error()
                  .message;
  for (const char* secret : {"secret-1", "secret-2", "secret-3", "token-1", "token-4"})
    EXPECT_EQ(help.find(secret), std::string::npos) << secret;
  EXPECT_NE(help.find("--auth-secret  TEXT (env: AUTH_SECRET)"), std::string::npos);
  for (const char* secret : {"secret-1", "secret-2", "secret-3", "token-1", "token-4"})
    EXPECT_EQ(config_reference_markdown().find(secret), std::string::npos) << secret;
}

TEST(ConfigSecrets, AnUnreadableEmptyOrRunawaySecretFileIsNamedAndItsContentsAreNot) {
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--auth-secret-file", "/nonexistent/secret"}),
            "--auth-secret-file: cannot read \"/nonexistent/secret\": No such file or directory");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRET_FILE", "/"}}),
            "AUTH_SECRET_FILE: cannot read \"/\": Is a directory");
  TempToml empty("\n");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRET_FILE", empty.path()}}),
            "AUTH_SECRET_FILE: \"" + empty.path() + "\" is empty");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRET_FILE", "/dev/zero"}}),
            "AUTH_SECRET_FILE: \"/dev/zero\" is longer than 4096 bytes");
  TempToml secret("hunter2-hunter2-hunter2\n");
  auto both = file_error(kAddr + "[relay]\nauth_secret = \"hunter2-hunter2-hunter2\"\n",
                         {"--auth-secret-file", secret.path()});
  EXPECT_EQ(both, "--auth-secret-file: relay.auth.secrets, relay.auth_secret and relay.auth_secret_file each give the "
                  "secrets: keep one");
  auto both_in_file = file_error(kAddr + "[relay]\nauth_secret_file = \"" + secret.path() +
                                 "\"\nauth_secret = \"hunter2-hunter2-hunter2\"\n");
  EXPECT_EQ(both_in_file, "FILE:4:20: relay.auth_secret_file: relay.auth.secrets, relay.auth_secret and "
                          "relay.auth_secret_file each give the secrets: keep one");
  // An empty AUTH_SECRET unsets the file's secret, so the file key may take over.
  EXPECT_EQ(file_error(kAddr + "[relay]\nauth_secret = \"hunter2-hunter2-hunter2\"\n",
                       {"--auth-secret-file", secret.path()}, {{"AUTH_SECRET", ""}}),
            "");
}

TEST(ConfigSecrets, AnEmptyListOrAShortSecretIsRefusedWhereItIsGivenAndNeverQuoted) {
  EXPECT_EQ(file_error(kAddr + "[relay.auth]\nscheme = \"rest\"\nsecrets = []\n"),
            "FILE:5:11: relay.auth.secrets: an empty list: give at least one secret");
  EXPECT_EQ(file_error(kAddr + "[relay.auth]\nsecrets = [\"long-enough-secret-1\", \"hunter2\"]\n"),
            "FILE:4:36: relay.auth.secrets: a secret shorter than 16 bytes");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRETS", "long-enough-secret-1 hunter2"}}),
            "AUTH_SECRETS: a secret shorter than 16 bytes");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRET", "hunter2"}}), "AUTH_SECRET: a secret shorter than 16 bytes");
  TempToml rotation("long-enough-secret-1\nhunter2\n");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRET_FILE", rotation.path()}}),
            "AUTH_SECRET_FILE: \"" + rotation.path() + "\" line 2: a secret shorter than 16 bytes");
  EXPECT_EQ(file_error(kAddr + "[relay.auth]\nsecrets = [\"long-enough-secret-1\"]\n", {}, {{"AUTH_SECRET", "another-long-secret"}}),
            "AUTH_SECRET: relay.auth.secrets, relay.auth_secret and relay.auth_secret_file each give the secrets: "
            "keep one");
}

TEST(ConfigSecrets, HelpNeverShowsTheSecretList) {
  TempToml file("[relay.auth]\nsecrets = [\"file-secret-list-1\"]\n");
  auto help = load({"--config", file.path(), "--auth-secrets", "flag-secret-list-2", "--help"},
                   {{"AUTH_SECRETS", "env-secret-list-3"}})
                  .error()
                  .message;
  EXPECT_NE(help.find("--auth-secrets  TEXT ... (env: AUTH_SECRETS)"), std::string::npos) << help;
  for (const char* secret : {"secret-list-1", "secret-list-2", "secret-list-3"}) EXPECT_EQ(help.find(secret), std::string::npos);
}

TEST(ConfigAuth, EachSchemeNeedsWhatItChecksCredentialsWith) {
  EXPECT_EQ(file_error(kAddr + "[relay.auth]\nscheme = \"coturn\"\n"),
            "FILE:4:10: relay.auth.scheme: \"coturn\" is not one of firezone, rest, static");
  EXPECT_EQ(file_error(kAddr + "[relay.auth]\nscheme = \"rest\"\n"),
            "FILE:4:10: relay.auth.scheme: rest needs relay.auth.secrets (or relay.auth_secret_file)");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SCHEME", "static"}}), "AUTH_SCHEME: static needs relay.auth.users_file");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_USERS_FILE", "/etc/relay/users"}}),
            "AUTH_USERS_FILE: relay.auth.users_file is read only with relay.auth.scheme = static");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--auth-scheme", "rest", "--portal-ws-url", "wss://portal.example",
                      "--portal-token", "t"},
                     {{"AUTH_SECRET", "long-enough-secret-1"}}),
            "--auth-scheme: a portal mints firezone credentials: relay.auth.scheme must be firezone");
}

TEST(ConfigSecrets, ErrorsNeverQuoteASecret) {
  // A mistyped secret flag, a mistyped secret key and a bad portal URL with
  // its token in the query.
  EXPECT_EQ(error_of({"--auth-secrte=hunter2"}), "--auth-secrte: unknown flag");
  auto typo = file_error("[relay]\nauth_secre = \"hunter2\"\n");
  EXPECT_EQ(typo, "FILE:2:1: relay.auth_secre: unknown key");
  EXPECT_EQ(error_of({"--ip4-addr", "198.51.100.1/24", "--portal-ws-url",
                      "https://portal.example/?token=hunter2&v=1"}),
            "--portal-ws-url: \"https://portal.example/?token=<redacted>&v=1\" is not a ws:// or "
            "wss:// URL");
  EXPECT_EQ(error_of(kMinimal, {{"AUTH_SECRET", ""}, {"PORTAL_TOKEN", ""}}), "");
}
