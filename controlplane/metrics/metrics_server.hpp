// GET /metrics over HTTP/1.1 (Boost.Beast), on an io_context the control
// plane owns and runs on its one thread: no strands, no locks, and the
// render callback may read the Server directly. The same server answers the
// health checks (GET /healthz, /readyz) on their own address: any set of
// paths, each with a callback that makes its page.
//
// Anything but GET of a served path is 404; a request that does not parse, or whose
// header exceeds kMaxHeaderBytes, gets 400 and its connection is closed; a
// client idle for kIdleTimeout is disconnected; beyond kMaxConnections new
// connections are closed at once. None of it stops the server.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay::metrics {

struct ServerStats {
  uint64_t scrapes = 0;        // answers from a served path
  uint64_t not_found = 0;      // 404 answers
  uint64_t bad_requests = 0;   // 400 answers
  uint64_t refused_connections = 0;  // over kMaxConnections
};

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  struct Page {
    unsigned status = 200;
    std::string content_type;
    std::string body;
  };
  // Path ("/readyz", no query) to the callback making its page.
  using Routes = std::map<std::string, std::function<Page()>, std::less<>>;
  static constexpr size_t kMaxHeaderBytes = 8192;
  static constexpr size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kIdleTimeout{10};

  // Binds and listens on `address` (port 0: any free port, see
  // local_address()); the error names the address and the reason.
  static Result<std::unique_ptr<MetricsServer>, std::string> start(boost::asio::io_context& io,
                                                                    const SocketAddress& address, Render render);
  // `what` names the endpoint in errors ("health endpoint").
  static Result<std::unique_ptr<MetricsServer>, std::string> start(boost::asio::io_context& io,
                                                                    const SocketAddress& address, Routes routes,
                                                                    std::string_view what);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  [[nodiscard]] SocketAddress local_address() const;
  [[nodiscard]] const ServerStats& stats() const { return shared_->stats; }

  // Shared with the connections, which may outlive the server by one
  // completion handler each: they see `stopped` and wind down.
  struct Shared {
    Routes routes;
    ServerStats stats;
    size_t connections = 0;
    bool stopped = false;
  };

 private:
  MetricsServer(boost::asio::ip::tcp::acceptor acceptor, Routes routes);
  void accept();

  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace relay::metrics
