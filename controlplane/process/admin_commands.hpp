// What relayctl asks the running control plane (controlplane/admin/):
// one JSON object with "command" in, one JSON object out, {"ok": true, ...}
// or {"ok": false, "error": "..."}. Runs on the control plane's thread,
// between two turns of its loop, so it reads and changes the Server
// directly; the commands an action emits (FreeAllocation, RemoveChannel...)
// reach the workers in the next turn.
//
//   status                          version, uptime, readiness, drain, counts (allocations, streams)
//   allocations [user] [client]     client "IP" or "IP:PORT"; each with its transport
//   kill user | client | port       ends the matching allocations
//   drain [deadline_seconds] [cancel]
//   reload                          as SIGHUP
//   credentials user [lifetime]     a credential of the configured scheme
//   config                          the effective configuration, secrets redacted
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "common/build_info.hpp"
#include "common/time.hpp"
#include "controlplane/core/server.hpp"
#include "controlplane/process/live_reload.hpp"

namespace relay::process {

// Open stream connections (the stream server), for status.
struct StreamConnectionCounts {
  uint64_t tcp = 0;
  uint64_t tls = 0;
};

struct AdminContext {
  core::Server& server;
  LiveConfig& live;
  BuildInfo build;
  Instant started;
  size_t workers = 0;
  std::function<Instant()> now;
  std::function<std::chrono::seconds()> unix_now;
  // Why /readyz says not ready (empty: ready), and what it is told of a drain.
  std::function<std::vector<std::string>()> not_ready;
  std::function<void(bool draining)> on_drain;
  // Null when streams are off (status says 0).
  std::function<StreamConnectionCounts()> streams = {};
};

// The longest credential relayctl mints: a day.
constexpr std::chrono::seconds kMaxCredentialLifetime{86400};

std::string handle_admin_request(AdminContext& ctx, const std::string& request);

}  // namespace relay::process
