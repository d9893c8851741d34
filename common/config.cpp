#include "common/config.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/un.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <variant>

#include "common/mix.hpp"

namespace relay {

namespace {

// ---------------------------------------------------------------------------
// Values as they arrive from a file, an environment variable or a flag,
// before the key's own checks.

enum class Kind : uint8_t { Bool, Int, String, StringList, IntList };

struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;
  [[nodiscard]] std::string text() const {
    return (negative ? "-" : "") + std::to_string(magnitude);
  }
};

// monostate: an empty environment variable or flag value for an integer key,
// which unsets an optional one.
using Input = std::variant<std::monostate, bool, Integer, std::string, std::vector<std::string>>;

// What is wrong with one value; `item` points into a list.
struct Problem {
  std::string what;
  std::optional<size_t> item;
};
using Check = std::optional<Problem>;

Check problem(std::string what) { return Problem{std::move(what), std::nullopt}; }

// Space-separated, as lists show in --help and as the environment takes them.
void append_item(std::string& out, std::string_view item) {
  if (!out.empty()) out += ' ';
  out += item;
}

// A string as it appears in an error line: quoted, escaped, bounded.
std::string shown(std::string_view s) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  log::append_json_escaped(out, s.substr(0, kMax));
  out += s.size() > kMax ? "...\"" : "\"";
  return out;
}

