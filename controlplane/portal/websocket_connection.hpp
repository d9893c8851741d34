// One WebSocket connection to the portal, from DNS to the last frame:
// resolve, TCP connect, TLS with certificate and host name verification
// (wss), HTTP upgrade, then text frames in both directions. It makes no
// protocol decision; it reports what happened to a listener and ends exactly
// once with a typed Disconnect.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "common/time.hpp"
#include "controlplane/portal/phoenix_session.hpp"
#include "controlplane/portal/portal_url.hpp"

namespace relay::portal {

class ConnectionListener {
 public:
  virtual void on_open() = 0;
  virtual void on_text(std::string_view text) = 0;
  // The last call a connection makes to its listener.
  virtual void on_end(const Disconnect& why) = 0;

 protected:
  ~ConnectionListener() = default;
};

struct ConnectionParams {
  PortalUrl url;
  std::string target;  // path and query of the upgrade request (holds the token)
  std::string user_agent;
  std::string authorization;  // X-Authorization header value (holds the token); empty: none
  Duration connect_timeout{};  // for each of TCP connect, TLS handshake, upgrade
  size_t max_message_bytes = 1 << 20;
};

class WebSocketConnection {
 public:
  virtual ~WebSocketConnection() = default;
  virtual void send(std::string text) = 0;
  // Sends a close frame, then tears down; the listener hears nothing more.
  virtual void close_gracefully() = 0;
  // Tears down at once; the listener hears nothing more.
  virtual void abandon() = 0;
};

// Starts connecting at once. `tls` is null for ws://; otherwise it must hold
// the trust store and verify_peer and outlive the connection. Asio handlers
// share ownership of the connection, so it lives until its last handler ran.
std::shared_ptr<WebSocketConnection> open_connection(boost::asio::io_context& io, boost::asio::ssl::context* tls,
                                                     ConnectionParams params, ConnectionListener& listener);

}  // namespace relay::portal
