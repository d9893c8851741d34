// relayctl's way in: a unix stream socket (admin.socket) on the control
// plane's io_context. One request per connection: a line of JSON in, one
// JSON document out, then the socket closes (controlplane/admin/protocol.hpp).
//
// Only root and the relay's own user get in: the socket is mode 0600 in a
// directory made 0700 when missing, and a peer whose SO_PEERCRED uid is
// neither is closed unanswered. A request longer than kMaxRequestBytes or
// slower than kTimeout, and connections beyond kMaxConnections, are closed
// too; none of it stops the relay.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/result.hpp"

namespace relay::process {

struct AdminSocketStats {
  uint64_t requests = 0;
  uint64_t refused_peers = 0;        // a uid other than root or ours
  uint64_t refused_connections = 0;  // over kMaxConnections
  uint64_t bad_requests = 0;         // too long, too slow, not one line
};

class AdminSocket {
 public:
  // The request line (without its newline) to the response document.
  using Handler = std::function<std::string(const std::string& request)>;
  static constexpr size_t kMaxRequestBytes = 64 * 1024;
  static constexpr size_t kMaxConnections = 8;
  static constexpr std::chrono::seconds kTimeout{5};

  // Listens at `path`. A socket file left by a dead control plane is
  // replaced; one a live process answers on is not (the error says so).
  static Result<std::unique_ptr<AdminSocket>, std::string> open(boost::asio::io_context& io, const std::string& path,
                                                                Handler handler);
  ~AdminSocket();  // closes and removes the socket file
  AdminSocket(const AdminSocket&) = delete;
  AdminSocket& operator=(const AdminSocket&) = delete;

  [[nodiscard]] const AdminSocketStats& stats() const;

  struct State;

 private:
  explicit AdminSocket(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace relay::process
