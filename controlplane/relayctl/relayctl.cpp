// relayctl: the operator's tool for a running relay. It speaks one JSON
// request per connection to the control plane's admin socket
// (controlplane/process/admin_commands.hpp) and prints the answer as a
// table, or as it came with --json.
//
//   relayctl status
//   relayctl allocations [--user U] [--client IP[:PORT]]
//   relayctl kill --user U | --client IP[:PORT] | --port N
//   relayctl drain [--deadline S] | drain --cancel
//   relayctl reload
//   relayctl credentials --user U [--lifetime S]
//   relayctl config
//
// The socket: --socket, else admin.socket of the relay's configuration
// (--config, CONFIG, else /etc/turn-relay/relay.toml when it exists),
// else /run/turn-relay/relay.sock. Exit status: 0 done, 1 the relay refused
// or is not running (one line says which), 2 a usage error.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/config.hpp"
#include "controlplane/relayctl/render.hpp"

namespace relay::relayctl {
namespace {

using nlohmann::json;

constexpr const char* kDefaultConfig = "/etc/turn-relay/relay.toml";
constexpr int kTimeoutSeconds = 30;

struct Failure {
  std::string message;
};

// The relay's admin socket, found as the relay itself would name it.
std::string socket_path(const std::optional<std::string>& socket, std::optional<std::string> config_file) {
  if (socket) return *socket;
  const EnvLookup env = process_environment();
  if (!config_file) config_file = env("CONFIG");
  if (!config_file && std::filesystem::exists(kDefaultConfig)) config_file = kDefaultConfig;
  if (!config_file) return admin_socket_path(RelayConfig{});
  std::vector<const char*> argv = {"relayctl", "--config", config_file->c_str()};
  // Only eal.file_prefix and admin.socket matter here: the relay's
  // environment file (its secrets, its scheme) is not relayctl's.
  auto loaded = load_config(static_cast<int>(argv.size()), argv.data(), "relayctl", env, Validation::KeysOnly);
  if (!loaded) throw Failure{loaded.error().message + " (or name the socket with --socket)"};
  return admin_socket_path(loaded.value());
}

std::string exchange(const std::string& path, const json& request) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) throw Failure{path + ": too long for a unix socket path"};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw Failure{std::string("socket: ") + std::strerror(errno)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  const timeval timeout{kTimeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const int e = errno;
    if (e == ENOENT || e == ECONNREFUSED)
      throw Failure{"no relay is running here: nothing answers on " + path + " (" + std::strerror(e) + ")"};
    if (e == EACCES) throw Failure{path + ": permission denied: relayctl needs root (or the relay's own user)"};
    throw Failure{path + ": " + std::strerror(e)};
  }
  const std::string line = request.dump() + "\n";
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw Failure{path + ": the relay closed the connection: " + std::strerror(errno)};
    sent += static_cast<size_t>(n);
  }
  std::string answer;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Failure{path + ": no answer from the relay: " + std::strerror(errno)};
    }
    answer.append(buffer, static_cast<size_t>(n));
  }
  if (answer.empty()) throw Failure{path + ": the relay closed the connection without an answer"};
  return answer;
}

int run(int argc, char** argv) {
  CLI::App app{"Operate a running turn-relay through its control plane's admin socket.", "relayctl"};
  app.require_subcommand(1);
  std::optional<std::string> socket, config;
  bool as_json = false;
  app.add_option("--socket", socket, "The admin socket (default: admin.socket of the relay's configuration).");
  app.add_option("--config", config, "The relay's TOML file, to find its admin socket (env: CONFIG).");
  app.add_flag("--json", as_json, "Print the relay's answer as JSON.");

  json request;
  std::optional<std::string> user, client;
  std::optional<uint32_t> port, deadline, lifetime;
  bool cancel = false;
  app.add_subcommand("status", "Version, uptime, readiness, drain state, counts.");
  auto* allocations = app.add_subcommand("allocations", "The allocations, filtered by user and client.");
  allocations->add_option("--user", user, "Only this user's (the username's user part).");
  allocations->add_option("--client", client, "Only this client: IP (every port) or IP:PORT.");
  auto* kill = app.add_subcommand("kill", "End the allocations of a user, a client or a relay port.");
  auto* kill_target = kill->add_option_group("target")->require_option(1);
  kill_target->add_option("--user", user, "Every allocation of this user.");
  kill_target->add_option("--client", client, "Every allocation of this client: IP or IP:PORT.");
  kill_target->add_option("--port", port, "The allocation on this relay port.")->check(CLI::Range(1, 65535));
  auto* drain = app.add_subcommand("drain", "Refuse new allocations (508); serve existing ones until they end.");
  drain->add_option("--deadline", deadline, "Seconds after which the remaining allocations are ended.")
      ->check(CLI::Range(0, 7 * 86400));
  drain->add_flag("--cancel", cancel, "Accept new allocations again.");
  app.add_subcommand("reload", "Apply the configuration's live keys, as SIGHUP does.");
  auto* credentials = app.add_subcommand("credentials", "Mint a credential of the configured scheme, for tests.");
  credentials->add_option("--user", user, "The user part of the username.")->required();
  credentials->add_option("--lifetime", lifetime, "Seconds the credential is good for (default 3600).")
      ->check(CLI::Range(1, 86400));
  app.add_subcommand("config", "The effective configuration, secrets redacted.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  CLI::App* chosen = app.get_subcommands().front();
  request["command"] = chosen->get_name();
  if (user) request["user"] = *user;
  if (client) request["client"] = *client;
  if (port) request["port"] = *port;
  if (deadline) request["deadline_seconds"] = *deadline;
  if (lifetime) request["lifetime"] = *lifetime;
  if (cancel) request["cancel"] = true;

  try {
    const json answer = json::parse(exchange(socket_path(socket, config), request), nullptr, false);
    if (answer.is_discarded() || !answer.is_object()) throw Failure{"the relay's answer is not JSON"};
    if (as_json) {
      std::printf("%s\n", answer.dump(2).c_str());
    } else if (answer.value("ok", false)) {
      std::fputs(render(chosen->get_name(), answer).c_str(), stdout);
    }
    if (!answer.value("ok", false)) throw Failure{answer.value("error", std::string("the relay refused"))};
    return succeeded(chosen->get_name(), answer) ? 0 : 1;
  } catch (const Failure& f) {
    std::fprintf(stderr, "relayctl: %s\n", f.message.c_str());
    return 1;
  }
}

}  // namespace
}  // namespace relay::relayctl

int main(int argc, char** argv) { return relay::relayctl::run(argc, argv); }