std::optional<uint64_t> parse_decimal(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<Integer> parse_integer(std::string_view s) {
  bool negative = !s.empty() && s.front() == '-';
  auto magnitude = parse_decimal(negative ? s.substr(1) : s);
  if (!magnitude) return std::nullopt;
  return Integer{negative, *magnitude};
}

std::optional<bool> parse_bool(std::string_view s) {
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::vector<std::string> split_whitespace(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

// Environment variables and flags are text; `items` holds one string per
// flag occurrence (lists) or the single value (everything else).
Result<Input, std::string> input_from_text(Kind kind, const std::vector<std::string>& items,
                                           bool is_env) {
  const std::string& last = items.back();
  switch (kind) {
    case Kind::Bool:
      if (auto b = parse_bool(last)) return Input{*b};
      return Err{shown(last) + " is not a boolean (true or false)"};
    case Kind::Int:
      if (last.empty()) return Input{std::monostate{}};
      if (auto i = parse_integer(last)) return Input{*i};
      return Err{shown(last) + " is not an integer"};
    case Kind::String:
      return Input{last};
    case Kind::StringList:
    case Kind::IntList:
      break;
  }
  std::vector<std::string> list;
  for (const auto& item : items) {
    auto words = is_env ? split_whitespace(item) : std::vector<std::string>{item};
    list.insert(list.end(), words.begin(), words.end());
  }
  return Input{std::move(list)};
}

std::string_view toml_type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::Bool:
      return "a boolean";
    case Kind::Int:
      return "an integer";
    case Kind::String:
      return "a string";
    case Kind::StringList:
      return "an array of strings";
    case Kind::IntList:
      return "an array of integers";
  }
  return "";
}

// A TOML value of the expected type, or what is wrong and which node says so.
struct TomlProblem {
  std::string what;
  const toml::node* where;
};

Result<Input, TomlProblem> input_from_toml(Kind kind, const toml::node& node) {
  auto wrong = [&](const toml::node& n, std::string_view expected) {
    return Err{TomlProblem{
        "expected " + std::string(expected) + ", got " + std::string(toml_type_name(n.type())),
        &n}};
  };
  switch (kind) {
    case Kind::Bool:
      if (auto b = node.value<bool>(); b && node.is_boolean()) return Input{*b};
      return wrong(node, kind_name(kind));
    case Kind::Int:
      if (const auto* i = node.as_integer()) {
        int64_t v = i->get();
        return Input{Integer{
            v < 0, v < 0 ? uint64_t{0} - static_cast<uint64_t>(v) : static_cast<uint64_t>(v)}};
      }
      return wrong(node, kind_name(kind));
    case Kind::String:
      if (const auto* s = node.as_string()) return Input{s->get()};
      return wrong(node, kind_name(kind));
    case Kind::StringList:
    case Kind::IntList:
      break;
  }
  const auto* array = node.as_array();
  if (array == nullptr) return wrong(node, kind_name(kind));
  std::vector<std::string> list;
  for (const auto& element : *array) {
    if (kind == Kind::StringList && element.is_string()) {
      list.push_back(element.as_string()->get());
    } else if (kind == Kind::IntList && element.is_integer()) {
      list.push_back(std::to_string(element.as_integer()->get()));
    } else {
      return wrong(element, kind == Kind::StringList ? "a string" : "an integer");
    }
  }
  return Input{std::move(list)};
}

// ---------------------------------------------------------------------------
// The configuration being assembled, with the parts that only become a
// RelayConfig field once every source has been read.

struct FamilyDraft {
  std::optional<IpAddress> address;
  uint8_t prefix_len = 0;
  std::optional<IpAddress> gateway;
  std::optional<IpAddress> public_address;
};

struct Draft {
  RelayConfig cfg;
  FamilyDraft v4;
  FamilyDraft v6;
  std::optional<std::vector<uint32_t>> workers;
  // relay.auth_secret: one secret, which loading puts in relay.auth.secrets.
  std::optional<std::string> auth_secret;
};

using Apply = std::function<Check(Draft&, const Input&)>;
using Show = std::function<std::string(Draft&)>;  // "" = unset

struct Behaviour {
  Kind kind;
  Apply apply;
  Show show;
};

struct Key {
  std::string_view path;  // "relay.listen_port"
  std::string_view flag;  // "--listen-port"; the env name is derived from it
  std::string_view help;
  Behaviour behaviour;
  bool secret = false;
};

std::string env_name(std::string_view flag) {
  std::string env;
  for (char c : flag.substr(2)) env += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return env;
}

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

// A secret is any text of at least 16 bytes (128 bits if random), which
// coturn's documentation asks of static-auth-secret too. Never quoted.
Check valid_secret(std::string_view s) {
  constexpr size_t kMinSecretBytes = 16;
  if (s.size() < kMinSecretBytes)
    return problem("a secret shorter than " + std::to_string(kMinSecretBytes) + " bytes");
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

std::string mac_text(const MacAddress& mac) {
  std::array<char, 18> buf{};
  std::snprintf(buf.data(), buf.size(), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                mac[3], mac[4], mac[5]);
  return buf.data();
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
       integer(FIELD(relay.lowest_port), 1024, 65535)},
      {"relay.highest_port", "--highest-port",
       "Highest UDP port of allocations; the range must not contain relay.listen_port.",
       integer(FIELD(relay.highest_port), 1024, 65535)},
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
      {"quotas.max_allocations_per_username", "--max-allocations-per-username",
       "Allocations one user may hold, counting the ports its ended allocations still hold (RFC "
       "8656 §12, up to 5 minutes); usernames with the same salt (after the ':') are one user "
       "(0 = unlimited).",
       integer(FIELD(quotas.max_allocations_per_username), 0, UINT32_MAX)},
      {"quotas.max_allocations_per_client_ip", "--max-allocations-per-client-ip",
       "Allocations one client IP address may hold, held ports included (0 = unlimited).",
       integer(FIELD(quotas.max_allocations_per_client_ip), 0, UINT32_MAX)},
      {"quotas.max_allocations", "--max-allocations",
       "Allocations of the whole relay (0 = bounded only by the port range).",
       integer(FIELD(quotas.max_allocations), 0, UINT32_MAX)},
      {"quotas.max_channels_per_allocation", "--max-channels-per-allocation",
       "Channel bindings per allocation, at most dataplane.channel_table_capacity (0 = the 16384 "
       "RFC 8656 §12 allows).",
       integer(FIELD(quotas.max_channels_per_allocation), 0, 16384)},
      {"quotas.max_permissions_per_allocation", "--max-permissions-per-allocation",
       "Permissions per allocation, at most dataplane.permission_table_capacity (0 = unlimited).",
       integer(FIELD(quotas.max_permissions_per_allocation), 0, UINT32_MAX)},
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

// Names Firezone's relay reads, so an operator can swap this relay in and
// keep its environment. Each feeds one key, after translating the value into
// that key's form (nullopt: nothing in it for us); the key's own variable and
// flag win over it.
struct EnvAlias {
  std::string_view env;
  std::string_view path;
  std::optional<std::string> (*translate)(std::string_view value);
};

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

// "PORTAL_TOKEN" or "PORTAL_TOKEN, FIREZONE_TOKEN": what --help and the
// reference table name.
std::string env_names(const Key& key, std::string_view separator = ", ") {
  std::string names = env_name(key.flag);
  for (const auto& alias : env_aliases())
    if (alias.path == key.path) names.append(separator).append(alias.env);
  return names;
}

// ---------------------------------------------------------------------------
// Where each value came from, so an error line can point at it.

enum class Source : uint8_t { Default, File, Env, Flag };

struct Origin {
  Source source = Source::Default;
  std::string where;  // "FILE:LINE:COLUMN", "ENV_NAME" or "--flag"
};

// Keys and quoted TOML keys may hold anything; an error stays one line.
std::string printable(std::string_view s) {
  std::string out;
  log::append_json_escaped(out, s);
  return out;
}

std::string position(const std::string& file, const toml::source_region& r) {
  return file + ":" + std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
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

class Loader {
 public:
  Loader(std::string file, const EnvLookup& env) : file_(std::move(file)), env_(env) {}

  std::optional<std::string> read_file();
  std::optional<std::string> read_env();
  std::optional<std::string> read_flags(
      const std::map<const Key*, std::vector<std::string>>& flags);
  std::optional<std::string> check();
  RelayConfig finish();

 private:
  std::optional<std::string> read_table(const toml::table& table, const std::string& prefix);
  std::optional<std::string> read_value(const Key& key, const toml::node& node);
  // `env`: the variable read, when it is not the key's own (an EnvAlias).
  std::optional<std::string> apply_text(const Key& key, const std::vector<std::string>& items,
                                        Source source, std::string_view env = {});
  // The start of an error line about `path`, naming where its value came from.
  std::string at(std::string_view path) const;
  // Of keys that only together are wrong, the one the operator set last.
  std::string_view blame(std::initializer_list<std::string_view> paths) const;
  std::optional<std::string> check_addresses(FamilyDraft& fam, std::string_view family);
  std::optional<std::string> check_ports_and_lifetimes();
  std::optional<std::string> check_lcores();
  std::optional<std::string> check_dataplane();
  std::optional<std::string> check_portal();
  std::optional<std::string> check_auth();

  std::string file_;
  const EnvLookup& env_;
  Draft draft_;
  std::map<std::string, Origin, std::less<>> origins_;
};

std::string Loader::at(std::string_view path) const {
  auto it = origins_.find(path);
  Origin o = it == origins_.end() ? Origin{} : it->second;
  switch (o.source) {
    case Source::File:
      return o.where + ": " + std::string(path) + ": ";
    case Source::Env:
    case Source::Flag:
      return o.where + ": ";
    case Source::Default:
      break;
  }
  return file_.empty() ? std::string(path) + ": " : file_ + ": " + std::string(path) + ": ";
}

std::string_view Loader::blame(std::initializer_list<std::string_view> paths) const {
  std::string_view chosen = *paths.begin();
  Source best = Source::Default;
  for (auto p : paths) {
    auto it = origins_.find(p);
    auto s = it == origins_.end() ? Source::Default : it->second.source;
    if (s > best) {
      best = s;
      chosen = p;
    }
  }
  return chosen;
}

std::optional<std::string> Loader::read_file() {
  if (file_.empty()) return std::nullopt;
  std::ifstream in(file_, std::ios::binary);
  if (!in) return file_ + ": cannot open: " + std::strerror(errno);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    auto table = toml::parse(text, file_);
    return read_table(table, "");
  } catch (const toml::parse_error& e) {
    return position(file_, e.source()) + ": " + printable(e.description());
  }
}

std::optional<std::string> Loader::read_table(const toml::table& table, const std::string& prefix) {
  for (auto&& [k, node] : table) {
    std::string path = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (is_table(path)) {
      if (const auto* sub = node.as_table()) {
        if (auto e = read_table(*sub, path)) return e;
        continue;
      }
      return position(file_, node.source()) + ": " + printable(path) + ": expected a table, got " +
             std::string(toml_type_name(node.type()));
    }
    const Key* key = find_key(path);
    if (key == nullptr)
      return position(file_, k.source()) + ": " + printable(path) + ": unknown key";
    if (auto e = read_value(*key, node)) return e;
  }
  return std::nullopt;
}

std::optional<std::string> Loader::read_value(const Key& key, const toml::node& node) {
  std::string path(key.path);
  auto in = input_from_toml(key.behaviour.kind, node);
  if (!in)
    return position(file_, in.error().where->source()) + ": " + path + ": " + in.error().what;
  if (auto p = key.behaviour.apply(draft_, *in)) {
    const toml::node* where = &node;
    if (p->item && node.is_array()) where = node.as_array()->get(*p->item);
    return position(file_, where->source()) + ": " + path + ": " + p->what;
  }
  origins_[path] = Origin{Source::File, position(file_, node.source())};
  return std::nullopt;
}

std::optional<std::string> Loader::apply_text(const Key& key, const std::vector<std::string>& items,
                                              Source source, std::string_view env) {
  std::string where = source == Source::Flag ? std::string(key.flag)
                      : env.empty()            ? env_name(key.flag)
                                               : std::string(env);
  auto in = input_from_text(key.behaviour.kind, items, source == Source::Env);
  if (!in) return where + ": " + in.error();
  if (auto p = key.behaviour.apply(draft_, *in)) return where + ": " + p->what;
  origins_[std::string(key.path)] = Origin{source, where};
  return std::nullopt;
}

std::optional<std::string> Loader::read_env() {
  for (const auto& alias : env_aliases()) {
    auto value = env_(alias.env);
    auto translated = value ? alias.translate(*value) : std::nullopt;
    if (!translated) continue;
    if (auto e = apply_text(*find_key(alias.path), {*translated}, Source::Env, alias.env)) return e;
  }
  for (const auto& key : schema()) {
    auto value = env_(env_name(key.flag));
    if (!value) continue;
    if (auto e = apply_text(key, {*value}, Source::Env)) return e;
  }
  return std::nullopt;
}

std::optional<std::string> Loader::read_flags(
    const std::map<const Key*, std::vector<std::string>>& flags) {
  for (const auto& key : schema()) {
    auto it = flags.find(&key);
    if (it == flags.end() || it->second.empty()) continue;
    if (auto e = apply_text(key, it->second, Source::Flag)) return e;
  }
  return std::nullopt;
}

std::optional<std::string> Loader::check() {
  auto& d = draft_;
  if (!d.v4.address && !d.v6.address)
    return at("relay.ipv4.address") +
           "no relay address: set relay.ipv4.address or relay.ipv6.address (or both)";
  if (auto e = check_addresses(d.v4, "ipv4")) return e;
  if (auto e = check_addresses(d.v6, "ipv6")) return e;
  if (auto e = check_ports_and_lifetimes()) return e;
  if (auto e = check_lcores()) return e;
  if (auto e = check_dataplane()) return e;
  if (auto e = check_portal()) return e;
  return check_auth();
}

std::optional<std::string> Loader::check_addresses(FamilyDraft& fam, std::string_view family) {
  std::string prefix = "relay." + std::string(family) + ".";
  std::string address_key = prefix + "address";
  std::string gateway_key = prefix + "gateway";
  std::string public_key = prefix + "public_address";
  if (!fam.address) {
    if (fam.gateway) return at(gateway_key) + "needs " + address_key;
    if (fam.public_address) return at(public_key) + "needs " + address_key;
    return std::nullopt;
  }
  if (!fam.gateway) return std::nullopt;
  auto subnet = *Cidr::parse(fam.address->to_string() + "/" + std::to_string(fam.prefix_len));
  if (!subnet.contains(*fam.gateway))
    return at(blame({gateway_key, address_key})) + "gateway " + fam.gateway->to_string() +
           " is not inside " + subnet.to_string() + " (" + address_key + ")";
  if (*fam.gateway == *fam.address)
    return at(blame({gateway_key, address_key})) + "gateway " + fam.gateway->to_string() +
           " is the relay's own address";
  return std::nullopt;
}

std::optional<std::string> Loader::check_ports_and_lifetimes() {
  const auto& r = draft_.cfg.relay;
  auto range = std::to_string(r.lowest_port) + ".." + std::to_string(r.highest_port);
  if (r.lowest_port > r.highest_port)
    return at(blame({"relay.lowest_port", "relay.highest_port"})) + "the allocation port range " +
           range + " is empty (relay.lowest_port > relay.highest_port)";
  if (r.listen_port >= r.lowest_port && r.listen_port <= r.highest_port)
    return at(blame({"relay.listen_port", "relay.lowest_port", "relay.highest_port"})) +
           "relay.listen_port " + std::to_string(r.listen_port) +
           " lies inside the allocation port range " + range;
  if (r.allocation_lifetime > r.max_allocation_lifetime)
    return at(blame({"relay.allocation_lifetime", "relay.max_allocation_lifetime"})) +
           "relay.allocation_lifetime " + std::to_string(r.allocation_lifetime.count()) +
           " exceeds relay.max_allocation_lifetime " +
           std::to_string(r.max_allocation_lifetime.count());
  return std::nullopt;
}

std::optional<std::string> Loader::check_lcores() {
  const auto& eal = draft_.cfg.eal;
  auto has = [&](uint32_t id) {
    return std::binary_search(eal.lcore_ids.begin(), eal.lcore_ids.end(), id);
  };
  if (eal.main_lcore && !has(*eal.main_lcore))
    return at(blame({"eal.main_lcore", "eal.lcores"})) + "main lcore " +
           std::to_string(*eal.main_lcore) + " is not in eal.lcores \"" + eal.lcores + "\"";
  for (auto id : draft_.workers.value_or(std::vector<uint32_t>{})) {
    if (!has(id))
      return at(blame({"dataplane.worker_lcores", "eal.lcores"})) + "worker lcore " +
             std::to_string(id) + " is not in eal.lcores \"" + eal.lcores + "\"";
  }
  return std::nullopt;
}

std::optional<std::string> Loader::check_dataplane() {
  const auto& dp = draft_.cfg.dataplane;
  // A worker refills a whole burst from its cache; a smaller cache would
  // go to the shared ring on every burst.
  if (dp.mbuf_cache < dp.burst_size)
    return at(blame({"dataplane.mbuf_cache", "dataplane.burst_size"})) + "dataplane.mbuf_cache " +
           std::to_string(dp.mbuf_cache) + " is smaller than dataplane.burst_size " +
           std::to_string(dp.burst_size);
  // rte_mempool_create refuses a cache larger than n / 1.5.
  if (uint64_t{dp.mbuf_cache} * 3 > uint64_t{dp.mempool_size} * 2)
    return at(blame({"dataplane.mbuf_cache", "dataplane.mempool_size"})) + "dataplane.mbuf_cache " +
           std::to_string(dp.mbuf_cache) + " exceeds dataplane.mempool_size / 1.5 (" +
           std::to_string(dp.mempool_size) + " mbufs)";
  // Capacity is one number: the control plane grants no more channels and
  // permissions than these tables hold, so a per-allocation quota above
  // them could never be reached (0 leaves the tables the only bound).
  const auto& q = draft_.cfg.quotas;
  auto above = [&](std::string_view quota, uint32_t value, std::string_view table, uint32_t capacity) {
    return at(blame({quota, table})) + std::string(quota) + " " + std::to_string(value) + " exceeds " +
           std::string(table) + " " + std::to_string(capacity) +
           ": lower the quota or raise the table (every worker holds them all)";
  };
  if (q.max_channels_per_allocation > dp.channel_table_capacity)
    return above("quotas.max_channels_per_allocation", q.max_channels_per_allocation,
                 "dataplane.channel_table_capacity", dp.channel_table_capacity);
  if (q.max_permissions_per_allocation > dp.permission_table_capacity)
    return above("quotas.max_permissions_per_allocation", q.max_permissions_per_allocation,
                 "dataplane.permission_table_capacity", dp.permission_table_capacity);
  return std::nullopt;
}

std::optional<std::string> Loader::check_portal() {
  const auto& p = draft_.cfg.portal;
  if (!p.ws_url) return std::nullopt;
  if (!p.token)
    return at(blame({"portal.token", "portal.ws_url"})) + "portal.ws_url needs portal.token";
  if (p.ws_url->starts_with("ws://") && !p.allow_insecure_ws)
    return at(blame({"portal.ws_url", "portal.allow_insecure_ws"})) +
           "ws:// would send the token in clear text: use wss:// or set portal.allow_insecure_ws";
  return std::nullopt;
}

// A secret file is read once, here, so both processes see the same value and a
// bad file stops the start like any other key. Bounded: a path such as
// /dev/zero must not hang the loader. The error names the file, never its
// contents.
Result<std::string, std::string> read_secret_file(const std::string& path) {
  constexpr size_t kMaxSecretBytes = 4096;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Err{"cannot read " + shown(path) + ": " + std::strerror(errno)};
  std::string secret;
  std::array<char, 512> buf{};
  while (secret.size() <= kMaxSecretBytes) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return Err{"cannot read " + shown(path) + ": " + std::strerror(error)};
    }
    if (n == 0) break;
    secret.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  if (secret.size() > kMaxSecretBytes)
    return Err{shown(path) + " is longer than " + std::to_string(kMaxSecretBytes) + " bytes"};
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) return Err{shown(path) + " is empty"};
  return secret;
}

