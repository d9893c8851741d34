// relay-controlplane: the DPDK secondary that runs the sans-IO Server
// against the data plane's rings. Order matters for the operator: every
// configuration problem is reported (exit 2) before it serves (the
// configuration itself before it attaches), a missing data plane is one line
// (exit 1) instead of an EAL dump, so is a data plane that goes away later
// (exit 1, so a supervisor restarts both), and SIGINT/SIGTERM end it
// cleanly (exit 0). Nothing the data plane waits on
// lives here, so even SIGKILL leaves the installed channels forwarding
// until they expire; the next control plane adopts them before it serves
// (restore_state).
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <rte_eal.h>
#include <rte_version.h>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/primary_probe.hpp"
#include "common/process_hardening.hpp"
#include "controlplane/core/server.hpp"
#include "controlplane/portal/portal_client.hpp"
#include "controlplane/process/admin_commands.hpp"
#include "controlplane/process/admin_socket.hpp"
#include "controlplane/process/control_loop.hpp"
#include "controlplane/process/dataplane_watch.hpp"
#include "controlplane/process/dispatcher.hpp"
#include "controlplane/process/dpdk_attach.hpp"
#include "controlplane/process/live_reload.hpp"
#include "controlplane/process/metrics_endpoint.hpp"
#include "controlplane/process/portal_logging.hpp"
#include "controlplane/process/server_replica.hpp"
#include "controlplane/process/server_setup.hpp"
#include "controlplane/process/stamp_secret_zone.hpp"
#include "controlplane/process/stream_server.hpp"

namespace relay::process {
namespace {

constexpr std::string_view kProgram = program_name(EalRole::ControlPlane);

constexpr std::string_view kTarget = "controlplane";

// Firezone's relay names itself after its host unless told otherwise.
std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0) return "";
  return name.data();
}

portal::PortalConfig portal_config(const RelayConfig& config, const AuthSecret& secret) {
  portal::PortalConfig p;
  p.ws_url = config.portal.ws_url.value_or("");
  p.token = config.portal.token.value_or("");
  p.token_placement = config.portal.token_placement;
  p.allow_insecure_ws = config.portal.allow_insecure_ws;
  p.ca_file = config.portal.ca_file;
  if (config.relay.ipv4) p.relay.public_ip4 = config.relay.ipv4->advertised();
  if (config.relay.ipv6) p.relay.public_ip6 = config.relay.ipv6->advertised();
  p.relay.listen_port = config.relay.listen_port;
  p.relay.name = config.portal.name.value_or(host_name());
  p.stamp_secret = secret.stamp();
  return p;
}

portal::PortalTiming portal_timing(const PortalSection& portal) {
  portal::PortalTiming timing;
  timing.session.heartbeat_interval = portal.heartbeat_interval;
  timing.session.max_unanswered_heartbeats = portal.max_unanswered_heartbeats;
  timing.session.join_timeout = portal.join_timeout;
  return timing;
}

// Validates the portal settings without touching the network.
Result<std::unique_ptr<portal::PortalClient>, std::string> make_portal(boost::asio::io_context& io,
                                                                        const RelayConfig& config,
                                                                        const AuthSecret& secret,
                                                                        core::Server& server,
                                                                        metrics::Readiness& readiness) {
  portal::PortalHandlers handlers;
  // The portal library logs its attempts and events itself (handlers.log).
  handlers.on_event = [&server, &readiness](const portal::SessionEvent& event) {
    if (std::holds_alternative<portal::Joined>(event)) readiness.portal_joined = true;
    if (std::holds_alternative<portal::Disconnected>(event)) readiness.portal_joined = readiness.portal_init = false;
    if (!std::holds_alternative<portal::Init>(event)) return;
    readiness.portal_init = true;
    if (!server.ready()) log::info(kTarget, "serving: the portal sent init");
    server.handle_portal_init();
  };
  handlers.log = portal_log_sink();
  auto client = portal::PortalClient::create(io, portal_config(config, secret), portal_timing(config.portal),
                                            std::move(handlers));
  if (!client) return Err{"portal: " + client.error().message};
  return std::move(client.value());
}

