// Framing of a TURN stream (RFC 8656 §12.5, RFC 8489 §6.2.2): over TCP and
// TLS, STUN messages and ChannelData follow one another with nothing in
// between, so the receiver delimits them from their own headers. Pure: bytes
// in, frames or a close reason out; the stream server (process/stream_server)
// owns the sockets.
//
//   first two bits 00: STUN, 20-byte header whose length (a multiple of 4)
//                      counts what follows; the magic cookie must be there
//   first two bits 01: ChannelData, 4 + length bytes, then zero to three
//                      bytes of padding up to a multiple of 4 (§12.5): the
//                      frame yielded is the unpadded 4 + length
//   anything else:     garbage; the stream cannot be resynchronised
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace relay::core {

// The largest frame a stream client may send, padding included. A client's
// STUN request (USERNAME ≤ 513 bytes, REALM and NONCE ≤ 763 each, RFC 8489
// §14) stays under 2 KiB even with every attribute we know; a Send
// indication or ChannelData must become one UDP datagram in one of the data
// plane's mbufs (2 KiB of data room) anyway. 4 KiB is both with room to
// spare, and bounds each connection's read buffer: 4096 connections × 4 KiB
// = 16 MiB at most, where the 64 KiB ChannelData the length field allows
// would cost 256 MiB and buy nothing deliverable.
constexpr size_t kMaxStreamFrame = 4096;

enum class FrameKind : uint8_t { Stun, ChannelData };
enum class FramingError : uint8_t {
  Garbage,    // neither STUN nor ChannelData, or a STUN length that is not a multiple of 4
  Oversized,  // the header announces a frame beyond the limit
};
std::string_view to_string(FramingError e);

// What the front of a stream's unread bytes holds.
struct FrameScan {
  enum class Status : uint8_t { Complete, Incomplete, Garbage, Oversized } status = Status::Incomplete;
  FrameKind kind = FrameKind::Stun;
  size_t message_size = 0;  // Complete: the message, padding excluded
  size_t frame_size = 0;    // Complete: what it occupies in the stream, padding included
};
// Decides as early as the bytes allow: garbage from the first byte (or the
// cookie at 8), oversized from the first 4, whatever the rest may bring.
FrameScan scan_frame(std::span<const uint8_t> unread, size_t max_frame = kMaxStreamFrame);

struct Frame {
  FrameKind kind;
  std::span<const uint8_t> bytes;  // valid until the next free_space()
};

// A bounded read buffer with the framing on top: read into free_space(),
// commit() what arrived, take frames with next() until it yields nothing.
class StreamFramer {
 public:
  explicit StreamFramer(size_t max_frame = kMaxStreamFrame);

  // Where the next read may write; never empty while next() has nothing to
  // yield and no error: one whole frame always fits.
  std::span<uint8_t> free_space();
  void commit(size_t n);
  // The next complete frame, nullopt until more bytes arrive, or why the
  // stream must close (then every later call says the same).
  Result<std::optional<Frame>, FramingError> next();
  [[nodiscard]] size_t buffered() const { return end_ - begin_; }
  [[nodiscard]] size_t capacity() const { return buffer_.size(); }

 private:
  size_t max_frame_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;  // first unread byte
  size_t end_ = 0;    // one past the last received byte
  std::optional<FramingError> failed_;
};

}  // namespace relay::core