std::optional<std::string> Loader::check_auth() {
  auto& r = draft_.cfg.relay;
  const bool listed = origins_.contains("relay.auth.secrets");
  if (listed + draft_.auth_secret.has_value() + r.auth_secret_file.has_value() > 1)
    return at(blame({"relay.auth_secret_file", "relay.auth_secret", "relay.auth.secrets"})) +
           "relay.auth.secrets, relay.auth_secret and relay.auth_secret_file each give the secrets: keep one";
  if (listed && r.auth.secrets.empty()) return at("relay.auth.secrets") + "an empty list: give at least one secret";
  if (draft_.auth_secret) r.auth.secrets = {*draft_.auth_secret};
  if (r.auth_secret_file) {
    auto text = read_secret_file(*r.auth_secret_file);
    if (!text) return at("relay.auth_secret_file") + text.error();
    size_t line_number = 0;
    for (std::string_view rest = *text; !rest.empty();) {
      const auto line = rest.substr(0, rest.find('\n'));
      rest.remove_prefix(std::min(rest.size(), line.size() + 1));
      ++line_number;
      if (line.empty() || line == "\r") continue;
      const auto secret = line.ends_with('\r') ? line.substr(0, line.size() - 1) : line;
      if (auto p = valid_secret(secret))
        return at("relay.auth_secret_file") + shown(*r.auth_secret_file) + " line " + std::to_string(line_number) +
               ": " + p->what;
      r.auth.secrets.emplace_back(secret);
    }
  }
  const auto scheme = r.auth.scheme;
  if (scheme == AuthScheme::Rest && r.auth.secrets.empty())
    return at("relay.auth.scheme") + "rest needs relay.auth.secrets (or relay.auth_secret_file)";
  if (scheme == AuthScheme::Static && !r.auth.users_file)
    return at("relay.auth.scheme") + "static needs relay.auth.users_file";
  if (scheme != AuthScheme::Static && r.auth.users_file)
    return at(blame({"relay.auth.users_file", "relay.auth.scheme"})) +
           "relay.auth.users_file is read only with relay.auth.scheme = static";
  if (scheme != AuthScheme::Firezone && draft_.cfg.portal.ws_url)
    return at(blame({"relay.auth.scheme", "portal.ws_url"})) +
           "a portal mints firezone credentials: relay.auth.scheme must be firezone";
  return std::nullopt;
}

