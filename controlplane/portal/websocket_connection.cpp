#include "controlplane/portal/websocket_connection.hpp"

#include <deque>
#include <optional>
#include <type_traits>
#include <utility>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace relay::portal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// Shared ownership is the Asio idiom for an object whose lifetime is that of
// its pending handlers; nothing else holds these connections.
template <bool kTls>
class Connection final : public WebSocketConnection, public std::enable_shared_from_this<Connection<kTls>> {
  using Transport = std::conditional_t<kTls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;
  using Stream = websocket::stream<Transport>;

 public:
  Connection(asio::io_context& io, ssl::context* tls, ConnectionParams params, ConnectionListener& listener)
      : resolver_(io), params_(std::move(params)), listener_(&listener) {
    if constexpr (kTls) {
      ws_.emplace(io, *tls);
    } else {
      ws_.emplace(io);
    }
  }

  void start() {
    resolver_.async_resolve(params_.url.host, std::to_string(params_.url.port),
                            [self = this->shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                              self->on_resolved(ec, std::move(results));
                            });
  }

  void send(std::string text) override {
    if (!open_) return;
    outbox_.push_back(std::move(text));
    if (outbox_.size() == 1) write_next();
  }

  void close_gracefully() override {
    listener_ = nullptr;
    if (!open_) {
      tear_down();
      return;
    }
    open_ = false;
    ws_->async_close(websocket::close_code::normal,
                     [self = this->shared_from_this()](error_code) { self->tear_down(); });
  }

  void abandon() override {
    listener_ = nullptr;
    open_ = false;
    tear_down();
  }

 private:
  void on_resolved(error_code ec, tcp::resolver::results_type results) {
    if (ec) return end({DisconnectKind::Resolve, params_.url.host + ": " + ec.message()});
    auto& tcp_stream = beast::get_lowest_layer(*ws_);
    tcp_stream.expires_after(params_.connect_timeout);
    tcp_stream.async_connect(results, [self = this->shared_from_this()](error_code ec2, const tcp::endpoint&) {
      self->on_connected(ec2);
    });
  }

  void on_connected(error_code ec) {
    if (ec) return end({DisconnectKind::Connect, ec.message()});
    if constexpr (kTls) {
      start_tls();
    } else {
      upgrade();
    }
  }

  void start_tls() {
    auto& tls = ws_->next_layer();
    const auto& host = params_.url.host;
    // RFC 6066 §3: SNI carries host names only, never address literals.
    if (!params_.url.host_is_ip_literal() && SSL_set_tlsext_host_name(tls.native_handle(), host.c_str()) != 1) {
      return end({DisconnectKind::Tls, "cannot set the TLS server name"});
    }
    tls.set_verify_mode(ssl::verify_peer);
    tls.set_verify_callback(
        [matches = ssl::host_name_verification(host)](bool preverified, ssl::verify_context& context) mutable {
          const bool ok = matches(preverified, context);
          // A trusted chain for another name: say so, rather than OpenSSL's
          // "unspecified certificate verification error".
          if (preverified && !ok) X509_STORE_CTX_set_error(context.native_handle(), X509_V_ERR_HOSTNAME_MISMATCH);
          return ok;
        });
    beast::get_lowest_layer(*ws_).expires_after(params_.connect_timeout);
    tls.async_handshake(ssl::stream_base::client,
                        [self = this->shared_from_this()](error_code ec) { self->on_tls(ec); });
  }

  void on_tls(error_code ec) {
    if (!ec) return upgrade();
    std::string detail = ec.message();
    if constexpr (kTls) {
      const long verify = SSL_get_verify_result(ws_->next_layer().native_handle());
      if (verify != X509_V_OK) {
        detail = std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
      }
    }
    end({DisconnectKind::Tls, std::move(detail)});
  }

