#include "controlplane/process/admin_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace relay::process {

using boost::asio::local::stream_protocol;

struct AdminSocket::State : std::enable_shared_from_this<AdminSocket::State> {
  State(boost::asio::io_context& io, std::string p, Handler h)
      : acceptor(io), path(std::move(p)), handler(std::move(h)) {}
  stream_protocol::acceptor acceptor;
  std::string path;
  Handler handler;
  size_t connections = 0;
  AdminSocketStats stats;

  void accept();
};

namespace {

bool trusted_peer(stream_protocol::socket& socket) {
  ucred cred{};
  socklen_t size = sizeof cred;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) return false;
  return cred.uid == 0 || cred.uid == ::geteuid();
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<AdminSocket::State> state, stream_protocol::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        request_(AdminSocket::kMaxRequestBytes) {
    ++state_->connections;
  }
  ~Session() { --state_->connections; }

  void start() {
    timer_.expires_after(AdminSocket::kTimeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      ++self->state_->stats.bad_requests;
      boost::system::error_code ignored;
      self->socket_.close(ignored);
    });
    boost::asio::async_read_until(socket_, request_, '\n',
                                  [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                                    self->on_request(ec, n);
                                  });
  }

 private:
  void on_request(const boost::system::error_code& ec, size_t n) {
    if (ec) {  // too long (max_size), closed early, or the timer closed it
      if (ec != boost::asio::error::operation_aborted) ++state_->stats.bad_requests;
      timer_.cancel();
      return;
    }
    std::string line(boost::asio::buffers_begin(request_.data()), boost::asio::buffers_begin(request_.data()) + n - 1);
    ++state_->stats.requests;
    response_ = state_->handler(line);
    response_ += '\n';
    boost::asio::async_write(socket_, boost::asio::buffer(response_),
                             [self = shared_from_this()](const boost::system::error_code&, size_t) {
                               self->timer_.cancel();
                               boost::system::error_code ignored;
                               self->socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
                               self->socket_.close(ignored);
                             });
  }

  std::shared_ptr<AdminSocket::State> state_;
  stream_protocol::socket socket_;
  boost::asio::steady_timer timer_;
  boost::asio::streambuf request_;
  std::string response_;
};

// A socket file nobody answers on is a dead control plane's.
bool someone_listens(boost::asio::io_context& io, const std::string& path) {
  stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(stream_protocol::endpoint(path), ec);
  return !ec;
}

}  // namespace

void AdminSocket::State::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                    stream_protocol::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !self->acceptor.is_open()) return;
    if (!ec) {
      if (!trusted_peer(socket)) {
        ++self->stats.refused_peers;
      } else if (self->connections >= kMaxConnections) {
        ++self->stats.refused_connections;
      } else {
        std::make_shared<Session>(self, std::move(socket))->start();
      }
    }
    self->accept();
  });
}

Result<std::unique_ptr<AdminSocket>, std::string> AdminSocket::open(boost::asio::io_context& io,
                                                                   const std::string& path, Handler handler) {
  auto fail = [&](const std::string& why) { return Err{"admin socket " + path + ": " + why}; };
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code fs_error;
  if (std::filesystem::create_directories(dir, fs_error))
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, fs_error);
  if (fs_error) return fail("cannot create " + dir.string() + ": " + fs_error.message());
  if (std::filesystem::exists(std::filesystem::symlink_status(path, fs_error))) {
    if (someone_listens(io, path)) return fail("another control plane answers on it (admin.socket must differ)");
    ::unlink(path.c_str());
  }
  auto state = std::make_shared<State>(io, path, std::move(handler));
  boost::system::error_code ec;
  state->acceptor.open(stream_protocol(), ec);
  // 0600 from the start: no moment when another user could connect.
  const mode_t old_mask = ::umask(0177);
  if (!ec) state->acceptor.bind(stream_protocol::endpoint(path), ec);
  ::umask(old_mask);
  if (!ec) state->acceptor.listen(static_cast<int>(kMaxConnections), ec);
  if (ec) return fail(ec.message());
  state->accept();
  return std::unique_ptr<AdminSocket>(new AdminSocket(std::move(state)));
}

AdminSocket::~AdminSocket() {
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  ::unlink(state_->path.c_str());
}

const AdminSocketStats& AdminSocket::stats() const { return state_->stats; }

}  // namespace relay::process