RelayConfig Loader::finish() {
  auto& d = draft_;
  auto family = [](const FamilyDraft& f) -> std::optional<RelayAddress> {
    if (!f.address) return std::nullopt;
    return RelayAddress{*f.address, f.prefix_len, f.gateway, f.public_address};
  };
  d.cfg.relay.ipv4 = family(d.v4);
  d.cfg.relay.ipv6 = family(d.v6);
  auto main = d.cfg.eal.effective_main_lcore();
  if (d.workers) {
    d.cfg.dataplane.worker_lcores = *d.workers;
  } else {
    for (auto id : d.cfg.eal.lcore_ids)
      if (id != main) d.cfg.dataplane.worker_lcores.push_back(id);
    if (d.cfg.dataplane.worker_lcores.empty()) d.cfg.dataplane.worker_lcores.push_back(main);
  }
  d.cfg.source = file_;
  return std::move(d.cfg);
}

// ---------------------------------------------------------------------------
// The command line: every key is a flag; CLI11 only collects the text and
// prints --help, the values go through the same checks as the file's.

std::string_view type_label(Kind kind) {
  switch (kind) {
    case Kind::Bool:
      return "BOOL";
    case Kind::Int:
      return "INT";
    case Kind::String:
      return "TEXT";
    case Kind::StringList:
      return "TEXT ...";
    case Kind::IntList:
      return "INT ...";
  }
  return "";
}

