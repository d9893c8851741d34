// The relay's configuration: one TOML file read by both processes, every key
// overridable by an environment variable and a command-line flag
// (flag > env > file > default). Loading validates everything before anything
// starts; a problem comes back as one line naming where it is and which key:
//
//   conf/demo.toml:12:15: relay.listen_port: 70000 is out of range 1..65535
//   --rng-seed: "x" is not an unsigned integer
//   LOG_LEVEL: "loud" is not one of trace, debug, info, warn, error
//
// The schema (keys, flags, environment names, defaults, meanings) is one table
// in common/config/schema.cpp; --help and config_reference_markdown() are printed from it.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/auth_scheme.hpp"
#include "common/build_info.hpp"
#include "common/idle_mode.hpp"
#include "common/log.hpp"
#include "common/net_types.hpp"
#include "common/quotas.hpp"
#include "common/result.hpp"

namespace relay {

// One address family of the relay interface.
struct RelayAddress {
  IpAddress address;                 // ours on the wire
  uint8_t prefix_len = 0;            // the on-link subnet
  std::optional<IpAddress> gateway;  // next hop for everything off-link
  // What XOR-RELAYED-ADDRESS and XOR-MAPPED-ADDRESS advertise when the relay
  // sits behind a 1:1 NAT; absent means `address`.
  std::optional<IpAddress> public_address;

  [[nodiscard]] IpAddress advertised() const { return public_address.value_or(address); }
  [[nodiscard]] Cidr subnet() const;
};

// relay.auth: how credentials are checked (see AuthScheme).
struct AuthSection {
  AuthScheme scheme = AuthScheme::Firezone;
  // Firezone and REST: any of them verifies a credential (a rotation adds
  // the new one, waits the credential lifetime, removes the old one); the
  // portal mints with the first. Each at least 16 bytes. Loading fills it
  // from relay.auth_secret or relay.auth_secret_file too. Empty: firezone
  // generates one at start (generate_auth_secret); rest refuses to start.
  std::vector<std::string> secrets;
  // Static: the users file (core/static_users.hpp), read by the control
  // plane at start and on SIGHUP.
  std::optional<std::string> users_file;
};

struct RelaySection {
  std::optional<RelayAddress> ipv4;  // at least one of the two is set
  std::optional<RelayAddress> ipv6;
  uint16_t listen_port = 3478;  // RFC 8489 §18.6 default STUN/TURN port
  PortRange allocation_ports;  // relay.lowest_port, relay.highest_port
  std::string realm = "firezone";
  AuthSection auth;
  // One secret a line; loading puts them in auth.secrets (it excludes
  // relay.auth_secret and relay.auth.secrets), so no secret need appear on
  // a command line.
  std::optional<std::string> auth_secret_file;
  std::optional<uint64_t> rng_seed;                    // set only for reproducible tests
  std::chrono::seconds allocation_lifetime{600};       // RFC 8656 §3.6 "10 minutes"
  std::chrono::seconds max_allocation_lifetime{3600};  // RFC 8656 §7.2 cap
  std::chrono::seconds channel_lifetime{600};          // RFC 8656 §12 "10 minutes"
  std::chrono::seconds permission_lifetime{300};       // RFC 8656 §9 "5 minutes"
  // Authenticated requests per NONCE before 438 (RFC 8489 §9.2 leaves it to
  // the server; 10 as in Firezone's original relay).
  uint8_t nonce_uses = 10;
  // Judged with the built-in and on-link denies by core::PeerPolicy: the
  // most specific matching prefix decides (deny on a tie), no match allows.
  std::vector<Cidr> peer_allow;
  std::vector<Cidr> peer_deny;
  // Deny peers on the relay's on-link subnets (ipv4/ipv6 address prefixes);
  // the gateways are denied either way. Off only where peers share the
  // relay's subnet by design (the demo and test topologies).
  bool deny_on_link = true;
  // TURN over TLS (RFC 8656 §3.1): the ports the stream server takes TLS
  // on, served when stream.enabled and a certificate is set. 0 = none.
  uint16_t tls_port = 5349;            // RFC 8656 §18.6 "turns"
  uint16_t alternate_tls_port = 0;     // e.g. 443, for clients that reach only HTTPS
  std::optional<std::string> tls_certificate;  // PEM chain; re-read on reload
  std::optional<std::string> tls_private_key;  // PEM key; re-read on reload
};

// [stream]: TURN over TCP and TLS. The data plane steers TCP to the listen
// port and the TLS ports into a kernel TAP interface it owns (`interface`);
// the kernel terminates TCP, the control plane's stream server reads STUN
// and ChannelData from each connection (ARCHITECTURE.md, "Streams").
struct StreamSection {
  bool enabled = false;
  std::string interface = "turn-stream";  // the TAP interface's name
  // Policy routing: replies from the relay addresses leave through the TAP
  // by this table (ip rule from <relay address> lookup <table>).
  uint32_t routing_table = 3478;
  // A connection that holds no allocation is closed after this long
  // without a complete message; one with an allocation lives with it.
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds handshake_timeout{10};  // TCP accept to a finished TLS handshake
  uint32_t max_connections = 4096;
  uint32_t max_connections_per_source = 32;  // per client IP address
  // Bytes queued toward one client; past this, what peers relay to it is
  // dropped (counted) until it reads.
  uint32_t max_buffered_bytes = 262144;
};

// Which PMD takes eal.interface (dataplane/process/wire_port.hpp). Auto
// tries the one measured faster on a veth first and falls back to the other.
enum class InterfaceDriver : uint8_t { Auto, AfXdp, AfPacket };

struct EalSection {
  std::string lcores = "0-1";                // DPDK -l syntax: "0-3,5"
  std::vector<uint32_t> lcore_ids = {0, 1};  // `lcores` expanded, ascending
  std::optional<uint32_t> main_lcore;        // absent: the lowest of lcore_ids
  std::string file_prefix = "relay";
  bool huge_pages = true;
  uint32_t memory_mb = 0;  // 0: DPDK's default
  std::vector<std::string> vdevs;
  // A kernel interface the data plane attaches after EAL init with the
  // driver below (one queue pair per worker); instead of a vdev naming it.
  std::optional<std::string> interface;
  InterfaceDriver interface_driver = InterfaceDriver::Auto;
  std::vector<std::string> pci_allowlist;  // empty: --no-pci
  std::vector<std::string> extra_args;

