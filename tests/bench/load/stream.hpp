// One TURN client's TCP or TLS-over-TCP connection to the relay (RFC 8656
// §3.1): a non-blocking socket, OpenSSL on top for TLS, a queue of bytes
// not yet taken by the kernel, and the relay's own framing
// (core::StreamFramer) cutting the byte stream back into STUN messages and
// ChannelData (§12.5: padded to 4 bytes over a stream). The clients' TURN
// setup runs over it through StreamPath; the measured phase (traffic.cpp)
// queues frames and reads them back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "controlplane/core/stream_framing.hpp"
#include "tests/bench/load/udp.hpp"
#include "tests/bench/turn_client/session.hpp"

struct ssl_st;

namespace relay::loadgen {

enum class IoStatus : uint8_t { Progress, WouldBlock, Closed };

class Stream {
 public:
  // TCP from `client_ip` (ephemeral port) to `relay`, then the TLS handshake
  // when `transport` is Tls; blocks at most `limit_ms` in all. Err names
  // the step: "connect: ...", "TLS handshake: ...".
  static Result<std::unique_ptr<Stream>, std::string> open(Transport transport, const IpAddress& client_ip,
                                                           const SocketAddress& relay, int limit_ms);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  [[nodiscard]] int fd() const { return socket_.fd(); }
  [[nodiscard]] Transport transport() const { return ssl_ ? Transport::Tls : Transport::Tcp; }

  // Bytes waiting to be written, behind whatever is still queued. Callers
  // append here (and bound it: queued_bytes()), then call flush().
  std::vector<uint8_t>& queue() { return out_; }
  [[nodiscard]] size_t queued_bytes() const { return out_.size() - out_begin_; }
  // Writes as much of the queue as the socket takes. Progress: all of it.
  IoStatus flush();

  // Reads what the socket has into the framing buffer (one read call).
  IoStatus read_some();
  // After Progress: TCP's read came back short, so the socket is empty for
  // now (edge-triggered epoll reports what arrives later), and a second
  // read would only say EAGAIN. TLS reads a record at a time: never.
  [[nodiscard]] bool drained() const { return drained_; }
  // The next complete frame in the buffer (ChannelData without its
  // padding), empty when none is; valid until the next read_some().
  // `desynced()` after an empty frame: the stream carries something that is
  // neither STUN nor ChannelData, or a frame beyond the buffer.
  std::span<const uint8_t> next_frame();
  [[nodiscard]] bool desynced() const { return desynced_; }

 private:
  Stream();
  Result<void, std::string> handshake(int limit_ms);

  OwnedFd socket_;
  ssl_st* ssl_ = nullptr;
  std::vector<uint8_t> out_;
  size_t out_begin_ = 0;
  // SSL_write after a WANT_WRITE must be repeated with the same length.
  size_t tls_retry_len_ = 0;
  core::StreamFramer framer_;
  bool desynced_ = false;
  bool drained_ = false;
};

// TurnSession's datagram path over a stream: a STUN message per send, the
// next STUN message from the stream per receive (ChannelData skipped).
class StreamPath final : public StunPath {
 public:
  explicit StreamPath(Stream& stream) : stream_(stream) {}
  bool send(std::span<const uint8_t> message) override;
  size_t receive(std::span<uint8_t> into, Deadline deadline) override;
  [[nodiscard]] bool reliable() const override { return true; }
  [[nodiscard]] bool closed() const override { return closed_; }

 private:
  Stream& stream_;
  bool closed_ = false;
};

}  // namespace relay::loadgen
