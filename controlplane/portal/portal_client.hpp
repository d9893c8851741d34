// The IO shell around PhoenixSession: runs on an io_context the control-plane
// process owns (single-threaded), opens WebSocket connections to the portal,
// feeds the session what happens, performs its actions, runs its timers, and
// hands its events (Joined, Init, ...) to the process.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/config.hpp"
#include "common/net_types.hpp"
#include "common/result.hpp"
#include "controlplane/portal/phoenix_session.hpp"
#include "controlplane/portal/portal_url.hpp"
#include "controlplane/portal/websocket_connection.hpp"

namespace relay::portal {

struct PortalConfig {
  std::string ws_url;  // e.g. wss://portal.example; /relay/websocket is appended
  std::string token;   // secret: never logged
  // Firezone's portal today reads the X-Authorization header, the original
  // (2023) portal the `token` query parameter; both suits either.
  TokenPlacement token_placement = TokenPlacement::Both;
  bool allow_insecure_ws = false;
  std::optional<std::string> ca_file;  // PEM bundle trusted in addition to the system store
  RelayIdentity relay;
  std::string stamp_secret;  // secret: never logged
};

struct PortalTiming {
  SessionTiming session;
  // Bound for each of TCP connect, TLS handshake and HTTP upgrade.
  Duration connect_timeout = std::chrono::seconds{10};
};

struct ConnectAttempt {
  uint64_t number;           // 1 for the first attempt
  std::string redacted_url;  // what we connect to, without the token
};

// Handlers run on the io_context's thread. They may call stop(), but must not
// destroy the client from inside a handler.
struct PortalHandlers {
  std::function<void(const SessionEvent&)> on_event;
  std::function<void(const ConnectAttempt&)> on_attempt;  // may be empty
  LogSink log;                                            // may be empty
};

struct SetupError {
  enum class Kind { BadUrl, BadCaFile, Tls } kind;
  std::string message;  // for the operator; free of secrets
};

class PortalClient final : private ConnectionListener {
 public:
  using Random = PhoenixSession::Random;

  // Validates the configuration (URL, ws:// policy, CA file) without touching
  // the network. `random` defaults to a generator seeded from random_device.
  static Result<std::unique_ptr<PortalClient>, SetupError> create(boost::asio::io_context& io, PortalConfig config,
                                                                  PortalTiming timing, PortalHandlers handlers,
                                                                  Random random = {});
  PortalClient(const PortalClient&) = delete;
  PortalClient& operator=(const PortalClient&) = delete;
  ~PortalClient();

  // Connects, and keeps reconnecting until stop().
  void start();
  // Sends a close frame on an open connection; no reconnects, no more events.
  // Idempotent. The io_context may keep running for the close handshake.
  void stop();
  // A reloaded token: presented from the next connection on (the open one
  // stays authenticated).
  void set_token(std::string token);

 private:
  PortalClient(boost::asio::io_context& io, PortalConfig config, PortalUrl url,
               std::unique_ptr<boost::asio::ssl::context> tls, PortalTiming timing, PortalHandlers handlers,
               Random random);

  void on_open() override;
  void on_text(std::string_view text) override;
  void on_end(const Disconnect& why) override;

  // The connect target (path and query) for the current token.
  void aim();
  void connect();
  void drain();
  void perform(Action action);
  void arm_heartbeat_timer();
  void log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {}) const;

  boost::asio::io_context& io_;
  PortalConfig config_;
  PortalUrl url_;
  std::string target_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  PortalTiming timing_;
  PortalHandlers handlers_;
  PhoenixSession session_;

  std::shared_ptr<WebSocketConnection> connection_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer heartbeat_timer_;
  uint64_t attempts_ = 0;
  uint64_t reconnect_generation_ = 0;
  bool stopped_ = false;
  // Timer handlers may run after this object is gone (queued before the
  // destructor cancelled them); they hold a weak reference to this token.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace relay::portal