// --check: what make_portal would refuse (URL, ws:// policy, CA file),
// without connecting.
std::optional<std::string> portal_problem(const RelayConfig& config, const AuthSecret& secret) {
  if (!config.portal.ws_url) return std::nullopt;
  boost::asio::io_context scratch;
  auto client = portal::PortalClient::create(scratch, portal_config(config, secret), portal_timing(config.portal), {});
  if (!client) return "portal: " + client.error().message;
  return std::nullopt;
}

void log_start(const RelayConfig& config, const core::ServerConfig& server, const SharedObjects& shared) {
  const std::string v4 = server.relay_v4 ? server.relay_v4->to_string() : "-";
  const std::string v6 = server.relay_v6 ? server.relay_v6->to_string() : "-";
  log::info(kTarget, "attached to the data plane",
            {{"file_prefix", config.eal.file_prefix}, {"workers", shared.commands.size()},
             {"relay_v4", v4}, {"relay_v6", v6}, {"listen_port", server.listen_port},
             {"portal", server.has_portal}});
}

void log_stop(const ControlLoop& loop, const Dispatcher& dispatcher, const core::Server& server) {
  const DispatchStats d = dispatcher.stats();
  log::info(kTarget, "stopped",
            {{"turns", loop.counters().turns}, {"idle_waits", loop.counters().idle_waits},
             {"stream_payloads_in", loop.counters().stream_payloads_in},
             {"datagrams_in", loop.counters().datagrams_in}, {"invalid_meta", loop.counters().invalid_meta},
             {"datagrams_out", d.datagrams.delivered},
             {"commands", d.commands}, {"command_overflows", d.command_overflows},
             {"datagram_overflows", d.datagrams.overflowed}, {"allocations", server.allocation_count()}});
}

std::string refusals(const std::map<core::RestoreError, uint64_t>& refused) {
  std::string out;
  for (const auto& [why, count] : refused) {
    if (!out.empty()) out += ' ';
    out += std::string(core::to_string(why)) + '=' + std::to_string(count);
  }
  return out.empty() ? "-" : out;
}

// Any nonzero id a crashed predecessor is unlikely to have used (a dump's,
// a session's).
uint16_t fresh_id() {
  static uint64_t calls = 0;
  return static_cast<uint16_t>((monotonic_now().ns() ^ static_cast<uint64_t>(getpid()) ^ ++calls * 0x9e37u) | 1u);
}

// Before answering anyone, adopt what the data plane still forwards
// (ARCHITECTURE.md, "Control-plane restart"): clients keep their
// allocations (after one 438 for the nonce this process never issued) and
// no new allocation gets a live port.
void restore_state(const SharedObjects& shared, core::Server& server, CommandRing& first_worker,
                   Dispatcher& dispatcher) {
  if (shared.dump == nullptr) {
    log::warn(kTarget, "the data plane has no dump ring: starting without its allocations");
    return;
  }
  RteDumpRing dump(shared.dump);
  const uint16_t dump_id = fresh_id();
  const RestoreDriver driver{.now = monotonic_now,
                             .wait = [] { std::this_thread::sleep_for(std::chrono::microseconds(100)); }};
  const RestoreReport r = restore_from_data_plane(server, first_worker, dump, dump_id, driver);
  for (AllocationPort port : r.orphans) dispatcher.perform(core::FreeAllocation{port});
  const std::string refused_allocations = refusals(r.refused_allocations);
  const std::string refused_channels = refusals(r.refused_channels);
  const std::string refused_permissions = refusals(r.refused_permissions);
  auto report = r.complete ? &log::info : &log::warn;
  report(kTarget, r.complete ? "adopted the data plane's state" : "the data plane's dump did not finish: serving with what arrived",
         {{"allocations", r.allocations}, {"channels", r.channels}, {"permissions", r.permissions},
          {"refused_allocations", refused_allocations}, {"refused_channels", refused_channels},
          {"refused_permissions", refused_permissions}, {"freed_orphans", r.orphans.size()}, {"streams_lost", r.streams_lost}, {"stale", r.stale},
          {"malformed", r.malformed}});
}