  [[nodiscard]] uint32_t effective_main_lcore() const;
};

struct DataplaneSection {
  // Resolved at load: when not configured, every EAL lcore but the main one
  // (or the main one alone when it is the only lcore).
  std::vector<uint32_t> worker_lcores;
  std::string ring_prefix = "relay";
  uint32_t mempool_size = 16383;  // mbufs; 2^n - 1 is rte_mempool's optimum
  uint32_t mbuf_cache = 256;      // per lcore; at most 512, at least burst_size
  uint16_t rx_descriptors = 1024;
  uint16_t tx_descriptors = 1024;
  uint16_t burst_size = 32;
  uint32_t channel_table_capacity = 65536;
  uint32_t permission_table_capacity = 65536;  // Send/Data indication permissions per worker
  bool data_indication_fingerprint = false;    // FINGERPRINT on Data indications (RFC 8656 §11.5)
  uint32_t neighbour_capacity = 1024;
  uint32_t exception_ring_size = 4096;  // rte_ring sizes are powers of two
  uint32_t command_ring_size = 16384;  // a burst of channel installs while a worker is busy
  uint32_t stun_rate_per_source = 200;  // per worker; 0: unlimited
  uint32_t stun_burst_per_source = 100;
  IdleMode idle = IdleMode::Adaptive;  // dataplane/idle_backoff.hpp
  uint32_t max_idle_sleep_us = 200;
  uint32_t tx_hold_us = 4;  // dataplane/tx_hold.hpp
  std::optional<MacAddress> mac_address;  // absent: the port's own
  std::optional<uint16_t> vlan;           // 802.1Q id
};

enum class TokenPlacement : uint8_t { Header, Query, Both };

struct PortalSection {
  std::optional<std::string> ws_url;  // absent: no portal, the relay serves at once
  std::optional<std::string> token;   // secret
  TokenPlacement token_placement = TokenPlacement::Both;
  std::optional<std::string> name;  // absent: the host name
  bool allow_insecure_ws = false;
  std::optional<std::string> ca_file;
  std::chrono::seconds heartbeat_interval{10};
  uint32_t max_unanswered_heartbeats = 3;
  std::chrono::seconds join_timeout{5};
};

struct HealthSection {
  // GET /healthz and /readyz; absent: off. Firezone's relay listens here too.
  std::optional<SocketAddress> address = SocketAddress::parse("0.0.0.0:8080");
};

struct MetricsSection {
  std::optional<SocketAddress> address;  // absent: no metrics endpoint
};

// relayctl's unix socket (controlplane/process/admin_socket.hpp).
struct AdminSection {
  std::optional<std::string> socket;  // absent: admin_socket_path's default
};

struct LogSection {
  log::Format format = log::Format::Text;
  log::Level level = log::Level::Info;
};

struct RelayConfig {
  std::string source;  // the file it was read from, "" if none
  RelaySection relay;
  QuotaLimits quotas;
  EalSection eal;
  DataplaneSection dataplane;
  StreamSection stream;
  PortalSection portal;
  MetricsSection metrics;
  HealthSection health;
  AdminSection admin;
  LogSection log;
  // --check: validate everything and exit, starting nothing.
  bool check_only = false;
};

// The TCP ports TURN streams reach on every relay address: TURN over TCP on
// relay.listen_port, over TLS on relay.tls_port and relay.alternate_tls_port
// (those set) when a certificate is configured. Nothing when stream.enabled
// is off. What the data plane steers to the kernel and the control plane
// listens on.
struct StreamPorts {
  std::optional<uint16_t> tcp;
  std::vector<uint16_t> tls;
  [[nodiscard]] bool contains(uint16_t port) const {
    return tcp == port || std::find(tls.begin(), tls.end(), port) != tls.end();
  }
};
StreamPorts stream_ports(const RelayConfig& config);

// Where the control plane listens for relayctl: admin.socket, else
// /run/turn-relay/<eal.file_prefix>.sock (one relay per file prefix).
std::string admin_socket_path(const RelayConfig& config);

// Every key's effective value as text, in schema order ("" = unset); a
// secret that is set shows as "<redacted>" unless `reveal_secrets` (for
// comparing two configurations, never for output).
struct Setting {
  std::string key;
  std::string value;
};
std::vector<Setting> effective_settings(const RelayConfig& config, bool reveal_secrets = false);

struct ConfigError {
  enum class Kind : uint8_t {
    HelpRequested,     // `message` is the --help text, for stdout
    VersionRequested,  // `message` is the program's name; report() adds its build
    Invalid,           // `message` is one line naming the source and the key
  };
  Kind kind = Kind::Invalid;
  std::string message;

