#include "tests/bench/turn_client/options.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

namespace relay::loadgen {

namespace {

constexpr std::string_view kUsage =
    " --relay IP:PORT --client-ip IP --peer IP[:PORT] --secret S\n"
    "         [--clients N] [--rate PPS] [--duration-ms MS] [--drain-ms MS] [--payload BYTES]\n"
    "         [--auth firezone|rest] [--rest-user NAME] [--realm R] [--mode echo|count] [--label TEXT]\n";

std::string usage(std::string_view program, const ExtraFlags& extra) {
  return "usage: " + std::string(program) + std::string(kUsage) + std::string(extra.usage) +
         "  The secret may also come from the environment variable AUTH_SECRET.\n";
}

std::optional<SocketAddress> parse_peer(std::string_view text) {
  if (auto full = SocketAddress::parse(text)) return full;
  if (auto ip = IpAddress::parse(text)) return SocketAddress{*ip, 0};
  return std::nullopt;
}

}  // namespace

Result<Options, std::string> parse_options(int argc, char** argv, std::string_view program, const ExtraFlags& extra) {
  Options o;
  if (const char* env = std::getenv("AUTH_SECRET")) o.secret = env;
  bool have_relay = false, have_client = false, have_peer = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") return Err{usage(program, extra)};
    if (i + 1 >= argc) return Err{std::string(flag) + " needs a value"};
    const std::string_view v = argv[++i];
    bool ok = true;
    uint64_t n = 0;
    if (flag == "--relay") {
      auto a = SocketAddress::parse(v);
      ok = a.has_value();
      if (ok) o.relay = *a, have_relay = true;
    } else if (flag == "--client-ip") {
      auto a = IpAddress::parse(v);
      ok = a.has_value();
      if (ok) o.client_ip = *a, have_client = true;
    } else if (flag == "--peer") {
      auto a = parse_peer(v);
      ok = a.has_value();
      if (ok) o.peer = *a, have_peer = true;
    } else if (flag == "--clients") {
      ok = parse_number(v, o.clients) && o.clients >= 1 && o.clients <= 16384;
    } else if (flag == "--rate") {
      ok = parse_number(v, o.rate_pps) && o.rate_pps >= 1 && o.rate_pps <= 100'000'000;
    } else if (flag == "--duration-ms") {
      ok = parse_number(v, n) && n >= 1 && std::chrono::milliseconds(n) <= kMaxDuration;
      o.duration = std::chrono::milliseconds(n);
    } else if (flag == "--drain-ms") {
      ok = parse_number(v, n) && n <= 10'000;
      o.drain = std::chrono::milliseconds(n);
    } else if (flag == "--payload") {
      // Room for the sequence number, timestamp and client index; below
      // 1472 so that a v4 datagram with its 4-byte header is not fragmented.
      ok = parse_number(v, o.payload_bytes) && o.payload_bytes >= 20 && o.payload_bytes <= 1400;
    } else if (flag == "--auth") {
      ok = v == "firezone" || v == "rest";
      o.auth = v == "rest" ? AuthScheme::RestApi : AuthScheme::Firezone;
    } else if (flag == "--mode") {
      ok = v == "echo" || v == "count";
      o.mode = v == "count" ? PeerMode::Count : PeerMode::Echo;
    } else if (flag == "--secret") {
      o.secret = v;
    } else if (flag == "--realm") {
      o.realm = v;
    } else if (flag == "--rest-user") {
      o.rest_user = v;
    } else if (flag == "--label") {
      // Copied into the JSON line unescaped, so only plain characters.
      ok = std::ranges::all_of(v, [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == ':'; });
      o.label = v;
    } else if (auto taken = extra.parse ? extra.parse(flag, v) : std::nullopt) {
      ok = *taken;
    } else {
      return Err{"unknown flag " + std::string(flag) + "\n" + usage(program, extra)};
    }
    if (!ok) return Err{"bad value for " + std::string(flag) + ": " + std::string(v)};
  }
  if (!have_relay || !have_client || !have_peer) return Err{"--relay, --client-ip and --peer are required\n" + usage(program, extra)};
  if (o.secret.empty()) return Err{std::string("a secret is required (--secret or AUTH_SECRET)")};
  if (o.relay.family() != o.client_ip.family || o.peer.family() != o.client_ip.family)
    return Err{std::string("relay, clients and peer must share one address family")};
  return o;
}

}  // namespace relay::loadgen