std::string default_text(const Key& key) {
  if (key.secret) return "";
  Draft defaults;
  return key.behaviour.show(defaults);
}

std::string option_text(const Key& key) {
  std::string text = " " + std::string(type_label(key.behaviour.kind));
  auto def = default_text(key);
  if (!def.empty()) text += " [" + def + "]";
  return text + " (env: " + env_names(key) + ")";
}

struct CommandLine {
  bool version = false;
  bool check = false;
  std::optional<std::string> config;
  std::map<const Key*, std::vector<std::string>> values;
};

void add_options(CLI::App& app, std::map<const Key*, CLI::Option*>& options) {
  for (const auto& key : schema()) {
    std::string section(key.path.substr(0, key.path.find('.')));
    CLI::Option* opt = nullptr;
    if (key.behaviour.kind == Kind::Bool) {
      opt = app.add_flag(std::string(key.flag));
    } else {
      opt = app.add_option(std::string(key.flag));
    }
    opt->description(std::string(key.help));
    bool list = key.behaviour.kind == Kind::StringList || key.behaviour.kind == Kind::IntList;
    opt->multi_option_policy(list ? CLI::MultiOptionPolicy::TakeAll
                                  : CLI::MultiOptionPolicy::TakeLast);
    opt->type_name(std::string(type_label(key.behaviour.kind)));
    opt->group("[" + section + "]")->option_text(option_text(key));
    options[&key] = opt;
  }
}

