#include "controlplane/portal/phoenix_session.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <utility>

namespace relay::portal {
namespace {

// Phoenix channel protocol names (phoenix.js: CHANNEL_EVENTS, the socket's
// "phoenix" topic for heartbeats).
constexpr std::string_view kRelayTopic = "relay";
constexpr std::string_view kPhoenixTopic = "phoenix";
constexpr std::string_view kJoin = "phx_join";
constexpr std::string_view kReply = "phx_reply";
constexpr std::string_view kError = "phx_error";
constexpr std::string_view kClose = "phx_close";
constexpr std::string_view kHeartbeat = "heartbeat";
constexpr std::string_view kInit = "init";

// A hostile or buggy portal could invent event names forever; past this many
// distinct names we stop remembering (and logging) new ones.
constexpr size_t kMaxRememberedUnknownEvents = 64;
// Reasons from the portal end up in logs; keep a runaway one short.
constexpr size_t kMaxReasonLength = 200;
// Far deeper than any Phoenix message (an init payload nests 3 or 4 levels).
// nlohmann-json copies, compares and dumps a value recursively, one stack
// frame per level: a message of 1 MiB (the WebSocket's bound, see
// websocket_connection.hpp) of "[[[[..." would overflow the stack.
constexpr size_t kMaxJsonDepth = 32;

// Whether arrays and objects in `text` nest deeper than `limit`, counting
// brackets outside strings: one pass, no allocation, before the parser.
bool nests_deeper_than(std::string_view text, size_t limit) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

int64_t to_ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

std::string bounded(std::string text) {
  if (text.size() > kMaxReasonLength) text.resize(kMaxReasonLength);
  return text;
}

std::optional<std::string> ref_of(const nlohmann::json& ref) {
  if (ref.is_string()) return ref.get<std::string>();
  if (ref.is_number_unsigned()) return std::to_string(ref.get<uint64_t>());
  if (ref.is_number_integer()) return std::to_string(ref.get<int64_t>());
  return std::nullopt;
}

std::string reason_of(const nlohmann::json& payload) {
  const auto response = payload.find("response");
  if (response == payload.end()) return "no reason given";
  if (response->is_object()) {
    const auto reason = response->find("reason");
    if (reason != response->end() && reason->is_string()) return bounded(reason->get<std::string>());
  }
  return bounded(response->dump());
}

}  // namespace

std::string_view to_string(DisconnectKind kind) {
  switch (kind) {
    case DisconnectKind::Resolve: return "resolve";
    case DisconnectKind::Connect: return "connect";
    case DisconnectKind::Tls: return "tls";
    case DisconnectKind::UpgradeRefused: return "upgrade_refused";
    case DisconnectKind::Unauthorized: return "unauthorized";
    case DisconnectKind::ClosedByPortal: return "closed_by_portal";
    case DisconnectKind::Transport: return "transport";
  }
  return "unknown";
}

std::optional<Duration> parse_retry_after(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  uint64_t seconds = 0;
  const auto* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, seconds);
  if (value.empty() || ptr != end) return std::nullopt;
  const auto cap = std::chrono::duration_cast<std::chrono::seconds>(kMaxRetryAfter);
  if (ec == std::errc::result_out_of_range || seconds > static_cast<uint64_t>(cap.count())) return kMaxRetryAfter;
  if (ec != std::errc{}) return std::nullopt;
  return std::chrono::seconds{seconds};
}

PhoenixSession::PhoenixSession(SessionTiming timing, std::string stamp_secret, Random random, LogSink log)
    : timing_(timing),
      stamp_secret_(std::move(stamp_secret)),
      random_(std::move(random)),
      log_(std::move(log)),
      backoff_(timing.backoff_base, timing.backoff_cap) {}

void PhoenixSession::start(Instant /*now*/) {
  if (state_ != State::Idle) return;
  state_ = State::Connecting;
  actions_.emplace_back(ConnectAfter{Duration{0}});
}