// SIGHUP reloads the live keys (live_reload.hpp), as relayctl reload does.
void reload_on_sighup(boost::asio::signal_set& hangup, LiveConfig& live) {
  hangup.async_wait([&hangup, &live](const boost::system::error_code& ec, int) {
    if (ec) return;
    log::info(kTarget, "SIGHUP: reloading the configuration");
    live.reload(monotonic_now());
    reload_on_sighup(hangup, live);
  });
}

// TURN over TCP/TLS: null when streams are off; the error is one line.
Result<std::unique_ptr<StreamServer>, std::string> start_streams(boost::asio::io_context& io,
                                                                 const RelayConfig& config, core::Server& server,
                                                                 DatagramRing& from_cp) {
  const std::vector<StreamListener> listeners = stream_listeners(config);
  if (listeners.empty()) return std::unique_ptr<StreamServer>{};
  TlsContext tls;
  if (!stream_ports(config).tls.empty()) {
    auto loaded = load_tls_context(*config.relay.tls_certificate, *config.relay.tls_private_key);
    if (!loaded) return Err{loaded.error()};
    tls = std::move(loaded.value());
  }
  auto streams = std::make_unique<StreamServer>(io, server, from_cp, StreamLimits::from(config.stream), monotonic_now);
  if (auto listening = streams->listen(listeners, std::move(tls)); !listening) return Err{listening.error()};
  return streams;
}

// relayctl's socket; null when it cannot listen (logged: the relay serves
// without it rather than not at all).
std::unique_ptr<AdminSocket> open_admin_socket(boost::asio::io_context& io, AdminContext& admin) {
  const std::string path = admin_socket_path(admin.live.running());
  auto socket = AdminSocket::open(io, path, [&admin](const std::string& request) {
    return handle_admin_request(admin, request);
  });
  if (!socket) {
    log::warn(kTarget, "relayctl cannot reach this relay", {{"error", socket.error()}});
    return nullptr;
  }
  log::info(kTarget, "admin socket", {{"path", path}});
  return std::move(socket.value());
}

// With a portal and a generated secret, the portal hands out credentials
// minted with it: keep it for the next control plane, or take the one a
// predecessor kept, so the allocations it adopts still authenticate. True
// when `secret` changed.
bool adopt_kept_stamp_secret(const RelayConfig& config, AuthSecret& secret) {
  if (!secret.generated || !config.portal.ws_url) return false;
  auto kept = keep_stamp_secret(stamp_secret_zone_name(config.dataplane.ring_prefix), secret.stamp());
  if (!kept) {
    log::warn(kTarget, "the stamp secret will not survive a restart", {{"error", kept.error()}});
    return false;
  }
  log::info(kTarget, kept->adopted ? "the stamp secret is the previous control plane's"
                                   : "the stamp secret is kept for the next control plane");
  if (!kept->adopted) return false;
  secret.values.front() = std::move(kept->value);
  return true;
}