// The first thing CLI11 did not consume, as an error line. A value glued
// to an unknown flag is cut off: it may be a mistyped secret.
std::string unexpected(const std::string& arg) {
  if (arg.starts_with("-")) return printable(arg.substr(0, arg.find('='))) + ": unknown flag";
  return shown(arg) + ": unexpected argument (every setting is a --flag)";
}

Result<CommandLine, ConfigError> parse_command_line(int argc, const char* const* argv,
                                                    std::string_view program) {
  CLI::App app{
      "A STUN/TURN relay on DPDK. Every setting comes from, in order of precedence, a "
      "--flag, an environment variable, the TOML file named by --config, or its default.",
      std::string(program)};
  app.allow_extras();
  app.get_formatter()->column_width(46);
  auto* config = app.add_option("--config")
                     ->description("The TOML configuration file.")
                     ->option_text(" FILE (env: CONFIG)");
  auto* version = app.add_flag("--version")->description("Print the version, git revision and DPDK version; exit.");
  auto* check = app.add_flag("--check")->description(
      "Check the configuration as a start would (every key, the secret and users files), print \"ok\" and "
      "exit 0, or the error and exit 2; starts nothing.");
  std::map<const Key*, CLI::Option*> options;
  add_options(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return Err{ConfigError{ConfigError::Kind::HelpRequested, app.help()}};
  } catch (const CLI::ParseError& e) {
    return Err{ConfigError{ConfigError::Kind::Invalid, printable(e.what())}};
  }
  if (!app.remaining().empty())
    return Err{ConfigError{ConfigError::Kind::Invalid, unexpected(app.remaining().front())}};
  CommandLine line;
  line.version = version->count() > 0;
  line.check = check->count() > 0;
  if (config->count() > 0) line.config = config->results().back();
  for (auto [key, opt] : options) {
    if (opt->count() > 0) line.values[key] = opt->results();
  }
  return line;
}

}  // namespace

