// The relay's side of its Phoenix channel to the portal, sans-IO: the caller
// reports what happened on the WebSocket (with the time), performs the
// actions that come out, and forwards the events to the relay. No sockets,
// no clocks, no randomness of its own.
//
// Wire format: Phoenix channels V1 JSON serializer (phoenix.js, Phoenix.Socket
// .V1.JSONSerializer), one text frame per message
//   {"topic": "...", "event": "...", "payload": {...}, "ref": "..."}
//
// Lifecycle of one connection:
//   start ─► ConnectAfter{0} ─► connected ─► SendText(phx_join) ─► phx_reply ok
//   ─► Joined ─► init ─► Init{payload}; every heartbeat_interval a heartbeat.
// Any failure (connect error, refused upgrade, close, join refused, no join
// reply within join_timeout, max_unanswered_heartbeats heartbeats in a row
// unanswered) ends in ConnectAfter{backoff}, or later when the portal's
// upgrade answer asked for it (Retry-After).
//
// Contract with the IO shell: after the session emits Close, it already
// counts that connection as gone; the shell must not report its end.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "controlplane/portal/backoff.hpp"
#include "controlplane/portal/log_sink.hpp"

namespace relay::portal {

// Timing knobs. The defaults are the production values; tests shorten them
// (the control-plane process exposes them only as hidden test options).
struct SessionTiming {
  // Firezone's portal closes a relay socket idle for ~41 s: a beat every
  // 10 s keeps it open even when one reply is slow, and three unanswered in
  // a row (30 s of silence) mean the connection is dead.
  Duration heartbeat_interval = std::chrono::seconds{10};
  uint32_t max_unanswered_heartbeats = 3;
  Duration join_timeout = std::chrono::seconds{5};
  Duration backoff_base = std::chrono::seconds{1};
  Duration backoff_cap = std::chrono::seconds{60};
  // A connection counts as healthy, and resets the backoff when it ends, once
  // the channel was joined and the connection lasted this long. Merely being
  // joined is not enough: a portal that accepts the join and then drops us at
  // once must not be hammered once a second.
  Duration healthy_after = std::chrono::seconds{60};
};

// Actions for the IO shell.
struct SendText {
  std::string json;
  bool operator==(const SendText&) const = default;
};
struct Close {
  bool operator==(const Close&) const = default;
};
struct ConnectAfter {
  Duration delay;
  bool operator==(const ConnectAfter&) const = default;
};
using Action = std::variant<SendText, Close, ConnectAfter>;

// Events for the relay.
struct Joined {
  bool operator==(const Joined&) const = default;
};
struct JoinFailed {
  std::string reason;
  bool operator==(const JoinFailed&) const = default;
};
// The portal's `init` on topic `relay`: until it arrives the relay serves
// nothing; the process hands the payload to the server.
struct Init {
  nlohmann::json payload;
  bool operator==(const Init& other) const { return payload == other.payload; }
};
// A connection (or an attempt) ended; the next attempt starts after retry_in.
struct Disconnected {
  std::string reason;
  Duration retry_in;
  bool operator==(const Disconnected&) const = default;
};
using SessionEvent = std::variant<Joined, JoinFailed, Init, Disconnected>;

// Why the shell lost (or never got) a connection.
enum class DisconnectKind {
  Resolve,         // DNS
  Connect,         // TCP
  Tls,             // handshake or certificate verification
  UpgradeRefused,  // HTTP status other than 101
  Unauthorized,    // HTTP 401/403 on upgrade: most likely a bad token
  ClosedByPortal,  // WebSocket close frame
  Transport,       // read/write error, protocol violation, EOF
};
std::string_view to_string(DisconnectKind kind);

struct Disconnect {
  Disconnect() = default;
  Disconnect(DisconnectKind k, std::string d, std::optional<Duration> r = std::nullopt)
      : kind(k), detail(std::move(d)), retry_after(r) {}

  DisconnectKind kind = DisconnectKind::Transport;
  std::string detail;  // already free of secrets
  // From a 429 or 503 answer to the upgrade: wait at least this long.
  std::optional<Duration> retry_after;
};

// RFC 9110 §10.2.3 Retry-After as delta-seconds, capped at kMaxRetryAfter so
// a hostile portal cannot park the relay for days. An HTTP-date, or anything
// else, is nullopt: the backoff alone then decides.
constexpr Duration kMaxRetryAfter = std::chrono::hours{1};
std::optional<Duration> parse_retry_after(std::string_view value);

class PhoenixSession {
 public:
  enum class State { Idle, Connecting, Open, Joined };
  // A uniform 64-bit random value per call (the jitter of the backoff).
  using Random = std::function<uint64_t()>;

  PhoenixSession(SessionTiming timing, std::string stamp_secret, Random random, LogSink log);

  void start(Instant now);
  void connected(Instant now);
  void text_frame(std::string_view text, Instant now);
  void disconnected(const Disconnect& why, Instant now);
  void timeout(Instant now);

  [[nodiscard]] std::optional<Instant> poll_timeout() const;
  std::optional<Action> next_action();
  std::optional<SessionEvent> next_event();
  [[nodiscard]] State state() const { return state_; }

 private:
  struct Message {
    std::string topic;
    std::string event;
    nlohmann::json payload;
    std::optional<std::string> ref;
  };
  static std::optional<Message> decode(std::string_view text);

  void handle(const Message& message, Instant now);
  void handle_reply(const Message& message, Instant now);
  void log_unknown_event_once(const std::string& event);
  void push(std::string_view topic, std::string_view event, nlohmann::ordered_json payload,
            const std::string& ref);
  std::string next_ref();
  void fail(std::string reason, bool close, Instant now, std::optional<Duration> at_least = std::nullopt);

  SessionTiming timing_;
  std::string stamp_secret_;
  Random random_;
  LogSink log_;
  Backoff backoff_;

  State state_ = State::Idle;
  Instant connected_at_{};
  std::optional<Instant> next_heartbeat_;
  std::optional<Instant> join_deadline_;
  std::optional<std::string> pending_join_;
  std::vector<std::string> unanswered_heartbeats_;  // refs, oldest first
  bool init_received_ = false;                      // on this connection
  bool repeated_init_logged_ = false;
  uint64_t last_ref_ = 0;
  std::set<std::string> unknown_events_logged_;
  uint64_t too_deep_messages_ = 0;  // refused before parsing (kMaxJsonDepth)

  std::deque<Action> actions_;
  std::deque<SessionEvent> events_;
};

}  // namespace relay::portal
