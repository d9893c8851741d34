// portal-probe: runs PortalClient against a portal URL and prints every
// connection attempt, session event and log line as one JSON object per line
// with a CLOCK_MONOTONIC timestamp ("t", seconds), then exits after --seconds.
// A test harness for tests/e2e/portal; not installed.
//
// The --heartbeat-ms, --join-timeout-ms, --backoff-*-ms, --healthy-after-ms and
// --connect-timeout-ms options shorten the production timings (10 s heartbeat,
// 5 s join timeout, 1 s..60 s backoff) so that most scenarios run in seconds.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <random>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "controlplane/portal/portal_client.hpp"

namespace {

using namespace relay;
using namespace relay::portal;

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void print(nlohmann::ordered_json line) {
  nlohmann::ordered_json out;
  out["t"] = monotonic_seconds();
  out.update(line);
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

int64_t ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

void print_event(const SessionEvent& event) {
  if (std::holds_alternative<Joined>(event)) {
    print({{"type", "joined"}});
  } else if (auto* failed = std::get_if<JoinFailed>(&event)) {
    print({{"type", "join_failed"}, {"reason", failed->reason}});
  } else if (auto* init = std::get_if<Init>(&event)) {
    print({{"type", "init"}, {"payload", init->payload}});
  } else if (auto* gone = std::get_if<Disconnected>(&event)) {
    print({{"type", "disconnected"}, {"reason", gone->reason}, {"retry_in_ms", ms(gone->retry_in)}});
  }
}

void print_log(LogLevel level, std::string_view message, std::span<const LogField> fields) {
  nlohmann::ordered_json f = nlohmann::ordered_json::object();
  for (const auto& field : fields) f[std::string(field.key)] = field.value;
  print({{"type", "log"}, {"level", to_string(level)}, {"message", message}, {"fields", f}});
}

std::optional<IpAddress> parse_ip(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return IpAddress::parse(text);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Connects to a portal and prints what happens as JSON lines"};
  PortalConfig config;
  std::string ipv4;
  std::string ipv6;
  std::string ca_file;
  double seconds = 5;
  int64_t heartbeat_ms = 10'000;
  int64_t join_timeout_ms = 5'000;
  uint32_t max_unanswered = 3;
  std::string placement = "both";
  int64_t backoff_base_ms = 1'000;
  int64_t backoff_cap_ms = 60'000;
  int64_t healthy_after_ms = 60'000;
  int64_t connect_timeout_ms = 10'000;
  std::optional<uint64_t> seed;
  app.add_option("--url", config.ws_url, "portal WebSocket base URL")->required();
  app.add_option("--token", config.token, "portal token");
  app.add_option("--stamp-secret", config.stamp_secret, "the relay's auth secret");
  app.add_option("--ipv4", ipv4, "public IPv4 address");
  app.add_option("--ipv6", ipv6, "public IPv6 address");
  app.add_option("--ca-file", ca_file, "extra trusted CA (PEM)");
  app.add_option("--port", config.relay.listen_port, "the relay's listen port");
  app.add_option("--name", config.relay.name, "the relay's name");
  app.add_option("--token-placement", placement, "header, query or both")
      ->check(CLI::IsMember({"header", "query", "both"}));
  app.add_flag("--allow-insecure-ws", config.allow_insecure_ws, "accept ws:// URLs");
  app.add_option("--seconds", seconds, "exit after this many seconds");
  app.add_option("--heartbeat-ms", heartbeat_ms)->group("");
  app.add_option("--join-timeout-ms", join_timeout_ms)->group("");
  app.add_option("--max-unanswered-heartbeats", max_unanswered)->group("");
  app.add_option("--backoff-base-ms", backoff_base_ms)->group("");
  app.add_option("--backoff-cap-ms", backoff_cap_ms)->group("");
  app.add_option("--healthy-after-ms", healthy_after_ms)->group("");
  app.add_option("--connect-timeout-ms", connect_timeout_ms)->group("");
  app.add_option("--seed", seed, "seed of the backoff jitter")->group("");
  CLI11_PARSE(app, argc, argv);

  config.relay.public_ip4 = parse_ip(ipv4);
  config.relay.public_ip6 = parse_ip(ipv6);
  if ((!ipv4.empty() && !config.relay.public_ip4) || (!ipv6.empty() && !config.relay.public_ip6)) {
    print({{"type", "setup_error"}, {"message", "--ipv4/--ipv6 is not an IP address"}});
    return 2;
  }
  if (!ca_file.empty()) config.ca_file = ca_file;
  config.token_placement = placement == "header" ? TokenPlacement::Header
                           : placement == "query" ? TokenPlacement::Query
                                                  : TokenPlacement::Both;

  PortalTiming timing;
  timing.session.heartbeat_interval = std::chrono::milliseconds{heartbeat_ms};
  timing.session.join_timeout = std::chrono::milliseconds{join_timeout_ms};
  timing.session.max_unanswered_heartbeats = max_unanswered;
  timing.session.backoff_base = std::chrono::milliseconds{backoff_base_ms};
  timing.session.backoff_cap = std::chrono::milliseconds{backoff_cap_ms};
  timing.session.healthy_after = std::chrono::milliseconds{healthy_after_ms};
  timing.connect_timeout = std::chrono::milliseconds{connect_timeout_ms};

  PortalClient::Random random;
  if (seed) random = [engine = std::mt19937_64{*seed}]() mutable { return engine(); };

  boost::asio::io_context io;
  PortalHandlers handlers{
      print_event,
      [](const ConnectAttempt& attempt) {
        print({{"type", "attempt"}, {"number", attempt.number}, {"url", attempt.redacted_url}});
      },
      print_log,
  };
  auto client = PortalClient::create(io, config, timing, handlers, random);
  if (!client) {
    print({{"type", "setup_error"}, {"message", client.error().message}});
    return 2;
  }
  (*client)->start();

  boost::asio::steady_timer deadline(io, std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::chrono::duration<double>(seconds)));
  deadline.async_wait([&](boost::system::error_code) {
    (*client)->stop();
    print({{"type", "exit"}});
    // Give the close handshake a moment, then leave whatever is still pending.
    deadline.expires_after(std::chrono::milliseconds{300});
    deadline.async_wait([&](boost::system::error_code) { io.stop(); });
  });
  io.run();
  return 0;
}