Result<RelayConfig, ConfigError> load_config(int argc, const char* const* argv,
                                             std::string_view program, const EnvLookup& env) {
  auto line = parse_command_line(argc, argv, program);
  if (!line) return Err{line.error()};
  if (line->version) return Err{ConfigError{ConfigError::Kind::VersionRequested, std::string(program)}};
  auto file = line->config ? line->config : env("CONFIG");
  if (file && file->empty()) file.reset();
  Loader loader(file.value_or(""), env);
  auto invalid = [](std::string message) {
    return Err{ConfigError{ConfigError::Kind::Invalid, std::move(message)}};
  };
  if (auto e = loader.read_file()) return invalid(*e);
  if (auto e = loader.read_env()) return invalid(*e);
  if (auto e = loader.read_flags(line->values)) return invalid(*e);
  if (auto e = loader.check()) return invalid(*e);
  RelayConfig config = loader.finish();
  config.check_only = line->check;
  return config;
}

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

int report(const ConfigError& error, const BuildInfo& build) {
  if (error.kind == ConfigError::Kind::HelpRequested) {
    std::fputs(error.message.c_str(), stdout);
  } else if (error.kind == ConfigError::Kind::VersionRequested) {
    std::printf("%s\n", version_line(error.message, build).c_str());
  } else {
    std::fprintf(stderr, "%s\n", error.message.c_str());
  }
  return error.exit_status();
}

