#include "common/config/schema.hpp"

#include <sys/un.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>

namespace relay::config_detail {

Check valid_secret(std::string_view s) {
  constexpr size_t kMinSecretBytes = 16;
  if (s.size() < kMinSecretBytes)
    return problem("a secret shorter than " + std::to_string(kMinSecretBytes) + " bytes");
  return std::nullopt;
}

namespace {

std::string range_text(uint64_t lo, uint64_t hi) {
  return std::to_string(lo) + ".." + std::to_string(hi);
}

Result<uint64_t, std::string> in_range(const Input& in, uint64_t lo, uint64_t hi) {
  const auto* i = std::get_if<Integer>(&in);
  if (i == nullptr) return Err{std::string("needs a value in ") + range_text(lo, hi)};
  if (i->negative || i->magnitude < lo || i->magnitude > hi)
    return Err{i->text() + " is out of range " + range_text(lo, hi)};
  return i->magnitude;
}

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// ----- behaviour builders: one per kind of value --------------------------

template <class F>
Behaviour integer(F field, uint64_t lo, uint64_t hi, bool power_of_two = false) {
  return {Kind::Int,
          [=](Draft& d, const Input& in) -> Check {
            auto v = in_range(in, lo, hi);
            if (!v) return problem(v.error());
            if (power_of_two && !is_power_of_two(*v))
              return problem(std::to_string(*v) + " is not a power of two");
            field(d) = static_cast<std::remove_reference_t<decltype(field(d))>>(*v);
            return std::nullopt;
          },
          [=](Draft& d) { return std::to_string(field(d)); }};
}

template <class F>
Behaviour seconds(F field, uint64_t lo, uint64_t hi) {
  return {Kind::Int,
          [=](Draft& d, const Input& in) -> Check {
            auto v = in_range(in, lo, hi);
            if (!v) return problem(v.error());
            field(d) = std::chrono::seconds{static_cast<int64_t>(*v)};
            return std::nullopt;
          },
          [=](Draft& d) { return std::to_string(field(d).count()); }};
}

// Optional integers: a key present in the file always sets them; from text,
// an empty value unsets them (and so does an empty string in TOML).
template <class F>
Behaviour optional_integer(F field, uint64_t lo, uint64_t hi) {
  using T = typename std::remove_reference_t<decltype(field(std::declval<Draft&>()))>::value_type;
  return {Kind::Int,
          [=](Draft& d, const Input& in) -> Check {
            if (std::holds_alternative<std::monostate>(in)) {
              field(d).reset();
              return std::nullopt;
            }
            auto v = in_range(in, lo, hi);
            if (!v) return problem(v.error());
            field(d) = static_cast<T>(*v);
            return std::nullopt;
          },
          [=](Draft& d) { return field(d) ? std::to_string(*field(d)) : std::string(); }};
}

template <class F>
Behaviour boolean(F field) {
  return {Kind::Bool,
          [=](Draft& d, const Input& in) -> Check {
            field(d) = std::get<bool>(in);
            return std::nullopt;
          },
          [=](Draft& d) { return std::string(field(d) ? "true" : "false"); }};
}

using Validator = std::function<Check(std::string_view)>;

template <class F>
Behaviour text(F field, Validator valid) {
  return {Kind::String,
          [=](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            if (auto p = valid(s)) return p;
            field(d) = s;
            return std::nullopt;
          },
          [=](Draft& d) { return std::string(field(d)); }};
}

// An empty string unsets an optional string, so a flag can switch off what
// the file switched on (e.g. --metrics "").
template <class F>
Behaviour optional_text(F field, Validator valid) {
  return {Kind::String,
          [=](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            if (s.empty()) {
              field(d).reset();
              return std::nullopt;
            }
            if (auto p = valid(s)) return p;
            field(d) = s;
            return std::nullopt;
          },
          [=](Draft& d) { return field(d).value_or(""); }};
}

template <class F>
Behaviour text_list(F field, Validator valid_item) {
  return {Kind::StringList,
          [=](Draft& d, const Input& in) -> Check {
            const auto& list = std::get<std::vector<std::string>>(in);
            for (size_t i = 0; i < list.size(); ++i) {
              if (auto p = valid_item(list[i])) return Problem{p->what, i};
            }
            field(d) = list;
            return std::nullopt;
          },
          [=](Draft& d) {
            std::string out;
            for (const auto& s : field(d)) append_item(out, s);
            return out;
          }};
}

template <class F>
Behaviour cidr_list(F field) {
  return {Kind::StringList,
          [=](Draft& d, const Input& in) -> Check {
            std::vector<Cidr> cidrs;
            const auto& list = std::get<std::vector<std::string>>(in);
            for (size_t i = 0; i < list.size(); ++i) {
              auto c = Cidr::parse(list[i]);
              if (!c) return Problem{shown(list[i]) + " is not a CIDR prefix", i};
              cidrs.push_back(*c);
            }
            field(d) = std::move(cidrs);
            return std::nullopt;
          },
          [=](Draft& d) {
            std::string out;
            for (const auto& c : field(d)) append_item(out, c.to_string());
            return out;
          }};
}

// ----- validators and parsers for particular values ------------------------
// Validators of secret keys must never quote the value they reject.

Check not_empty(std::string_view s) {
  if (s.empty()) return problem("must not be empty");
  return std::nullopt;
}

Behaviour auth_scheme() {
  return {Kind::String,
          [](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            auto scheme = parse_auth_scheme(s);
            if (!scheme) return problem(shown(s) + " is not one of firezone, rest, static");
            d.cfg.relay.auth.scheme = *scheme;
            return std::nullopt;
          },
          [](Draft& d) { return std::string(to_string(d.cfg.relay.auth.scheme)); }};
}

Check no_whitespace_item(std::string_view s) {
  if (s.empty()) return problem("an empty item");
  if (s.find_first_of(" \t\r\n") != std::string_view::npos)
    return problem(shown(s) + " contains whitespace");
  return std::nullopt;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

Validator name(size_t max_len) {
  return [max_len](std::string_view s) -> Check {
    if (s.empty() || s.size() > max_len || !std::all_of(s.begin(), s.end(), is_name_char))
      return problem(shown(s) + " is not 1.." + std::to_string(max_len) +
                     " characters of A-Z a-z 0-9 _ -");
    return std::nullopt;
  };
}

// RFC 8489 §14.9: REALM is a quoted-string of fewer than 128 characters.
Check valid_socket_path(std::string_view s) {
  if (!s.starts_with('/')) return problem(shown(s) + " is not an absolute path");
  if (s.size() >= sizeof(sockaddr_un::sun_path))
    return problem(shown(s) + " is longer than a unix socket path may be (" +
                   std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)");
  return std::nullopt;
}

Check valid_realm(std::string_view s) {
  if (s.empty() || s.size() > 127) return problem("must be 1..127 characters");
  for (char c : s) {
    auto b = static_cast<uint8_t>(c);
    if (b < 0x20 || b == 0x7F || c == '"' || c == '\\')
      return problem(shown(s) + " contains a control character, quote or backslash");
  }
  return std::nullopt;
}

// RFC 6455 §3: the portal speaks ws:// or wss://; the URL is shown only
// with its secrets masked.
Check valid_ws_url(std::string_view s) {
  if (s.starts_with("wss://") || s.starts_with("ws://")) return std::nullopt;
  return problem(shown(log::redact_url(s)) + " is not a ws:// or wss:// URL");
}

// PCI addresses as EAL -a takes them: [domain:]bus:device.function[,args].
Check valid_pci(std::string_view s) {
  auto addr = s.substr(0, s.find(','));
  auto hex = [](std::string_view part, size_t len) {
    return part.size() == len && std::all_of(part.begin(), part.end(), [](char c) {
             return std::isxdigit(static_cast<unsigned char>(c)) != 0;
           });
  };
  auto dot = addr.rfind('.');
  auto colon = addr.rfind(':');
  bool ok = dot != std::string_view::npos && colon != std::string_view::npos && colon < dot &&
            hex(addr.substr(dot + 1), 1) && hex(addr.substr(colon + 1, dot - colon - 1), 2);
  if (ok) {
    auto head = addr.substr(0, colon);  // "bus" or "domain:bus"
    auto first = head.find(':');
    ok = first == std::string_view::npos
             ? hex(head, 2)
             : hex(head.substr(0, first), 4) && hex(head.substr(first + 1), 2);
  }
  if (!ok) return problem(shown(s) + " is not a PCI address such as 0000:01:00.0");
  return std::nullopt;
}

// The loader owns device selection, the process type and the lcore set;
// letting extra_args name them would undo eal.pci_allowlist's safety.
Check valid_eal_extra_arg(std::string_view s) {
  if (auto p = no_whitespace_item(s)) return p;
  static constexpr std::array<std::string_view, 11> kOwned = {
      "-a",          "--allow",       "-b", "--block",  "-w",    "--pci-whitelist",
      "--proc-type", "--file-prefix", "-l", "--lcores", "--vdev"};
  for (auto owned : kOwned) {
    if (s == owned || (owned.starts_with("--") && s.starts_with(std::string(owned) + "=")))
      return problem(shown(s) + " is set by its own key (eal.*), not by extra_args");
  }
  if (!s.starts_with("-")) return problem(shown(s) + " is not an option (options start with -)");
  return std::nullopt;
}

// DPDK's -l syntax: "0-3,5". Returns the sorted, distinct lcore ids.
constexpr uint32_t kMaxLcore = 1023;

Result<std::vector<uint32_t>, std::string> parse_lcores(std::string_view text) {
  std::set<uint32_t> ids;
  std::string_view rest = text;
  while (true) {
    auto part = rest.substr(0, rest.find(','));
    auto dash = part.find('-');
    auto lo = parse_decimal(part.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : parse_decimal(part.substr(dash + 1));
    if (!lo || !hi || *lo > *hi || *hi > kMaxLcore)
      return Err{shown(text) + " is not an lcore list such as \"0-3,5\" (ids 0.." +
                 std::to_string(kMaxLcore) + ")"};
    for (auto id = *lo; id <= *hi; ++id) ids.insert(static_cast<uint32_t>(id));
    if (part.size() == rest.size()) break;
    rest.remove_prefix(part.size() + 1);
  }
  return std::vector<uint32_t>(ids.begin(), ids.end());
}

Behaviour lcores() {
  return {Kind::String,
          [](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            auto ids = parse_lcores(s);
            if (!ids) return problem(ids.error());
            d.cfg.eal.lcores = s;
            d.cfg.eal.lcore_ids = std::move(*ids);
            return std::nullopt;
          },
          [](Draft& d) { return d.cfg.eal.lcores; }};
}

Behaviour worker_lcores() {
  return {Kind::IntList,
          [](Draft& d, const Input& in) -> Check {
            std::vector<uint32_t> ids;
            const auto& list = std::get<std::vector<std::string>>(in);
            for (size_t i = 0; i < list.size(); ++i) {
              auto id = parse_decimal(list[i]);
              if (!id || *id > kMaxLcore)
                return Problem{
                    shown(list[i]) + " is not an lcore id 0.." + std::to_string(kMaxLcore), i};
              if (std::find(ids.begin(), ids.end(), *id) != ids.end())
                return Problem{"lcore " + list[i] + " is listed twice", i};
              ids.push_back(static_cast<uint32_t>(*id));
            }
            if (ids.empty())
              d.workers.reset();
            else
              d.workers = std::move(ids);
            return std::nullopt;
          },
          [](Draft& d) {
            std::string out;
            for (auto id : d.workers.value_or(std::vector<uint32_t>{}))
              append_item(out, std::to_string(id));
            return out;
          }};
}

std::optional<MacAddress> parse_mac(std::string_view s) {
  MacAddress mac{};
  if (s.size() != 17) return std::nullopt;
  for (size_t i = 0; i < 6; ++i) {
    auto octet = s.substr(i * 3, 2);
    if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
    unsigned v = 0;
    auto [end, ec] = std::from_chars(octet.data(), octet.data() + 2, v, 16);
    if (ec != std::errc{} || end != octet.data() + 2) return std::nullopt;
    mac[i] = static_cast<uint8_t>(v);
  }
  return mac;
}

Behaviour mac_address() {
  return {Kind::String,
          [](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            if (s.empty()) {
              d.cfg.dataplane.mac_address.reset();
              return std::nullopt;
            }
            auto mac = parse_mac(s);
            if (!mac) return problem(shown(s) + " is not a MAC address such as 02:00:00:00:00:01");
            // IEEE 802 §8.2: the I/G bit set means a group address, never a source.
            if (((*mac)[0] & 0x01) != 0) return problem(shown(s) + " is a multicast address");
            d.cfg.dataplane.mac_address = mac;
            return std::nullopt;
          },
          [](Draft& d) {
            return d.cfg.dataplane.mac_address ? mac_text(*d.cfg.dataplane.mac_address) : "";
          }};
}

std::string_view family_name(Family f) { return f == Family::V4 ? "an IPv4" : "an IPv6"; }

Result<IpAddress, std::string> parse_ip_of(std::string_view s, Family family) {
  auto ip = IpAddress::parse(s);
  if (!ip) return Err{shown(s) + " is not an IP address"};
  if (ip->family != family)
    return Err{shown(s) + " is not " + std::string(family_name(family)) + " address"};
  return *ip;
}

// "198.51.100.1/24": our address and the on-link prefix in one value.
Behaviour interface_address(FamilyDraft Draft::*fam, Family family) {
  return {Kind::String,
          [=](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            if (s.empty()) {
              (d.*fam).address.reset();
              return std::nullopt;
            }
            auto slash = s.find('/');
            if (slash == std::string::npos)
              return problem(shown(s) + " needs a prefix length, e.g. " +
                             (family == Family::V4 ? "198.51.100.1/24" : "2001:db8::1/64"));
            auto ip = parse_ip_of(std::string_view(s).substr(0, slash), family);
            if (!ip) return problem(ip.error());
            auto len = parse_decimal(std::string_view(s).substr(slash + 1));
            uint64_t max = family == Family::V4 ? 32 : 128;
            if (!len || *len > max)
              return problem(shown(s) + " has a prefix length outside 0.." + std::to_string(max));
            (d.*fam).address = *ip;
            (d.*fam).prefix_len = static_cast<uint8_t>(*len);
            return std::nullopt;
          },
          [=](Draft& d) {
            const auto& f = d.*fam;
            return f.address ? f.address->to_string() + "/" + std::to_string(f.prefix_len) : "";
          }};
}

Behaviour family_ip(FamilyDraft Draft::*fam, std::optional<IpAddress> FamilyDraft::*member,
                    Family family) {
  return {Kind::String,
          [=](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            if (s.empty()) {
              ((d.*fam).*member).reset();
              return std::nullopt;
            }
            auto ip = parse_ip_of(s, family);
            if (!ip) return problem(ip.error());
            (d.*fam).*member = *ip;
            return std::nullopt;
          },
          [=](Draft& d) {
            const auto& v = (d.*fam).*member;
            return v ? v->to_string() : std::string();
          }};
}

// An HTTP endpoint's address; an empty value switches it off.
template <class F>
Behaviour listen_address(F field) {
  return {
      Kind::String,
      [=](Draft& d, const Input& in) -> Check {
        const auto& s = std::get<std::string>(in);
        if (s.empty()) {
          field(d).reset();
          return std::nullopt;
        }
        auto a = SocketAddress::parse(s);
        if (!a || a->port == 0)
          return problem(shown(s) + " is not an address:port such as 127.0.0.1:9100 or [::1]:9100");
        field(d) = a;
        return std::nullopt;
      },
      [=](Draft& d) { return field(d) ? field(d)->to_string() : ""; }};
}

// One of a fixed list of names (a static table), each naming a value.
template <class E, size_t N, class F>
Behaviour choice(const std::array<std::pair<std::string_view, E>, N>& names, F field) {
  return {Kind::String,
          [&names, field](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            std::string all;
            for (const auto& [name, value] : names) {
              if (s == name) {
                field(d) = value;
                return std::nullopt;
              }
              all += (all.empty() ? "" : ", ") + std::string(name);
            }
            return problem(shown(s) + " is not one of " + all);
          },
          [&names, field](Draft& d) {
            for (const auto& [name, value] : names)
              if (value == field(d)) return std::string(name);
            return std::string();
          }};
}

constexpr std::array<std::pair<std::string_view, TokenPlacement>, 3> kTokenPlacements = {
    {{"header", TokenPlacement::Header}, {"query", TokenPlacement::Query}, {"both", TokenPlacement::Both}}};
constexpr std::array<std::pair<std::string_view, InterfaceDriver>, 3> kInterfaceDrivers = {
    {{"auto", InterfaceDriver::Auto}, {"af_xdp", InterfaceDriver::AfXdp}, {"af_packet", InterfaceDriver::AfPacket}}};
constexpr std::array<std::pair<std::string_view, IdleMode>, 2> kIdleModes = {
    {{"poll", IdleMode::Poll}, {"adaptive", IdleMode::Adaptive}}};

Behaviour log_format() {
  return {Kind::String,
          [](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            auto f = log::parse_format(s);
            if (!f) return problem(shown(s) + " is not one of text (or human), json");
            d.cfg.log.format = *f;
            return std::nullopt;
          },
          [](Draft& d) { return std::string(log::to_string(d.cfg.log.format)); }};
}

Behaviour log_level() {
  return {Kind::String,
          [](Draft& d, const Input& in) -> Check {
            const auto& s = std::get<std::string>(in);
            auto l = log::parse_level(s);
            if (!l) return problem(shown(s) + " is not one of trace, debug, info, warn, error");
            d.cfg.log.level = *l;
            return std::nullopt;
          },
          [](Draft& d) { return std::string(log::to_string(d.cfg.log.level)); }};
}

}  // namespace

// ---------------------------------------------------------------------------
// The schema. Order is the order of --help and of the reference table.

// A reference to one RelayConfig member; a macro only because a lambda per
// key written out would triple the table's length.
// clang-format off
#define FIELD(expr) [](Draft& d) -> auto& { return d.cfg.expr; }
// clang-format on

constexpr uint64_t kDay = 86400;
constexpr uint64_t kMaxTable = 1u << 24;

const std::vector<Key>& schema() {
  static const std::vector<Key> keys = {
      {"relay.ipv4.address", "--ip4-addr",
       "The relay's IPv4 address with the on-link prefix length, e.g. 198.51.100.1/24. At least "
       "one of relay.ipv4.address and relay.ipv6.address is required.",
       interface_address(&Draft::v4, Family::V4)},
      {"relay.ipv4.gateway", "--ip4-gateway",
       "IPv4 next hop for destinations outside the prefix; must lie inside the prefix. Absent: "
       "only on-link destinations are reachable.",
       family_ip(&Draft::v4, &FamilyDraft::gateway, Family::V4)},
      {"relay.ipv4.public_address", "--public-ip4-addr",
       "IPv4 address advertised to clients (XOR-RELAYED-ADDRESS) when behind a 1:1 NAT. Default: "
       "relay.ipv4.address.",
       family_ip(&Draft::v4, &FamilyDraft::public_address, Family::V4)},
      {"relay.ipv6.address", "--ip6-addr",
       "The relay's IPv6 address with the on-link prefix length, e.g. 2001:db8:100::1/64.",
       interface_address(&Draft::v6, Family::V6)},
      {"relay.ipv6.gateway", "--ip6-gateway",
       "IPv6 next hop for destinations outside the prefix; must lie inside the prefix.",
       family_ip(&Draft::v6, &FamilyDraft::gateway, Family::V6)},
      {"relay.ipv6.public_address", "--public-ip6-addr",
       "IPv6 address advertised to clients. Default: relay.ipv6.address.",
       family_ip(&Draft::v6, &FamilyDraft::public_address, Family::V6)},
      {"relay.listen_port", "--listen-port",
       "UDP port for STUN/TURN and ChannelData from clients (RFC 8489 §18.6: 3478).",
       integer(FIELD(relay.listen_port), 1, 65535)},
      {"relay.lowest_port", "--lowest-port",
       "Lowest UDP port of allocations (RFC 8656 §7.2: 49152). Must be >= 1024.",
       integer(FIELD(relay.allocation_ports.lowest), 1024, 65535)},
      {"relay.highest_port", "--highest-port",
       "Highest UDP port of allocations; the range must not contain relay.listen_port.",
       integer(FIELD(relay.allocation_ports.highest), 1024, 65535)},
      {"relay.realm", "--realm", "REALM of authentication challenges (RFC 8489 §9.2).",
       text(FIELD(relay.realm), valid_realm)},
      {"relay.auth_secret", "--auth-secret",
       "One shared secret of the credentials: relay.auth.secrets with one item. Never printed. A "
       "flag shows in /proc/<pid>/cmdline: prefer relay.auth_secret_file.",
       optional_text([](Draft& d) -> auto& { return d.auth_secret; }, valid_secret), true},
      {"relay.auth_secret_file", "--auth-secret-file",
       "File holding relay.auth.secrets, one a line (blank lines ignored), e.g. a systemd "
       "credential; excludes relay.auth_secret and relay.auth.secrets.",
       optional_text(FIELD(relay.auth_secret_file), not_empty)},
      {"relay.auth.scheme", "--auth-scheme",
       "How credentials are checked: firezone (the portal's \"expiry:salt\" usernames), rest "
       "(coturn's use-auth-secret: \"expiry[:user]\", base64(HMAC-SHA1(secret, username))) or "
       "static (relay.auth.users_file).",
       auth_scheme()},
      {"relay.auth.secrets", "--auth-secrets",
       "Shared secrets of firezone and rest credentials, each at least 16 bytes; any of them "
       "verifies, the portal mints with the first. Rotate: add the new one, wait the credential "
       "lifetime, remove the old one. Never printed. Absent (and no relay.auth_secret[_file]): "
       "firezone generates one at start (from relay.rng_seed when set) and never logs it, so only "
       "a portal can hand out credentials; rest refuses to start.",
       text_list(FIELD(relay.auth.secrets), valid_secret), true},
      {"relay.auth.users_file", "--auth-users-file",
       "static: the users, one a line, user:realm:0xKEY (turnadmin -k) or user:password; read at "
       "start and on SIGHUP.",
       optional_text(FIELD(relay.auth.users_file), not_empty)},
      {"relay.rng_seed", "--rng-seed",
       "Seed for every random choice (ports, nonces, generated secret), for reproducible tests. "
       "Absent: the kernel CSPRNG. Never set it in production.",
       optional_integer(FIELD(relay.rng_seed), 0, UINT64_MAX)},
      {"relay.allocation_lifetime", "--allocation-lifetime",
       "Seconds an allocation lives without LIFETIME in the request (RFC 8656 §3.6: 600).",
       seconds(FIELD(relay.allocation_lifetime), 1, kDay)},
      {"relay.max_allocation_lifetime", "--max-allocation-lifetime",
       "Upper bound in seconds on a requested allocation lifetime (RFC 8656 §7.2: 3600).",
       seconds(FIELD(relay.max_allocation_lifetime), 1, kDay)},
      {"relay.channel_lifetime", "--channel-lifetime",
       "Seconds a channel binding lives unless refreshed (RFC 8656 §12: 600).",
       seconds(FIELD(relay.channel_lifetime), 1, kDay)},
      {"relay.permission_lifetime", "--permission-lifetime",
       "Seconds a permission lives unless refreshed (RFC 8656 §9: 300).",
       seconds(FIELD(relay.permission_lifetime), 1, kDay)},
      {"relay.nonce_uses", "--nonce-uses",
       "Authenticated requests one NONCE is good for before 438 Stale Nonce (RFC 8489 §9.2 leaves "
       "it to the server; Firezone's relay: 10).",
       integer(FIELD(relay.nonce_uses), 1, 255)},
      {"relay.peer_allow", "--peer-allow",
       "CIDR prefixes re-opened inside the denied ranges (built-in, the gateways, on-link, relay.peer_deny): "
       "the most specific matching prefix decides; on a tie relay.peer_deny beats relay.peer_allow, which "
       "beats a built-in or on-link range. A peer in no denied range needs no allow; a re-opened "
       "translation prefix (NAT64, 6to4, Teredo, IPv4-translated) still has the IPv4 inside judged.",
       cidr_list(FIELD(relay.peer_allow))},
      {"relay.peer_deny", "--peer-deny",
       "CIDR prefixes denied on top of the built-in ranges; beaten only by a more specific relay.peer_allow.",
       cidr_list(FIELD(relay.peer_deny))},
      {"relay.deny_on_link", "--deny-on-link",
       "Deny peers on the relay's on-link subnets (the prefixes of relay.ipv4.address and "
       "relay.ipv6.address); the gateways are denied either way. false only where peers share "
       "the relay's subnet by design (the demo, test topologies).",
       boolean(FIELD(relay.deny_on_link))},
      {"relay.tls_port", "--tls-port",
       "TCP port of TURN over TLS (turns:, RFC 8656 §18.6: 5349), served when stream.enabled and "
       "relay.tls_certificate is set. 0: none.",
       integer(FIELD(relay.tls_port), 0, 65535)},
      {"relay.alternate_tls_port", "--alternate-tls-port",
       "A second TLS port, e.g. 443 for clients behind firewalls that pass only HTTPS. 0: none.",
       integer(FIELD(relay.alternate_tls_port), 0, 65535)},
      {"relay.tls_certificate", "--tls-certificate",
       "PEM file of the TLS certificate chain (the relay's first). Needs relay.tls_private_key; "
       "re-read on reload.",
       optional_text(FIELD(relay.tls_certificate), not_empty)},
      {"relay.tls_private_key", "--tls-private-key",
       "PEM file of the certificate's private key; re-read on reload.",
       optional_text(FIELD(relay.tls_private_key), not_empty)},
      {"stream.enabled", "--stream",
       "Serve TURN over TCP on relay.listen_port and over TLS on the TLS ports: the data plane "
       "steers that TCP into a kernel TAP interface (stream.interface) and the control plane "
       "terminates it. Off: TCP to a relay address gets a RST.",
       boolean(FIELD(stream.enabled))},
      {"stream.interface", "--stream-interface",
       "Name of the TAP interface the data plane creates for streams; it carries the relay "
       "addresses in the kernel and must not exist.",
       text(FIELD(stream.interface), name(15))},
      {"stream.routing_table", "--stream-routing-table",
       "Policy routing table of the stream replies: the kernel sends whatever leaves a relay "
       "address through the TAP interface by this table. Not 253-255 (the kernel's default, "
       "main and local tables).",
       integer(FIELD(stream.routing_table), 1, INT32_MAX)},
      {"stream.idle_timeout", "--stream-idle-timeout",
       "Seconds a connection without an allocation may stay silent (no complete message) before "
       "it is closed; one with an allocation lives as long as the allocation.",
       seconds(FIELD(stream.idle_timeout), 1, kDay)},
      {"stream.handshake_timeout", "--stream-handshake-timeout",
       "Seconds from accepting a TLS connection to the end of its handshake.",
       seconds(FIELD(stream.handshake_timeout), 1, 300)},
      {"stream.max_connections", "--stream-max-connections",
       "TCP and TLS connections at once; more are closed at accept.",
       integer(FIELD(stream.max_connections), 1, 1'000'000)},
      {"stream.max_connections_per_source", "--stream-max-connections-per-source",
       "Connections at once from one client IP address.",
       integer(FIELD(stream.max_connections_per_source), 1, 1'000'000)},
      {"stream.max_buffered_bytes", "--stream-max-buffered-bytes",
       "Bytes queued toward one client; beyond, what peers relay to it is dropped (counted) until "
       "it reads.",
       integer(FIELD(stream.max_buffered_bytes), 4096, 64u << 20)},
      {"quotas.max_allocations_per_username", "--max-allocations-per-username",
       "Allocations one user may hold, counting the ports its ended allocations still hold (RFC "
       "8656 §12, up to 5 minutes); usernames with the same salt (after the ':') are one user "
       "(0 = unlimited).",
       integer(FIELD(quotas.allocations_per_user), 0, UINT32_MAX)},
      {"quotas.max_allocations_per_client_ip", "--max-allocations-per-client-ip",
       "Allocations one client IP address may hold, held ports included (0 = unlimited).",
       integer(FIELD(quotas.allocations_per_client_ip), 0, UINT32_MAX)},
      {"quotas.max_allocations", "--max-allocations",
       "Allocations of the whole relay (0 = bounded only by the port range).",
       integer(FIELD(quotas.allocations_total), 0, UINT32_MAX)},
      {"quotas.max_channels_per_allocation", "--max-channels-per-allocation",
       "Channel bindings per allocation, at most dataplane.channel_table_capacity (0 = the 16384 "
       "RFC 8656 §12 allows).",
       integer(FIELD(quotas.channels_per_allocation), 0, 16384)},
      {"quotas.max_permissions_per_allocation", "--max-permissions-per-allocation",
       "Permissions per allocation, at most dataplane.permission_table_capacity (0 = unlimited).",
       integer(FIELD(quotas.permissions_per_allocation), 0, UINT32_MAX)},
      {"eal.lcores", "--eal-lcores", "EAL lcore list (-l) of the data plane, e.g. \"0-3,5\".",
       lcores()},
      {"eal.main_lcore", "--eal-main-lcore",
       "EAL main lcore; one of eal.lcores. The control plane runs on it too. Default: the lowest "
       "of eal.lcores.",
       optional_integer(FIELD(eal.main_lcore), 0, kMaxLcore)},
      {"eal.file_prefix", "--eal-file-prefix",
       "EAL --file-prefix: names the shared memory both processes attach to.",
       text(FIELD(eal.file_prefix), name(32))},
      {"eal.huge_pages", "--eal-huge-pages",
       "Use huge pages; false adds --no-huge (tests only: no secondary process can attach).",
       boolean(FIELD(eal.huge_pages))},
      {"eal.memory_mb", "--eal-memory-mb", "EAL -m in MiB (0 = DPDK's default).",
       integer(FIELD(eal.memory_mb), 0, 1u << 20)},
      {"eal.vdevs", "--eal-vdevs",
       "Virtual devices (--vdev each), e.g. \"net_af_packet0,iface=turn-demo0\".",
       text_list(FIELD(eal.vdevs), no_whitespace_item)},
      {"eal.interface", "--eal-interface",
       "A kernel interface (e.g. a veth) the data plane takes as its port with "
       "eal.interface_driver, one queue pair per worker; instead of a vdev naming it.",
       optional_text(FIELD(eal.interface), name(15))},
      {"eal.interface_driver", "--eal-interface-driver",
       "Driver of eal.interface: af_xdp (net_af_xdp), af_packet (net_af_packet), or auto: the "
       "faster, falling back to the other when it cannot start (one log line says which).",
       choice(kInterfaceDrivers, FIELD(eal.interface_driver))},
      {"eal.pci_allowlist", "--eal-pci-allowlist",
       "PCI devices the data plane may take (-a each). Empty: --no-pci, no NIC is touched.",
       text_list(FIELD(eal.pci_allowlist), valid_pci)},
      {"eal.extra_args", "--eal-extra-args",
       "More EAL options for both processes, e.g. \"--log-level=lib.eal:debug\".",
       text_list(FIELD(eal.extra_args), valid_eal_extra_arg)},
      {"dataplane.worker_lcores", "--dataplane-worker-lcores",
       "Lcores that run a worker loop, one RX/TX queue each. Default: eal.lcores without the main "
       "lcore (the main lcore when it is the only one).",
       worker_lcores()},
      {"dataplane.ring_prefix", "--dataplane-ring-prefix",
       "Prefix of the rte_ring names shared by the two processes.",
       text(FIELD(dataplane.ring_prefix), name(12))},
      {"dataplane.mempool_size", "--dataplane-mempool-size",
       "Mbufs in the packet pool (2^n - 1 is optimal).",
       integer(FIELD(dataplane.mempool_size), 255, kMaxTable)},
      {"dataplane.mbuf_cache", "--dataplane-mbuf-cache",
       "Per-lcore mempool cache; >= dataplane.burst_size, <= 512 and <= mempool_size / 1.5.",
       integer(FIELD(dataplane.mbuf_cache), 1, 512)},
      {"dataplane.rx_descriptors", "--dataplane-rx-descriptors",
       "RX ring size per queue (power of two).",
       integer(FIELD(dataplane.rx_descriptors), 64, 32768, true)},
      {"dataplane.tx_descriptors", "--dataplane-tx-descriptors",
       "TX ring size per queue (power of two).",
       integer(FIELD(dataplane.tx_descriptors), 64, 32768, true)},
      {"dataplane.burst_size", "--dataplane-burst-size", "Packets per RX/TX burst.",
       integer(FIELD(dataplane.burst_size), 1, 64)},
      {"dataplane.channel_table_capacity", "--dataplane-channel-table-capacity",
       "Channel bindings each worker's tables hold; the control plane binds no more in all (508 "
       "beyond).",
       integer(FIELD(dataplane.channel_table_capacity), 64, kMaxTable)},
      {"dataplane.permission_table_capacity", "--dataplane-permission-table-capacity",
       "Permissions (allocation, peer IP) each worker's tables hold for Send/Data indications; the "
       "control plane grants no more in all (508 beyond).",
       integer(FIELD(dataplane.permission_table_capacity), 64, kMaxTable)},
      {"dataplane.data_indication_fingerprint", "--dataplane-data-indication-fingerprint",
       "Add FINGERPRINT to the Data indications the data plane builds (a CRC per relayed datagram).",
       boolean(FIELD(dataplane.data_indication_fingerprint))},
      {"dataplane.neighbour_capacity", "--dataplane-neighbour-capacity",
       "ARP/ND entries each worker keeps.",
       integer(FIELD(dataplane.neighbour_capacity), 16, 1u << 20)},
      {"dataplane.exception_ring_size", "--dataplane-exception-ring-size",
       "Slots of the rings between data plane and control plane (power of two).",
       integer(FIELD(dataplane.exception_ring_size), 64, kMaxTable, true)},
      {"dataplane.command_ring_size", "--dataplane-command-ring-size",
       "Slots of each worker's command ring (power of two).",
       integer(FIELD(dataplane.command_ring_size), 64, kMaxTable, true)},
      {"dataplane.stun_rate_per_source", "--dataplane-stun-rate-per-source",
       "STUN datagrams per second each worker passes to the control plane from one source (IPv4 "
       "address or IPv6 /64); more are dropped. 0: unlimited.",
       integer(FIELD(dataplane.stun_rate_per_source), 0, 1'000'000)},
      {"dataplane.stun_burst_per_source", "--dataplane-stun-burst-per-source",
       "STUN datagrams one quiet source may send at once before its rate applies.",
       integer(FIELD(dataplane.stun_burst_per_source), 1, 1'000'000)},
      {"dataplane.idle", "--dataplane-idle",
       "What a worker does with nothing to do: poll (busy-poll a core, lowest latency) or adaptive "
       "(poll for 10 ms after the last packet, then sleep at most dataplane.max_idle_sleep_us at a "
       "time until the next).",
       choice(kIdleModes, FIELD(dataplane.idle))},
      {"dataplane.max_idle_sleep_us", "--dataplane-max-idle-sleep-us",
       "Longest sleep of an idle worker in adaptive mode, in microseconds: the most an idle relay "
       "adds to its first packet's latency.",
       integer(FIELD(dataplane.max_idle_sleep_us), 1, 10'000)},
      {"dataplane.tx_hold_us", "--dataplane-tx-hold-us",
       "Longest a worker holds a partial TX batch across loop turns, in microseconds, so one PMD "
       "kick (a system call on net_af_packet and net_af_xdp) sends more packets; a full burst or an "
       "idle worker sends at once. 0: send every turn.",
       integer(FIELD(dataplane.tx_hold_us), 0, 50)},
      {"dataplane.mac_address", "--dataplane-mac-address",
       "Source MAC address instead of the port's own, e.g. 02:00:00:00:00:01.", mac_address()},
      {"dataplane.vlan", "--dataplane-vlan",
       "802.1Q VLAN id of the relay's traffic (1..4094). Absent: untagged.",
       optional_integer(FIELD(dataplane.vlan), 1, 4094)},
      {"portal.ws_url", "--portal-ws-url",
       "Portal WebSocket URL (wss://...). Absent: no portal, the relay serves at once.",
       optional_text(FIELD(portal.ws_url), valid_ws_url)},
      {"portal.token", "--portal-token", "Token the relay presents to the portal. Never printed.",
       optional_text(FIELD(portal.token), not_empty), true},
      {"portal.allow_insecure_ws", "--allow-insecure-ws",
       "Allow a ws:// portal URL (the token then travels in clear text).",
       boolean(FIELD(portal.allow_insecure_ws))},
      {"portal.ca_file", "--portal-ca-file",
       "PEM file of CA certificates for the portal's TLS. Absent: the system store.",
       optional_text(FIELD(portal.ca_file), not_empty)},
      {"portal.name", "--portal-name",
       "The name the portal shows for this relay. Absent: the host name.",
       optional_text(FIELD(portal.name), not_empty)},
      {"portal.token_placement", "--portal-token-placement",
       "How the token reaches the portal: header (X-Authorization: Bearer, Firezone's portal "
       "today), query (the token parameter, the 2023 portal) or both.",
       choice(kTokenPlacements, FIELD(portal.token_placement))},
      {"portal.heartbeat_interval", "--portal-heartbeat-interval",
       "Seconds between Phoenix heartbeats; the portal closes a socket idle for ~41 s.",
       seconds(FIELD(portal.heartbeat_interval), 1, 40)},
      {"portal.max_unanswered_heartbeats", "--portal-max-unanswered-heartbeats",
       "Heartbeats in a row without a reply after which the relay reconnects.",
       integer(FIELD(portal.max_unanswered_heartbeats), 1, 100)},
      {"portal.join_timeout", "--portal-join-timeout",
       "Seconds the portal has to answer the channel join before the relay reconnects.",
       seconds(FIELD(portal.join_timeout), 1, 300)},
      {"metrics.address", "--metrics",
       "address:port of the Prometheus endpoint, e.g. 127.0.0.1:9100. Absent: off.",
       listen_address(FIELD(metrics.address))},
      {"health.address", "--health-check-addr",
       "address:port of GET /healthz (alive) and GET /readyz (serving). Empty: off.",
       listen_address(FIELD(health.address))},
      {"admin.socket", "--admin-socket",
       "Unix socket of relayctl (mode 0600, owner only): status, allocations, kill, drain, reload, "
       "credentials, config. Default: /run/turn-relay/<eal.file_prefix>.sock.",
       optional_text(FIELD(admin.socket), valid_socket_path)},
      {"log.format", "--log-format", "Log line format: text or json.", log_format()},
      {"log.level", "--log-level", "Lowest level logged: trace, debug, info, warn or error.",
       log_level()},
  };
  return keys;
}

#undef FIELD

namespace {

std::optional<std::string> as_is(std::string_view value) { return std::string(value); }

// FIREZONE_API_URL may be the portal's http(s) address or its ws(s) one.
std::optional<std::string> websocket_url(std::string_view value) {
  if (value.starts_with("https://")) return "wss://" + std::string(value.substr(8));
  if (value.starts_with("http://")) return "ws://" + std::string(value.substr(7));
  return std::string(value);
}

// RUST_LOG (tracing's EnvFilter): "info", or "warn,firezone_relay=debug". A
// bare level is the default; a directive for a firezone*/relay* target
// overrides it, other targets (libraries) are not ours. "off" is our error.
std::optional<std::string> rust_log_level(std::string_view value) {
  std::optional<std::string> bare;
  std::optional<std::string> ours;
  while (!value.empty()) {
    const auto comma = value.find(',');
    const auto item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    const auto eq = item.find('=');
    const auto word = std::string(eq == std::string_view::npos ? item : item.substr(eq + 1));
    const auto level = word == "off" ? std::string("error") : word;
    if (eq == std::string_view::npos) {
      bare = level;
    } else if (item.starts_with("firezone") || item.starts_with("relay")) {
      ours = level;
    }
  }
  return ours ? ours : bare;
}

// JSON_LOG: Firezone's switch for JSON lines.
std::optional<std::string> json_log_format(std::string_view value) {
  if (value == "true" || value == "1") return std::string("json");
  if (value == "false" || value == "0") return std::string("text");
  return std::string(value);
}

}  // namespace

std::string env_name(std::string_view flag) {
  std::string env;
  for (char c : flag.substr(2)) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

const std::vector<EnvAlias>& env_aliases() {
  static const std::vector<EnvAlias> aliases = {
      {"FIREZONE_TOKEN", "portal.token", as_is},
      {"FIREZONE_API_URL", "portal.ws_url", websocket_url},
      {"FIREZONE_NAME", "portal.name", as_is},
      {"LISTEN_IP4_ADDR", "relay.ipv4.address", as_is},
      {"LISTEN_IP6_ADDR", "relay.ipv6.address", as_is},
      {"RUST_LOG", "log.level", rust_log_level},
      {"JSON_LOG", "log.format", json_log_format},
  };
  return aliases;
}

std::string env_names(const Key& key, std::string_view separator) {
  std::string names = env_name(key.flag);
  for (const auto& alias : env_aliases())
    if (alias.path == key.path) names.append(separator).append(alias.env);
  return names;
}

std::string default_text(const Key& key) {
  if (key.secret) return "";
  Draft defaults;
  return key.behaviour.show(defaults);
}

const Key* find_key(std::string_view path) {
  for (const auto& k : schema())
    if (k.path == path) return &k;
  return nullptr;
}

bool is_table(std::string_view path) {
  return std::any_of(schema().begin(), schema().end(), [&](const Key& k) {
    return k.path.size() > path.size() && k.path.starts_with(path) && k.path[path.size()] == '.';
  });
}

}  // namespace relay::config_detail
