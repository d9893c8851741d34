#include "controlplane/portal/portal_client.hpp"

#include <chrono>
#include <random>
#include <utility>

#include <openssl/ssl.h>

namespace relay::portal {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using Clock = std::chrono::steady_clock;

// CLOCK_MONOTONIC, as common/time.hpp wants it: steady_clock on Linux.
Instant now() { return Instant{Clock::now().time_since_epoch()}; }
Clock::time_point to_time_point(Instant at) {
  return Clock::time_point{std::chrono::duration_cast<Clock::duration>(at.since_boot)};
}

Result<std::unique_ptr<ssl::context>, SetupError> make_tls_context(const std::optional<std::string>& ca_file) {
  auto tls = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  tls->set_default_verify_paths(ec);
  if (ec) return Err{SetupError{SetupError::Kind::Tls, "cannot load the system trust store: " + ec.message()}};
  if (ca_file) {
    tls->load_verify_file(*ca_file, ec);
    if (ec) {
      return Err{SetupError{SetupError::Kind::BadCaFile, "cannot load CA file " + *ca_file + ": " + ec.message()}};
    }
  }
  // RFC 8996: TLS 1.0 and 1.1 are deprecated.
  if (SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION) != 1) {
    return Err{SetupError{SetupError::Kind::Tls, "cannot require TLS 1.2"}};
  }
  tls->set_verify_mode(ssl::verify_peer);
  return tls;
}

PhoenixSession::Random default_random() {
  return [engine = std::mt19937_64{std::random_device{}()}]() mutable { return engine(); };
}

}  // namespace

Result<std::unique_ptr<PortalClient>, SetupError> PortalClient::create(asio::io_context& io, PortalConfig config,
                                                                       PortalTiming timing, PortalHandlers handlers,
                                                                       Random random) {
  auto url = PortalUrl::parse(config.ws_url, config.allow_insecure_ws);
  if (!url) {
    return Err{SetupError{SetupError::Kind::BadUrl,
                          std::string(describe(url.error())) + " (" + redacted_url(config.ws_url) + ")"}};
  }
  std::unique_ptr<ssl::context> tls;
  if (url->secure) {
    auto made = make_tls_context(config.ca_file);
    if (!made) return Err{made.error()};
    tls = std::move(made.value());
  }
  if (!random) random = default_random();
  return std::unique_ptr<PortalClient>(new PortalClient(io, std::move(config), std::move(url.value()), std::move(tls),
                                                        timing, std::move(handlers), std::move(random)));
}

PortalClient::PortalClient(asio::io_context& io, PortalConfig config, PortalUrl url, std::unique_ptr<ssl::context> tls,
                           PortalTiming timing, PortalHandlers handlers, Random random)
    : io_(io),
      config_(std::move(config)),
      url_(std::move(url)),
      tls_(std::move(tls)),
      timing_(timing),
      handlers_(std::move(handlers)),
      session_(timing.session, config_.stamp_secret, std::move(random), handlers_.log),
      reconnect_timer_(io),
      heartbeat_timer_(io) {
  aim();
}

void PortalClient::aim() {
  target_ = connect_target(url_, config_.token_placement == TokenPlacement::Header ? "" : config_.token, config_.relay);
}

void PortalClient::set_token(std::string token) {
  config_.token = std::move(token);
  aim();
}

PortalClient::~PortalClient() {
  if (connection_) connection_->abandon();
}

void PortalClient::start() {
  if (stopped_) return;
  session_.start(now());
  drain();
}

void PortalClient::stop() {
  if (stopped_) return;
  stopped_ = true;
  reconnect_timer_.cancel();
  heartbeat_timer_.cancel();
  if (connection_) std::exchange(connection_, nullptr)->close_gracefully();
  log(LogLevel::Info, "portal client stopped");
}

void PortalClient::on_open() {
  session_.connected(now());
  drain();
}

void PortalClient::on_text(std::string_view text) {
  session_.text_frame(text, now());
  drain();
}

void PortalClient::on_end(const Disconnect& why) {
  connection_.reset();
  session_.disconnected(why, now());
  drain();
}

void PortalClient::connect() {
  if (stopped_) return;
  const auto url = redacted_url(full_url(url_, target_));
  ++attempts_;
  log(LogLevel::Info, "connecting to the portal", {{"url", url}, {"attempt", std::to_string(attempts_)}});
  if (handlers_.on_attempt) handlers_.on_attempt(ConnectAttempt{attempts_, url});
  std::string authorization;
  if (config_.token_placement != TokenPlacement::Query && !config_.token.empty()) {
    authorization = "Bearer " + config_.token;
  }
  ConnectionParams params{url_, target_, user_agent(), std::move(authorization), timing_.connect_timeout};
  connection_ = open_connection(io_, tls_.get(), std::move(params), *this);
}

void PortalClient::drain() {
  if (stopped_) return;
  while (auto action = session_.next_action()) perform(std::move(*action));
  while (auto event = session_.next_event()) {
    if (handlers_.on_event) handlers_.on_event(*event);
    if (stopped_) return;  // the handler may stop us
  }
  arm_heartbeat_timer();
}

void PortalClient::perform(Action action) {
  if (auto* text = std::get_if<SendText>(&action)) {
    if (connection_) connection_->send(std::move(text->json));
  } else if (std::holds_alternative<Close>(action)) {
    if (connection_) std::exchange(connection_, nullptr)->abandon();
  } else if (auto* later = std::get_if<ConnectAfter>(&action)) {
    const auto generation = ++reconnect_generation_;
    reconnect_timer_.expires_after(later->delay);
    reconnect_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_), generation](boost::system::error_code ec) {
      if (ec || alive.expired() || generation != reconnect_generation_) return;
      connect();
    });
  }
}

void PortalClient::arm_heartbeat_timer() {
  const auto deadline = session_.poll_timeout();
  if (!deadline) {
    heartbeat_timer_.cancel();
    return;
  }
  heartbeat_timer_.expires_at(to_time_point(*deadline));
  heartbeat_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired() || stopped_) return;
    session_.timeout(now());
    drain();
  });
}

void PortalClient::log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) const {
  emit(handlers_.log, level, message, fields);
}

}  // namespace relay::portal