// Everything after a successful rte_eal_init; returns the exit status.
int serve(const RelayConfig& config, const ConfigLoader& load, const AuthSecret& secret, core::Server& server,
          boost::asio::io_context& io, portal::PortalClient* portal_client, metrics::Readiness& readiness) {
  const Instant started = monotonic_now();
  auto shared = attach_shared_objects(config);
  if (!shared) {
    log::error(kTarget, shared.error());
    return 1;
  }
  MbufDatagramRing from_cp(shared->from_cp, shared->pool);
  std::vector<RteCommandRing> command_rings;
  command_rings.reserve(shared->commands.size());
  for (const auto& lane : shared->commands) command_rings.emplace_back(lane.ring);
  ServerReplica truth(server);
  Dispatcher dispatcher(from_cp, {command_rings.begin(), command_rings.end()}, Dispatcher::kDefaultDatagramCapacity,
                        CommandFanout::kDefaultWaitingCapacity, &truth, fresh_id(),
                        [&server](const core::Command& install) { server.undo_install(install); });
  if (!command_rings.empty()) restore_state(*shared, server, command_rings.front(), dispatcher);
  // Adopted from the first worker alone: every replica is made to agree
  // with what was adopted (ARCHITECTURE.md, "Reconciliation").
  dispatcher.resync_all(Divergence::Restart);

  log_start(config, server.config(), *shared);
  warn_if_generated_without_portal(secret, config);

  ControlLoop loop(io, server, dispatcher, shared->to_cp, shared->acks);
  auto started_streams = start_streams(io, config, server, from_cp);
  if (!started_streams) {
    log::error(kTarget, started_streams.error());
    return 1;
  }
  std::unique_ptr<StreamServer> streams = std::move(started_streams.value());
  if (streams) {
    dispatcher.set_streams(streams.get());
    loop.serve_streams(shared->to_stream, streams.get());
  }
  auto metrics_endpoint = start_metrics_endpoint(io, config, *shared, server, loop, dispatcher, streams.get());
  if (!metrics_endpoint) {
    log::error(kTarget, metrics_endpoint.error());
    return 1;
  }
  if (*metrics_endpoint) {
    log::info(kTarget, "metrics endpoint", {{"url", "http://" + (*metrics_endpoint)->local_address().to_string() + "/metrics"}});
  }
  readiness.dataplane_attached = true;
  auto health_endpoint = start_health_endpoint(io, config, readiness);
  if (!health_endpoint) {
    log::error(kTarget, health_endpoint.error());
    return 1;
  }
  if (*health_endpoint) {
    log::info(kTarget, "health endpoint",
              {{"url", "http://" + (*health_endpoint)->local_address().to_string() + "/readyz"}});
  }
  int status = 0;
  DataPlaneWatch watch(io, config.eal.file_prefix, readiness, [&] {
    status = 1;
    loop.stop();
  });
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&loop](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info(kTarget, "stopping", {{"signal", signal}});
    loop.stop();
  });
  TlsReloader reload_tls;
  if (streams && streams->serves_tls()) {
    reload_tls = [&streams](const RelaySection& relay) -> Result<void, std::string> {
      auto loaded = load_tls_context(*relay.tls_certificate, *relay.tls_private_key);
      if (!loaded) return Err{loaded.error()};
      streams->set_tls_context(std::move(loaded.value()));
      return {};
    };
  }
  LiveConfig live(load, config, server, portal_client, std::move(reload_tls));
  boost::asio::signal_set hangup(io, SIGHUP);
  reload_on_sighup(hangup, live);
  AdminContext admin{.server = server,
                     .live = live,
                     .build = build_info(rte_version()),
                     .started = started,
                     .workers = shared->commands.size(),
                     .now = monotonic_now,
                     .unix_now = unix_time_now,
                     .not_ready = [&readiness] { return readiness.reasons(); },
                     .on_drain = [&readiness](bool draining) { readiness.draining = draining; },
                     .streams = [&streams] {
                       if (!streams) return StreamConnectionCounts{};
                       return StreamConnectionCounts{streams->stats().tcp_connections,
                                                     streams->stats().tls_connections};
                     }};
  auto admin_socket = open_admin_socket(io, admin);
  if (portal_client != nullptr) portal_client->start();
  loop.run();

  signals.cancel();
  hangup.cancel();
  if (streams) {
    // Their allocations end with them: tell the workers now rather than
    // leave it to the next control plane's restore.
    streams->close_all(StreamClose::Shutdown);
    while (auto command = server.next_command()) dispatcher.perform(std::move(*command));
    dispatcher.flush(monotonic_now());
  }
  admin_socket.reset();
  if (portal_client != nullptr) portal_client->stop();
  io.run_for(std::chrono::seconds(1));  // the portal's close handshake, bounded
  log_stop(loop, dispatcher, server);
  return status;
}