void PhoenixSession::connected(Instant now) {
  if (state_ != State::Connecting) return;
  state_ = State::Open;
  connected_at_ = now;
  next_heartbeat_ = now + timing_.heartbeat_interval;
  join_deadline_ = now + timing_.join_timeout;
  unanswered_heartbeats_.clear();
  init_received_ = false;
  pending_join_ = next_ref();
  push(kRelayTopic, kJoin, {{"stamp_secret", stamp_secret_}}, *pending_join_);
  emit(log_, LogLevel::Info, "connected to the portal, joining the relay channel");
}

void PhoenixSession::text_frame(std::string_view text, Instant now) {
  if (state_ != State::Open && state_ != State::Joined) return;
  if (nests_deeper_than(text, kMaxJsonDepth)) {
    ++too_deep_messages_;
    emit(log_, LogLevel::Warn, "ignoring a message from the portal nested too deeply",
         {{"bytes", std::to_string(text.size())}, {"max_depth", std::to_string(kMaxJsonDepth)},
          {"too_deep_so_far", std::to_string(too_deep_messages_)}});
    return;
  }
  auto message = decode(text);
  if (!message) {
    emit(log_, LogLevel::Warn, "ignoring a malformed message from the portal",
         {{"bytes", std::to_string(text.size())}});
    return;
  }
  handle(*message, now);
}

void PhoenixSession::disconnected(const Disconnect& why, Instant now) {
  if (state_ == State::Idle) return;
  if (why.kind == DisconnectKind::Unauthorized) {
    emit(log_, LogLevel::Error, "the portal refused the relay: the portal token is likely wrong",
         {{"detail", why.detail}});
  }
  std::string reason(to_string(why.kind));
  if (!why.detail.empty()) reason.append(": ").append(why.detail);
  fail(std::move(reason), false, now, why.retry_after);
}

void PhoenixSession::timeout(Instant now) {
  if (join_deadline_ && now >= *join_deadline_) {
    fail("no reply to the join within " + std::to_string(to_ms(timing_.join_timeout)) + " ms", true, now);
    return;
  }
  if (!next_heartbeat_ || now < *next_heartbeat_) return;
  if (unanswered_heartbeats_.size() >= timing_.max_unanswered_heartbeats) {
    fail(std::to_string(unanswered_heartbeats_.size()) + " heartbeats in a row unanswered", true, now);
    return;
  }
  unanswered_heartbeats_.push_back(next_ref());
  push(kPhoenixTopic, kHeartbeat, nlohmann::ordered_json::object(), unanswered_heartbeats_.back());
  next_heartbeat_ = now + timing_.heartbeat_interval;
}

std::optional<Instant> PhoenixSession::poll_timeout() const {
  if (join_deadline_ && next_heartbeat_) return std::min(*join_deadline_, *next_heartbeat_);
  return join_deadline_ ? join_deadline_ : next_heartbeat_;
}

std::optional<Action> PhoenixSession::next_action() {
  if (actions_.empty()) return std::nullopt;
  auto action = std::move(actions_.front());
  actions_.pop_front();
  return action;
}

std::optional<SessionEvent> PhoenixSession::next_event() {
  if (events_.empty()) return std::nullopt;
  auto event = std::move(events_.front());
  events_.pop_front();
  return event;
}

std::optional<PhoenixSession::Message> PhoenixSession::decode(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;  // also a parse error (discarded)
  const auto topic = json.find("topic");
  const auto event = json.find("event");
  if (topic == json.end() || !topic->is_string() || event == json.end() || !event->is_string()) {
    return std::nullopt;
  }
  Message message{topic->get<std::string>(), event->get<std::string>(), nlohmann::json::object(), {}};
  if (auto payload = json.find("payload"); payload != json.end()) message.payload = std::move(*payload);
  if (auto ref = json.find("ref"); ref != json.end()) message.ref = ref_of(*ref);
  return message;
}

