// GET /metrics over HTTP/1.1 (Boost.Beast), on an io_context the control
// plane owns and runs on its one thread: no strands, no locks, and the
// render callback may read the Server directly.
//
// Anything but GET /metrics is 404; a request that does not parse, or whose
// header exceeds kMaxHeaderBytes, gets 400 and its connection is closed; a
// client idle for kIdleTimeout is disconnected; beyond kMaxConnections new
// connections are closed at once. None of it stops the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay::metrics {

struct ServerStats {
  uint64_t scrapes = 0;        // 200 answers
  uint64_t not_found = 0;      // 404 answers
  uint64_t bad_requests = 0;   // 400 answers
  uint64_t refused_connections = 0;  // over kMaxConnections
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  static constexpr size_t kMaxHeaderBytes = 8192;
  static constexpr size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kIdleTimeout{10};

  // Binds and listens on `address` (port 0: any free port, see
  // local_address()); the error names the address and the reason.
  static Result<std::unique_ptr<MetricsServer>, std::string> start(boost::asio::io_context& io,
                                                                    const SocketAddress& address, Render render);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  [[nodiscard]] SocketAddress local_address() const;
  [[nodiscard]] const ServerStats& stats() const { return shared_->stats; }

  // Shared with the connections, which may outlive the server by one
  // completion handler each: they see `stopped` and wind down.
  struct Shared {
    Render render;
    ServerStats stats;
    size_t connections = 0;
    bool stopped = false;
  };

 private:
  MetricsServer(boost::asio::ip::tcp::acceptor acceptor, Render render);
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace relay::metrics