int run(int argc, char** argv) {
  // SIGHUP reloads once serving (reload_on_sighup);
  // until then it must not end the process, as its default action would.
  std::signal(SIGHUP, SIG_IGN);
  // Before the secret is read (relay.auth_secret_file) or generated.
  if (auto hardened = harden_process(); !hardened) {
    log::error(kTarget, "cannot keep secrets out of core dumps", {{"error", hardened.error()}});
    return 1;
  }
  const ConfigLoader load = [argc, argv] { return load_config(argc, argv, kProgram, process_environment()); };
  auto loaded = load();
  if (!loaded) return report(loaded.error(), build_info(rte_version()));
  const RelayConfig& config = loaded.value();
  configure_logger(config.log);

  auto secret = resolve_auth_secret(config.relay);
  if (!secret) {
    log::error(kTarget, "cannot generate an auth secret", {{"error", secret.error()}});
    return 1;
  }
  core::ServerConfig server_config = server_config_from(config, secret->values);
  if (auto valid = core::validate(server_config); !valid) {
    const std::string_view why = core::to_string(valid.error());
    std::fprintf(stderr, "%s: the server cannot run with this configuration: %.*s\n",
                 config.source.empty() ? "config" : config.source.c_str(), static_cast<int>(why.size()), why.data());
    return 2;
  }
  std::optional<core::StaticUsers> users;
  if (config.relay.auth.scheme == AuthScheme::Static) {
    auto loaded_users = load_static_users(config.relay);
    if (!loaded_users) {
      std::fprintf(stderr, "%s\n", loaded_users.error().c_str());
      return 2;
    }
    users = std::move(loaded_users.value());
  }
  if (auto bad = tls_configuration_problem(config)) {
    std::fprintf(stderr, "%s\n", bad->c_str());
    return 2;
  }
  if (config.check_only) {
    if (auto bad = portal_problem(config, secret.value())) {
      std::fprintf(stderr, "%s\n", bad->c_str());
      return 2;
    }
    return report_checked(config);
  }
  // Attached before the Server exists: a generated stamp secret may be a
  // predecessor's, kept in the data plane's memory.
  const std::string path = runtime_config_path(config.eal.file_prefix);
  if (auto state = probe_primary(path); state != PrimaryState::Running) {
    log::error(kTarget, describe(state, config.eal.file_prefix, path));
    return 1;
  }
  if (auto started = start_eal(config); !started) {
    log::error(kTarget, started.error());
    return 1;
  }
  if (adopt_kept_stamp_secret(config, secret.value())) server_config = server_config_from(config, secret->values);
  core::Server server(std::move(server_config), config.relay.rng_seed);
  if (users) server.set_static_users(std::move(*users));
  boost::asio::io_context io;
  metrics::Readiness readiness{.has_portal = config.portal.ws_url.has_value()};
  std::unique_ptr<portal::PortalClient> portal_client;
  if (config.portal.ws_url) {
    auto made = make_portal(io, config, secret.value(), server, readiness);
    if (!made) {
      std::fprintf(stderr, "%s\n", made.error().c_str());
      return 2;
    }
    portal_client = std::move(made.value());
  }
  const int status = serve(config, load, secret.value(), server, io, portal_client.get(), readiness);
  portal_client.reset();
  rte_eal_cleanup();
  return status;
}

}  // namespace
}  // namespace relay::process

int main(int argc, char** argv) { return relay::process::run(argc, argv); }