  void upgrade() {
    beast::get_lowest_layer(*ws_).expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = params_.connect_timeout;
    timeouts.idle_timeout = websocket::stream_base::none();  // the Phoenix heartbeat watches liveness
    timeouts.keep_alive_pings = false;
    ws_->set_option(timeouts);
    ws_->set_option(websocket::stream_base::decorator(
        [agent = params_.user_agent, authorization = params_.authorization](websocket::request_type& request) {
          request.set(http::field::user_agent, agent);
          if (!authorization.empty()) request.set("X-Authorization", authorization);
        }));
    ws_->read_message_max(params_.max_message_bytes);
    ws_->async_handshake(response_, params_.url.host_header(), params_.target,
                         [self = this->shared_from_this()](error_code ec) { self->on_upgraded(ec); });
  }

  void on_upgraded(error_code ec) {
    if (ec == websocket::error::upgrade_declined) {
      const auto status = response_.result_int();
      // RFC 9110 §15.5.2 / §15.5.4: the portal did not accept our credentials.
      const auto kind = status == 401 || status == 403 ? DisconnectKind::Unauthorized : DisconnectKind::UpgradeRefused;
      // RFC 6585 §4, RFC 9110 §15.6.4: too many requests, or unavailable for now.
      std::optional<Duration> retry_after;
      if (status == 429 || status == 503) {
        const auto header = response_[http::field::retry_after];
        retry_after = parse_retry_after(std::string_view(header.data(), header.size()));
      }
      return end({kind, "HTTP " + std::to_string(status), retry_after});
    }
    if (ec) return end({DisconnectKind::Transport, "upgrade: " + ec.message()});
    open_ = true;
    ws_->text(true);
    if (listener_ != nullptr) listener_->on_open();
    read_next();
  }

  void read_next() {
    if (!open_) return;
    ws_->async_read(inbox_, [self = this->shared_from_this()](error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec == websocket::error::closed) {
      const auto& reason = ws_->reason();
      return end({DisconnectKind::ClosedByPortal, "close code " + std::to_string(reason.code)});
    }
    if (ec) return end({DisconnectKind::Transport, "read: " + ec.message()});
    const auto text = beast::buffers_to_string(inbox_.data());
    inbox_.consume(inbox_.size());
    if (listener_ != nullptr) listener_->on_text(text);
    read_next();  // the listener may have closed us meanwhile; read_next checks
  }

  void write_next() {
    ws_->async_write(asio::buffer(outbox_.front()),
                     [self = this->shared_from_this()](error_code ec, size_t) { self->on_written(ec); });
  }

  void on_written(error_code ec) {
    if (ec) return end({DisconnectKind::Transport, "write: " + ec.message()});
    outbox_.pop_front();
    if (open_ && !outbox_.empty()) write_next();
  }

  void end(Disconnect why) {
    open_ = false;
    tear_down();
    if (auto* listener = std::exchange(listener_, nullptr); listener != nullptr) listener->on_end(why);
  }

  void tear_down() {
    resolver_.cancel();
    error_code ignored;
    beast::get_lowest_layer(*ws_).socket().close(ignored);
  }

  tcp::resolver resolver_;
  std::optional<Stream> ws_;
  ConnectionParams params_;
  ConnectionListener* listener_;
  bool open_ = false;
  beast::flat_buffer inbox_;
  std::deque<std::string> outbox_;
  websocket::response_type response_;
};

template <bool kTls>
std::shared_ptr<WebSocketConnection> start(asio::io_context& io, ssl::context* tls, ConnectionParams params,
                                           ConnectionListener& listener) {
  auto connection = std::make_shared<Connection<kTls>>(io, tls, std::move(params), listener);
  connection->start();
  return connection;
}

}  // namespace

std::shared_ptr<WebSocketConnection> open_connection(asio::io_context& io, ssl::context* tls, ConnectionParams params,
                                                     ConnectionListener& listener) {
  if (params.url.secure) return start<true>(io, tls, std::move(params), listener);
  return start<false>(io, nullptr, std::move(params), listener);
}

}  // namespace relay::portal