  // What the process exits with: 0 after --help or --version, 2 for a bad
  // configuration.
  [[nodiscard]] int exit_status() const { return kind == Kind::Invalid ? 2 : 0; }
};

// Prints the help text or the version line (with `build`) to stdout, or the
// error line to stderr, and returns the exit status, so a main() reads
// `if (!cfg) return report(cfg.error(), build_info(rte_version()));`.
int report(const ConfigError& error, const BuildInfo& build);

// After --check: the one line saying the configuration is good; exit 0.
int report_checked(const RelayConfig& config);

// Makes the process-wide logger follow the [log] section.
inline void configure_logger(const LogSection& section) {
  log::set_level(section.level);
  log::set_format(section.format);
}

// Environment lookup, injectable so tests do not touch the real environment.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;
EnvLookup process_environment();  // getenv

// Full: every rule, as the relay starts. KeysOnly: each key's own value is
// checked but not the rules between keys (relay address required, port
// range against the listen port, a secret for rest...), for a tool such as
// relayctl that reads the relay's file for two keys without the secrets
// the relay's environment adds.
enum class Validation : uint8_t { Full, KeysOnly };

Result<RelayConfig, ConfigError> load_config(int argc, const char* const* argv,
                                             std::string_view program, const EnvLookup& env,
                                             Validation validation = Validation::Full);

// The EAL command line for one of the two processes: the one builder both
// use. The data plane (primary) gets -l, --main-lcore, memory options and
// the devices; the control plane (secondary) runs on the primary's main
// lcore, never probes a device and so always gets --no-pci. Every PCI device
// must be allowlisted (-a): with an empty allowlist the primary gets
// --no-pci too, so DPDK never takes over a NIC nobody named. EAL's own logs
// are quieted to errors (the primary's only above log.level debug; the
// secondary also gets --no-telemetry, since the primary owns the socket of
// this --file-prefix) right after the program name, so eal.extra_args,
// which come last, still override them.
enum class EalRole : uint8_t { Dataplane, ControlPlane };
// argv[0] of each process, as its EAL, --help and --version name it.
constexpr std::string_view program_name(EalRole role) {
  return role == EalRole::Dataplane ? "relay-dataplane" : "relay-controlplane";
}
std::vector<std::string> eal_arguments(const RelayConfig& config, EalRole role);

// rte_eal_init wants mutable char*; the pointers borrow from `args`.
std::vector<char*> as_argv(std::vector<std::string>& args);

// The kernel interface a vdev takes over ("net_af_packet0,iface=veth0" →
// "veth0"); only the PMDs that attach to an existing interface name one.
std::optional<std::string> vdev_interface(std::string_view vdev);

// A shared secret for TURN REST credentials when none is configured:
// 32 bytes, hex. From the kernel CSPRNG, or derived from `rng_seed` so tests
// and demos replay exactly. Fails only if getrandom(2) fails.
Result<std::string, std::string> generate_auth_secret(std::optional<uint64_t> rng_seed);

// The operator's reference: a markdown table of every key with its flag,
// environment variable, default and meaning.
std::string config_reference_markdown();

}  // namespace relay