void PhoenixSession::handle(const Message& message, Instant now) {
  if (message.event == kReply) {
    handle_reply(message, now);
  } else if (message.topic == kRelayTopic && message.event == kInit) {
    if (std::exchange(init_received_, true)) {
      if (!std::exchange(repeated_init_logged_, true)) {
        emit(log_, LogLevel::Warn, "ignoring a repeated init on one connection (logged once)");
      }
      return;
    }
    emit(log_, LogLevel::Info, "received init from the portal");
    events_.emplace_back(Init{message.payload});
  } else if (message.topic == kRelayTopic && message.event == kError) {
    fail("the portal reported an error on the relay channel", true, now);
  } else if (message.topic == kRelayTopic && message.event == kClose) {
    fail("the portal closed the relay channel", true, now);
  } else {
    log_unknown_event_once(message.event);
  }
}

void PhoenixSession::handle_reply(const Message& message, Instant now) {
  if (!message.ref) return;
  // Any outstanding beat answered proves the connection alive.
  if (std::find(unanswered_heartbeats_.begin(), unanswered_heartbeats_.end(), *message.ref) !=
      unanswered_heartbeats_.end()) {
    unanswered_heartbeats_.clear();
    return;
  }
  if (*message.ref != pending_join_) {
    emit(log_, LogLevel::Debug, "ignoring a reply to no pending request", {{"ref", bounded(*message.ref)}});
    return;
  }
  pending_join_.reset();
  join_deadline_.reset();
  const auto status = message.payload.is_object() ? message.payload.find("status") : message.payload.end();
  if (status != message.payload.end() && *status == "ok") {
    state_ = State::Joined;
    emit(log_, LogLevel::Info, "joined the relay channel");
    events_.emplace_back(Joined{});
    return;
  }
  auto reason = message.payload.is_object() ? reason_of(message.payload) : std::string("malformed reply");
  emit(log_, LogLevel::Error, "the portal refused the join", {{"reason", reason}});
  events_.emplace_back(JoinFailed{reason});
  fail("join refused: " + reason, true, now);
}

void PhoenixSession::log_unknown_event_once(const std::string& event) {
  if (unknown_events_logged_.size() >= kMaxRememberedUnknownEvents) return;
  if (!unknown_events_logged_.insert(event).second) return;
  emit(log_, LogLevel::Warn, "ignoring an unknown event from the portal (logged once per name)",
       {{"event", bounded(event)}});
}

void PhoenixSession::push(std::string_view topic, std::string_view event, nlohmann::ordered_json payload,
                          const std::string& ref) {
  nlohmann::ordered_json message;
  message["topic"] = topic;
  message["event"] = event;
  message["payload"] = std::move(payload);
  message["ref"] = ref;
  actions_.emplace_back(SendText{message.dump()});
}

std::string PhoenixSession::next_ref() { return std::to_string(++last_ref_); }

void PhoenixSession::fail(std::string reason, bool close, Instant now, std::optional<Duration> at_least) {
  if (close) actions_.emplace_back(Close{});
  const bool healthy = state_ == State::Joined && now - connected_at_ >= timing_.healthy_after;
  if (healthy) backoff_.reset();
  const auto delay = std::max(backoff_.next(random_ ? random_() : 0), at_least.value_or(Duration{0}));
  emit(log_, LogLevel::Warn, "portal connection lost, reconnecting",
       {{"reason", reason}, {"retry_in_ms", std::to_string(to_ms(delay))}});
  events_.emplace_back(Disconnected{std::move(reason), delay});
  actions_.emplace_back(ConnectAfter{delay});
  state_ = State::Connecting;
  next_heartbeat_.reset();
  join_deadline_.reset();
  pending_join_.reset();
  unanswered_heartbeats_.clear();
}

}  // namespace relay::portal
