// Feeds an arbitrary byte stream to the stream framing (core/stream_framing)
// in pieces whose sizes come from the input: each frame must be what
// scan_frame says of the same bytes fed at once, STUN frames must carry the
// cookie and a length that matches, ChannelData its own length, and the
// framer must never run out of room without a frame or an error.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "common/channel_data.hpp"
#include "controlplane/core/stream_framing.hpp"

namespace {
void check(bool invariant) {
  if (!invariant) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relay;
  if (size < 1) return 0;
  const size_t piece = 1 + data[0] % 64;  // the read size
  const std::span<const uint8_t> stream(data + 1, size - 1);
  core::StreamFramer framer(512);
  size_t at = 0, consumed = 0;
  while (at < stream.size()) {
    auto space = framer.free_space();
    check(!space.empty());
    const size_t n = std::min({piece, space.size(), stream.size() - at});
    std::memcpy(space.data(), stream.data() + at, n);
    framer.commit(n);
    at += n;
    for (;;) {
      auto next = framer.next();
      if (!next) {
        const auto scan = core::scan_frame(stream.subspan(consumed), 512);
        check(scan.status == core::FrameScan::Status::Garbage || scan.status == core::FrameScan::Status::Oversized);
        return 0;
      }
      if (!next.value()) break;
      const core::Frame f = *next.value();
      const auto scan = core::scan_frame(stream.subspan(consumed), 512);
      check(scan.status == core::FrameScan::Status::Complete && scan.message_size == f.bytes.size());
      check(std::memcmp(f.bytes.data(), stream.data() + consumed, f.bytes.size()) == 0);
      if (f.kind == core::FrameKind::Stun) {
        check(looks_like_stun(f.bytes) && load_be16(f.bytes.data() + 2) + kStunHeaderSize == f.bytes.size());
      } else {
        auto cd = parse_channel_data(f.bytes);
        check(cd.ok() && cd->data.size() + kChannelDataHeaderSize == f.bytes.size());
      }
      consumed += scan.frame_size;
      check(scan.frame_size % 4 == 0 && scan.frame_size <= 512);
    }
  }
  return 0;
}
