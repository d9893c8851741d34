// A reload (SIGHUP, relayctl reload): the configuration is loaded again as
// at start (same flags, environment and file) and what can change while
// serving is applied - log level and format, quotas, the peer policy
// (relay.peer_allow, peer_deny, deny_on_link), the secrets (relay.auth.*
// secrets and their file), the static users file, the portal token, the
// TLS certificate and key of the stream server (re-read even when their
// paths did not change: a renewal rewrites the same files). A
// configuration that no longer loads changes nothing (its error names
// FILE:LINE:COLUMN: KEY); any other changed key is reported as waiting for
// a restart.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "common/time.hpp"
#include "controlplane/core/server.hpp"

namespace relay::portal {
class PortalClient;
}

namespace relay::process {

// The configuration as at start: the same flags, environment and file.
using ConfigLoader = std::function<Result<RelayConfig, ConfigError>()>;
// Loads relay.tls_certificate / relay.tls_private_key (both set) into a new
// context for new stream connections; the error names the file and why.
using TlsReloader = std::function<Result<void, std::string>(const RelaySection& relay)>;

struct ReloadOutcome {
  bool loaded = false;
  std::string error;                       // !loaded: why, FILE:LINE:COLUMN: KEY first
  std::vector<std::string> applied;        // what took effect: "log", "quotas", "peer_policy", ...
  std::vector<std::string> refused;        // live keys the running relay refused, with why
  std::vector<std::string> needs_restart;  // changed keys that are not live
  uint32_t channels_revoked = 0;           // peers the new policy denies
  uint32_t permissions_revoked = 0;
};

class LiveConfig {
 public:
  // `portal` may be null (no portal configured).
  // `reload_tls` is null when no TLS listener runs: then a certificate
  // change waits for a restart (listeners open only at start).
  LiveConfig(ConfigLoader load, RelayConfig running, core::Server& server, portal::PortalClient* portal,
             TlsReloader reload_tls = {})
      : load_(std::move(load)),
        running_(std::move(running)),
        server_(server),
        portal_(portal),
        reload_tls_(std::move(reload_tls)) {}

  // Loads, applies, logs what it did and returns it.
  ReloadOutcome reload(Instant now);
  [[nodiscard]] const RelayConfig& running() const { return running_; }

 private:
  // Applies relay.tls_certificate / tls_private_key, or says why not.
  void reload_tls(const RelayConfig& fresh, ReloadOutcome& out);

  ConfigLoader load_;
  RelayConfig running_;  // what was loaded at start, with every reload's live keys
  core::Server& server_;
  portal::PortalClient* portal_;
  TlsReloader reload_tls_;
};

// Whether `key` (a schema path) is applied by a reload.
bool is_live_key(std::string_view key);

}  // namespace relay::process