Cidr RelayAddress::subnet() const {
  return *Cidr::parse(address.to_string() + "/" + std::to_string(prefix_len));
}

uint32_t EalSection::effective_main_lcore() const {
  if (main_lcore) return *main_lcore;
  return lcore_ids.empty() ? 0 : lcore_ids.front();
}

std::vector<std::string> eal_arguments(const RelayConfig& config, EalRole role,
                                       std::string_view program) {
  const auto& eal = config.eal;
  std::vector<std::string> args{std::string(program)};
  auto add = [&](std::initializer_list<std::string> more) { args.insert(args.end(), more); };
  if (role == EalRole::Dataplane) {
    add({"-l", eal.lcores});
    if (eal.main_lcore) add({"--main-lcore", std::to_string(*eal.main_lcore)});
    add({"--file-prefix", eal.file_prefix, "--proc-type=primary"});
    if (eal.pci_allowlist.empty()) add({"--no-pci"});
    for (const auto& pci : eal.pci_allowlist) add({"-a", pci});
    for (const auto& vdev : eal.vdevs) add({"--vdev", vdev});
    if (eal.memory_mb > 0) add({"-m", std::to_string(eal.memory_mb)});
  } else {
    // The control plane only uses rings and memory the primary made; it
    // never probes a device, whatever the allowlist says.
    add({"-l", std::to_string(eal.effective_main_lcore()), "--file-prefix", eal.file_prefix,
         "--proc-type=secondary", "--no-pci"});
  }
  if (!eal.huge_pages) add({"--no-huge"});
  args.insert(args.end(), eal.extra_args.begin(), eal.extra_args.end());
  return args;
}

std::vector<char*> as_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);  // C's argv[argc] convention
  return argv;
}

Result<std::string, std::string> generate_auth_secret(std::optional<uint64_t> rng_seed) {
  std::array<uint8_t, 32> bytes{};
  if (rng_seed) {
    uint64_t state = *rng_seed ^ 0x61757468'73656372ull;  // "authsecr"
    for (size_t i = 0; i < bytes.size(); i += 8) {
      uint64_t v = splitmix64(state);
      for (size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<uint8_t>(v >> (8 * k));
    }
  } else {
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Err{std::string("getrandom: ") + std::strerror(errno)};
      got += static_cast<size_t>(n);
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (auto b : bytes) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xF];
  }
  return hex;
}

int report_checked(const RelayConfig& config) {
  std::printf("%s: ok\n", config.source.empty() ? "flags and environment" : config.source.c_str());
  return 0;
}

std::string admin_socket_path(const RelayConfig& config) {
  return config.admin.socket.value_or("/run/turn-relay/" + config.eal.file_prefix + ".sock");
}

std::vector<Setting> effective_settings(const RelayConfig& config, bool reveal_secrets) {
  Draft d;
  d.cfg = config;
  auto family = [](const std::optional<RelayAddress>& a) {
    if (!a) return FamilyDraft{};
    return FamilyDraft{a->address, a->prefix_len, a->gateway, a->public_address};
  };
  d.v4 = family(config.relay.ipv4);
  d.v6 = family(config.relay.ipv6);
  d.workers = config.dataplane.worker_lcores;
  std::vector<Setting> out;
  out.reserve(schema().size());
  for (const auto& key : schema()) {
    std::string value = key.behaviour.show(d);
    if (key.secret && !value.empty() && !reveal_secrets) value = "<redacted>";
    out.push_back({std::string(key.path), std::move(value)});
  }
  return out;
}

std::string config_reference_markdown() {
  auto cell = [](std::string_view s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string md =
      "| TOML key | flag | env variable | default | meaning |\n"
      "|---|---|---|---|---|\n"
      "| — | `--config` | `CONFIG` | — | The TOML file to read. Without it, flags, environment "
      "and defaults alone. |\n";
  for (const auto& key : schema()) {
    auto def = default_text(key);
    md += "| `" + std::string(key.path) + "` | `" + std::string(key.flag) + "` | `" + env_names(key, "`, `") +
          "` | " + (def.empty() ? "—" : "`" + cell(def) + "`") + " | " +
          cell(key.help) + " |\n";
  }
  return md;
}

}  // namespace relay
