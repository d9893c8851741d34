#include "controlplane/core/stream_framing.hpp"

#include <cassert>
#include <cstring>

#include "common/channel_data.hpp"

namespace relay::core {

std::string_view to_string(FramingError e) {
  switch (e) {
    case FramingError::Garbage: return "garbage";
    case FramingError::Oversized: return "oversized";
  }
  return "unknown";
}

FrameScan scan_frame(std::span<const uint8_t> unread, size_t max_frame) {
  using Status = FrameScan::Status;
  if (unread.empty()) return {};
  const uint8_t top = unread[0] & 0xC0;
  if (top != 0x00 && top != 0x40) return {Status::Garbage};
  const FrameKind kind = top == 0 ? FrameKind::Stun : FrameKind::ChannelData;
  if (unread.size() < 4) return {Status::Incomplete, kind};
  const size_t length = load_be16(unread.data() + 2);
  size_t message = 0, frame = 0;
  if (kind == FrameKind::Stun) {
    // RFC 8489 §5: attributes are padded, so the length is a multiple of 4.
    if (length % 4 != 0) return {Status::Garbage, kind};
    message = frame = kStunHeaderSize + length;
  } else {
    message = kChannelDataHeaderSize + length;
    frame = (message + 3) & ~size_t{3};  // RFC 8656 §12.5
  }
  if (frame > max_frame) return {Status::Oversized, kind};
  if (kind == FrameKind::Stun && unread.size() >= 8 && load_be32(unread.data() + 4) != kStunMagicCookie)
    return {Status::Garbage, kind};
  if (unread.size() < frame) return {Status::Incomplete, kind};
  return {Status::Complete, kind, message, frame};
}

StreamFramer::StreamFramer(size_t max_frame) : max_frame_(max_frame), buffer_(max_frame) {
  assert(max_frame >= kStunHeaderSize && max_frame % 4 == 0);
}

std::span<uint8_t> StreamFramer::free_space() {
  if (begin_ != 0) {  // at most one frame's bytes move, once per read
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return std::span<uint8_t>(buffer_).subspan(end_);
}

void StreamFramer::commit(size_t n) {
  assert(n <= buffer_.size() - end_);
  end_ += n;
}

Result<std::optional<Frame>, FramingError> StreamFramer::next() {
  if (failed_) return Err{*failed_};
  const auto unread = std::span<const uint8_t>(buffer_).subspan(begin_, end_ - begin_);
  const FrameScan scan = scan_frame(unread, max_frame_);
  switch (scan.status) {
    case FrameScan::Status::Incomplete: return std::optional<Frame>{};
    case FrameScan::Status::Garbage: failed_ = FramingError::Garbage; return Err{*failed_};
    case FrameScan::Status::Oversized: failed_ = FramingError::Oversized; return Err{*failed_};
    case FrameScan::Status::Complete: break;
  }
  begin_ += scan.frame_size;
  return std::optional<Frame>{Frame{scan.kind, unread.first(scan.message_size)}};
}

}  // namespace relay::core
