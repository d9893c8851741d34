#include "tests/bench/load/stream.hpp"

#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>


namespace relay::loadgen {

namespace {

using Clock = std::chrono::steady_clock;

// The framer's buffer and its largest frame: far beyond what a relay sends
// (core::kMaxStreamFrame, 4 KiB), so that one read takes a burst of
// hundreds of frames.
constexpr size_t kReadBuffer = 64 << 10;
// One TLS record's worth of plaintext per SSL_write (RFC 8446 §5.1).
constexpr size_t kTlsRecord = 16 << 10;
// The kernel's share of a client's backlog: fixed (no autotuning up to
// tcp_wmem's 4 MiB) so that a relay that cannot keep up shows as refused
// frames within a point, not as seconds of queueing. Equal to the relay's
// default stream.max_buffered_bytes for the other direction.
constexpr int kSendBufferBytes = 256 << 10;

std::string failure(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

std::string tls_failure() {
  char text[256] = "no OpenSSL error queued";
  if (const unsigned long e = ERR_get_error()) ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text;
}

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<int64_t>(left, 0));
}

bool wait_for(int fd, short events, Clock::time_point deadline) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, ms_left(deadline) + 1) > 0;
}

// One context for every client: TLS 1.2 or later, and no certificate
// verification — the benchmark's relays present a throwaway self-signed
// certificate, and what is measured is the relaying, not the PKI.
SSL_CTX* client_context() {
  static SSL_CTX* const ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (c == nullptr) return c;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    // flush() hands SSL_write a growing queue: partial writes let it take a
    // record at a time, and the queue may move between a WANT_WRITE and
    // the retry.
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return c;
  }();
  return ctx;
}

}  // namespace

Stream::Stream() : framer_(kReadBuffer) {}

Result<std::unique_ptr<Stream>, std::string> Stream::open(Transport transport, const IpAddress& client_ip,
                                                         const SocketAddress& relay, int limit_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(limit_ms);
  std::unique_ptr<Stream> s(new Stream);
  s->socket_ = OwnedFd(socket(client_ip.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int fd = s->socket_.fd();
  if (fd < 0) return Err{failure("socket")};
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // frames go out per batch, not per Nagle
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSendBufferBytes, sizeof kSendBufferBytes);
  sockaddr_storage ss{};
  socklen_t len = to_sockaddr(SocketAddress{client_ip, 0}, ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return Err{failure("bind")};
  len = to_sockaddr(relay, ss);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    return Err{failure("connect")};
  if (!wait_for(fd, POLLOUT, deadline)) return Err{std::string("connect: no answer within the limit")};
  int error = 0;
  socklen_t error_len = sizeof error;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len);
  if (error != 0) return Err{std::string("connect: ") + std::strerror(error)};
  if (transport == Transport::Tls) {
    if (auto h = s->handshake(ms_left(deadline)); !h) return Err{"TLS handshake: " + h.error()};
  }
  return s;
}

Result<void, std::string> Stream::handshake(int limit_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(limit_ms);
  SSL_CTX* ctx = client_context();
  if (ctx == nullptr) return Err{tls_failure()};
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, socket_.fd()) != 1) return Err{tls_failure()};
  SSL_set_connect_state(ssl_);
  for (;;) {
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) return {};
    const int e = SSL_get_error(ssl_, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) return Err{tls_failure()};
    if (!wait_for(socket_.fd(), e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
      return Err{std::string("not finished within the limit")};
  }
}

Stream::~Stream() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // before OwnedFd closes the socket under it
}

IoStatus Stream::flush() {
  // A queue the relay keeps from draining would otherwise only grow at the
  // back: drop what was written once it is half of it (SSL_write allows
  // the move, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
  if (out_begin_ > 0 && out_begin_ >= out_.size() / 2) {
    out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_begin_));
    out_begin_ = 0;
  }
  while (out_begin_ < out_.size()) {
    const uint8_t* from = out_.data() + out_begin_;
    const size_t queued = out_.size() - out_begin_;
    ssize_t n = 0;
    if (ssl_ == nullptr) {
      n = ::send(socket_.fd(), from, queued, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN || errno == EINTR ? IoStatus::WouldBlock : IoStatus::Closed;
    } else {
      const size_t len = tls_retry_len_ != 0 ? tls_retry_len_ : std::min(queued, kTlsRecord);
      const int r = SSL_write(ssl_, from, static_cast<int>(len));
      if (r <= 0) {
        const int e = SSL_get_error(ssl_, r);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return ERR_clear_error(), IoStatus::Closed;
        tls_retry_len_ = len;
        return IoStatus::WouldBlock;
      }
      tls_retry_len_ = 0;
      n = r;
    }
    out_begin_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_begin_ = 0;
  return IoStatus::Progress;
}

IoStatus Stream::read_some() {
  // Callers take every frame before reading again, so there is room; should
  // there be none, the frames waiting must be taken first.
  const std::span<uint8_t> into = framer_.free_space();
  if (into.empty()) return IoStatus::Progress;
  if (ssl_ == nullptr) {
    const ssize_t n = ::read(socket_.fd(), into.data(), into.size());
    drained_ = n > 0 && static_cast<size_t>(n) < into.size();
    if (n > 0) return framer_.commit(static_cast<size_t>(n)), IoStatus::Progress;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return IoStatus::WouldBlock;
    return IoStatus::Closed;
  }
  const int r = SSL_read(ssl_, into.data(), static_cast<int>(into.size()));
  if (r > 0) return framer_.commit(static_cast<size_t>(r)), IoStatus::Progress;
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return IoStatus::WouldBlock;
  ERR_clear_error();
  return IoStatus::Closed;
}

std::span<const uint8_t> Stream::next_frame() {
  auto frame = framer_.next();
  if (!frame) {
    desynced_ = true;
    return {};
  }
  return *frame ? (*frame)->bytes : std::span<const uint8_t>{};
}

bool StreamPath::send(std::span<const uint8_t> message) {
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  stream_.queue().insert(stream_.queue().end(), message.begin(), message.end());
  for (;;) {
    switch (stream_.flush()) {
      case IoStatus::Progress: return true;
      case IoStatus::Closed: return closed_ = true, false;
      case IoStatus::WouldBlock:
        if (!wait_for(stream_.fd(), POLLOUT, deadline)) return false;
    }
  }
}

size_t StreamPath::receive(std::span<uint8_t> into, Deadline deadline) {
  for (;;) {
    const auto frame = stream_.next_frame();
    if (!frame.empty()) {
      // ChannelData still in flight from the measured phase is skipped.
      if ((frame[0] & 0xC0) != 0 || frame.size() > into.size()) continue;
      std::memcpy(into.data(), frame.data(), frame.size());
      return frame.size();
    }
    if (stream_.desynced()) return closed_ = true, 0;
    if (Clock::now() >= deadline) return 0;
    switch (stream_.read_some()) {
      case IoStatus::Progress: continue;
      case IoStatus::Closed: return closed_ = true, 0;
      case IoStatus::WouldBlock:
        if (!wait_for(stream_.fd(), POLLIN, deadline)) return 0;
    }
  }
}

}  // namespace relay::loadgen
