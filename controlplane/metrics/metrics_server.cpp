#include "controlplane/metrics/metrics_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "controlplane/metrics/exposition.hpp"

namespace relay::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::string_view kPlainText = "text/plain; charset=utf-8";

// One client connection. Asio completion handlers own it
// (shared_from_this): its lifetime is that of its pending operation, which
// no single owner could express without tracking every handler.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<MetricsServer::Shared> shared)
      : stream_(std::move(socket)), shared_(std::move(shared)) {
    ++shared_->connections;
  }
  ~Connection() { --shared_->connections; }

  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(MetricsServer::kMaxHeaderBytes));
    parser_->body_limit(0);  // GET has no body; anything else is refused
    stream_.expires_after(MetricsServer::kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

 private:
  void on_read(beast::error_code ec) {
    if (shared_->stopped || ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    if (ec) return answer(http::status::bad_request, kPlainText, "bad request\n", false);
    const auto& request = parser_->get();
    const std::string_view target(request.target().data(), request.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const auto route = shared_->routes.find(path);
    if (request.method() != http::verb::get || route == shared_->routes.end())
      return answer(http::status::not_found, kPlainText, "not found\n", request.keep_alive());
    ++shared_->stats.scrapes;
    MetricsServer::Page page = route->second();
    answer(static_cast<http::status>(page.status), page.content_type, std::move(page.body), request.keep_alive());
  }

  void answer(http::status status, std::string_view type, std::string body, bool keep_alive) {
    if (status == http::status::not_found) ++shared_->stats.not_found;
    if (status == http::status::bad_request) ++shared_->stats.bad_requests;
    response_.emplace(status, 11);
    response_->set(http::field::server, "relay-controlplane");
    response_->set(http::field::content_type, beast::string_view(type.data(), type.size()));
    response_->keep_alive(keep_alive);
    response_->body() = std::move(body);
    response_->prepare_payload();
    http::async_write(stream_, *response_, [self = shared_from_this(), keep_alive](beast::error_code ec, size_t) {
      if (ec || !keep_alive || self->shared_->stopped) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  std::optional<http::response<http::string_body>> response_;
  std::shared_ptr<MetricsServer::Shared> shared_;
};

}  // namespace

Result<std::unique_ptr<MetricsServer>, std::string> MetricsServer::start(asio::io_context& io,
                                                                         const SocketAddress& address,
                                                                         Render render) {
  Routes routes;
  routes["/metrics"] = [render = std::move(render)] {
    return Page{200, std::string(kExpositionContentType), render()};
  };
  return start(io, address, std::move(routes), "metrics endpoint");
}

Result<std::unique_ptr<MetricsServer>, std::string> MetricsServer::start(asio::io_context& io,
                                                                         const SocketAddress& address, Routes routes,
                                                                         std::string_view what) {
  const std::string where = std::string(what) + " " + address.to_string();
  beast::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(address.ip.to_string(), ec);
  if (ec) return Err{where + ": " + ec.message()};
  const tcp::endpoint endpoint(ip, address.port);
  tcp::acceptor acceptor(io);
  if (acceptor.open(endpoint.protocol(), ec); ec) return Err{where + ": socket: " + ec.message()};
  // A restarted control plane must rebind while old connections linger in TIME_WAIT.
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec)
    return Err{where + ": SO_REUSEADDR: " + ec.message()};
  if (acceptor.bind(endpoint, ec); ec) return Err{where + ": cannot bind: " + ec.message()};
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    return Err{where + ": listen: " + ec.message()};
  std::unique_ptr<MetricsServer> server(new MetricsServer(std::move(acceptor), std::move(routes)));
  server->accept();
  return server;
}

MetricsServer::MetricsServer(tcp::acceptor acceptor, Routes routes)
    : acceptor_(std::move(acceptor)), shared_(std::make_shared<Shared>()) {
  shared_->routes = std::move(routes);
}

MetricsServer::~MetricsServer() {
  shared_->stopped = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
}

SocketAddress MetricsServer::local_address() const {
  beast::error_code ec;
  const tcp::endpoint e = acceptor_.local_endpoint(ec);
  SocketAddress a = *SocketAddress::parse(e.address().is_v6() ? "[::]:0" : "0.0.0.0:0");
  if (auto ip = IpAddress::parse(e.address().to_string(ec))) a.ip = *ip;
  a.port = e.port();
  return a;
}

void MetricsServer::accept() {
  acceptor_.async_accept([this, shared = shared_](beast::error_code ec, tcp::socket socket) {
    if (shared->stopped || ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (shared->connections >= kMaxConnections) {
        ++shared->stats.refused_connections;
        beast::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Connection>(std::move(socket), shared)->read();
      }
    }
    accept();
  });
}

}  // namespace relay::metrics
