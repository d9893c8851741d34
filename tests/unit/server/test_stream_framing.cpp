// The framing of a TURN stream (core/stream_framing): STUN and padded
// ChannelData back to back, split anywhere, and what closes a stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "controlplane/core/stream_framing.hpp"

namespace relay::core {
namespace {

using Bytes = std::vector<uint8_t>;

// A STUN Binding request with `attr_bytes` of (opaque) attribute payload.
Bytes stun_message(uint16_t attr_bytes, uint8_t fill = 0xAB) {
  Bytes m(20 + attr_bytes, fill);
  m[0] = 0x00, m[1] = 0x01;
  m[2] = static_cast<uint8_t>(attr_bytes >> 8), m[3] = static_cast<uint8_t>(attr_bytes);
  m[4] = 0x21, m[5] = 0x12, m[6] = 0xA4, m[7] = 0x42;
  return m;
}
Bytes channel_data(uint16_t channel, uint16_t length, uint8_t fill = 0x5A) {
  Bytes m(4 + length, fill);
  m[0] = static_cast<uint8_t>(channel >> 8), m[1] = static_cast<uint8_t>(channel);
  m[2] = static_cast<uint8_t>(length >> 8), m[3] = static_cast<uint8_t>(length);
  return m;
}
Bytes padded(Bytes m) {
  while (m.size() % 4 != 0) m.push_back(0);
  return m;
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Outcome {
  std::vector<std::pair<FrameKind, Bytes>> frames;
  std::optional<FramingError> error;
};

// Feeds `stream` in pieces of the sizes `cuts` says (the last repeated),
// taking every frame after each piece.
Outcome feed(StreamFramer& framer, const Bytes& stream, const std::vector<size_t>& cuts) {
  Outcome out;
  size_t at = 0, i = 0;
  while (at < stream.size() && !out.error) {
    const size_t want = std::min(cuts[std::min(i++, cuts.size() - 1)], stream.size() - at);
    auto space = framer.free_space();
    const size_t n = std::min(want, space.size());
    EXPECT_GT(n, 0u) << "a framer without room and without a frame would stall";
    if (n == 0) break;
    std::memcpy(space.data(), stream.data() + at, n);
    framer.commit(n);
    at += n;
    for (;;) {
      auto next = framer.next();
      if (!next) {
        out.error = next.error();
        break;
      }
      if (!next.value()) break;
      out.frames.emplace_back(next.value()->kind, Bytes(next.value()->bytes.begin(), next.value()->bytes.end()));
    }
  }
  return out;
}
Outcome feed_all(const Bytes& stream, size_t piece = 1 << 20) {
  StreamFramer framer;
  return feed(framer, stream, {piece});
}

TEST(StreamFraming, AStunMessageIsOneFrame) {
  const Bytes m = stun_message(8);
  const Outcome out = feed_all(m);
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(out.frames[0].first, FrameKind::Stun);
  EXPECT_EQ(out.frames[0].second, m);
  EXPECT_FALSE(out.error);
}

TEST(StreamFraming, ChannelDataIsYieldedWithoutItsPadding) {
  for (uint16_t length : {0, 1, 2, 3, 4, 5, 7, 1200}) {
    const Bytes m = channel_data(0x4001, length);
    const Outcome out = feed_all(concat({padded(m), stun_message(0)}));
    ASSERT_EQ(out.frames.size(), 2u) << length;
    EXPECT_EQ(out.frames[0].first, FrameKind::ChannelData);
    EXPECT_EQ(out.frames[0].second, m) << length;
    EXPECT_EQ(out.frames[1].first, FrameKind::Stun) << "the padding was skipped, length " << length;
  }
}

TEST(StreamFraming, PaddingBytesAreIgnoredWhateverTheyHold) {
  Bytes m = channel_data(0x4001, 1);
  Bytes stream = concat({m, Bytes{0xFF, 0xFF, 0xFF}, stun_message(4)});
  const Outcome out = feed_all(stream);
  ASSERT_EQ(out.frames.size(), 2u);
  EXPECT_EQ(out.frames[0].second, m);
  EXPECT_FALSE(out.error);
}

TEST(StreamFraming, BackToBackFramesOfBothKindsComeOutInOrder) {
  const Bytes a = stun_message(12, 1), b = channel_data(0x4000, 5, 2), c = channel_data(0x7FFF, 8, 3),
              d = stun_message(0, 4);
  const Outcome out = feed_all(concat({a, padded(b), c, d}));
  ASSERT_EQ(out.frames.size(), 4u);
  EXPECT_EQ(out.frames[0].second, a);
  EXPECT_EQ(out.frames[1].second, b);
  EXPECT_EQ(out.frames[2].second, c);
  EXPECT_EQ(out.frames[3].second, d);
}

TEST(StreamFraming, SplittingTheStreamAtEveryByteYieldsTheSameFrames) {
  const Bytes a = stun_message(40), b = channel_data(0x4123, 13), c = stun_message(4);
  const Bytes stream = concat({a, padded(b), c});
  for (size_t first = 1; first < stream.size(); ++first) {
    StreamFramer framer;
    const Outcome out = feed(framer, stream, {first, stream.size()});
    ASSERT_EQ(out.frames.size(), 3u) << "split at " << first;
    EXPECT_EQ(out.frames[0].second, a);
    EXPECT_EQ(out.frames[1].second, b);
    EXPECT_EQ(out.frames[2].second, c);
    EXPECT_EQ(framer.buffered(), 0u);
  }
  StreamFramer bytewise;
  EXPECT_EQ(feed(bytewise, stream, {1}).frames.size(), 3u);
}

TEST(StreamFraming, APartialFrameWaitsForTheRest) {
  const Bytes m = stun_message(100);
  StreamFramer framer;
  const Outcome out = feed(framer, Bytes(m.begin(), m.end() - 1), {1 << 20});
  EXPECT_TRUE(out.frames.empty());
  EXPECT_FALSE(out.error);
  EXPECT_EQ(framer.buffered(), m.size() - 1);
}

TEST(StreamFraming, AFirstByteOfNeitherKindIsGarbageAtOnce) {
  for (uint8_t first : {0x80, 0xC0, 0x16 /* a TLS handshake record */ | 0x80, 0xFF}) {
    const Outcome out = feed_all(Bytes{first});
    EXPECT_EQ(out.error, FramingError::Garbage) << int(first);
  }
  // TLS to the TCP port: 0x16 0x03 0x01 ... starts with bits 00 but has no cookie.
  const Outcome tls = feed_all(Bytes{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03});
  EXPECT_EQ(tls.error, FramingError::Garbage);
}

TEST(StreamFraming, AStunLengthThatIsNoMultipleOfFourIsGarbage) {
  Bytes m = stun_message(8);
  m[3] = 7;
  EXPECT_EQ(feed_all(Bytes(m.begin(), m.begin() + 4)).error, FramingError::Garbage);
}

TEST(StreamFraming, AStunHeaderWithoutTheMagicCookieIsGarbageBeforeItsBodyArrives) {
  Bytes m = stun_message(1000);
  m[5] = 0x13;
  EXPECT_EQ(feed_all(Bytes(m.begin(), m.begin() + 8)).error, FramingError::Garbage);
}

TEST(StreamFraming, LengthsBeyondTheLimitAreOversizedFromTheHeaderAlone) {
  // STUN: 20 + length > 4096; ChannelData: 4 + length padded > 4096.
  Bytes stun = stun_message(0);
  stun[2] = 0x0F, stun[3] = 0xF0;  // 4080 + 20 = 4100
  EXPECT_EQ(feed_all(Bytes(stun.begin(), stun.begin() + 4)).error, FramingError::Oversized);
  const Bytes cd = channel_data(0x4000, 4093);  // 4097 padded to 4100
  EXPECT_EQ(feed_all(Bytes(cd.begin(), cd.begin() + 4)).error, FramingError::Oversized);
  const Bytes lying = channel_data(0x4000, 0xFFFF);
  EXPECT_EQ(feed_all(Bytes(lying.begin(), lying.begin() + 4)).error, FramingError::Oversized);
}

TEST(StreamFraming, FramesOfExactlyTheLimitPass) {
  const Bytes stun = stun_message(kMaxStreamFrame - 20);
  const Bytes cd = channel_data(0x4000, kMaxStreamFrame - 4);
  const Outcome out = feed_all(concat({stun, cd}), 1000);
  ASSERT_EQ(out.frames.size(), 2u);
  EXPECT_FALSE(out.error);
}

TEST(StreamFraming, ALyingLengthThatClaimsMoreThanArrivesOnlyWaits) {
  // A ChannelData claiming 1000 bytes followed by a STUN message: the
  // framer cannot know the length lied, it takes the STUN bytes as data.
  const Bytes lying = Bytes{0x40, 0x00, 0x03, 0xE8};
  StreamFramer framer;
  const Outcome out = feed(framer, concat({lying, stun_message(0)}), {1 << 20});
  EXPECT_TRUE(out.frames.empty());
  EXPECT_FALSE(out.error);
  EXPECT_EQ(framer.buffered(), 24u);
}

TEST(StreamFraming, AfterAnErrorEveryCallSaysTheSame) {
  StreamFramer framer;
  auto space = framer.free_space();
  space[0] = 0xFF;
  framer.commit(1);
  EXPECT_EQ(framer.next().error(), FramingError::Garbage);
  EXPECT_EQ(framer.next().error(), FramingError::Garbage);
}

TEST(StreamFraming, TheReadBufferIsOneMaximalFrame) {
  StreamFramer framer;
  EXPECT_EQ(framer.capacity(), kMaxStreamFrame);
  EXPECT_EQ(framer.free_space().size(), kMaxStreamFrame);
}

TEST(StreamFraming, ScanSaysIncompleteForAnEmptyOrShortHeader) {
  EXPECT_EQ(scan_frame({}).status, FrameScan::Status::Incomplete);
  const Bytes three{0x40, 0x00, 0x00};
  EXPECT_EQ(scan_frame(three).status, FrameScan::Status::Incomplete);
  EXPECT_EQ(scan_frame(three).kind, FrameKind::ChannelData);
}

}  // namespace
}  // namespace relay::core
