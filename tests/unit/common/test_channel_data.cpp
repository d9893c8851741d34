#include <gtest/gtest.h>

#include <vector>

#include "common/channel_data.hpp"

using namespace relay;

TEST(ChannelData, ParsesHeaderAndIgnoresPadding) {
  std::vector<uint8_t> d = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0x00};
  auto r = parse_channel_data(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->channel.value, 0x4001);
  ASSERT_EQ(r->data.size(), 3u);
  EXPECT_EQ(r->data[2], 'c');
}

TEST(ChannelData, RejectsLyingLengthShortInputAndStunBits) {
  std::vector<uint8_t> lying = {0x40, 0x01, 0x00, 0x05, 'a', 'b', 'c', 'd'};
  EXPECT_EQ(parse_channel_data(lying).error(), ChannelDataError::LengthExceedsData);
  std::vector<uint8_t> short_input = {0x40, 0x01, 0x00};
  EXPECT_EQ(parse_channel_data(short_input).error(), ChannelDataError::TooShort);
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00};
  EXPECT_EQ(parse_channel_data(stun).error(), ChannelDataError::NotChannelData);
  std::vector<uint8_t> reserved = {0x80, 0x01, 0x00, 0x00};
  EXPECT_EQ(parse_channel_data(reserved).error(), ChannelDataError::NotChannelData);
}

TEST(ChannelData, EmptyPayloadIsValid) {
  std::vector<uint8_t> d = {0x7F, 0xFF, 0x00, 0x00};
  auto r = parse_channel_data(d);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->channel.value, 0x7FFF);
  EXPECT_TRUE(r->data.empty());
}

TEST(ChannelData, WritesHeaderThatParsesBack) {
  uint8_t buf[8] = {};
  write_channel_data_header(buf, ChannelNumber{0x4abc}, 4);
  auto r = parse_channel_data(buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->channel.value, 0x4abc);
  EXPECT_EQ(r->data.size(), 4u);
}

TEST(StunSniff, NeedsCookieAndZeroTopBits) {
  std::vector<uint8_t> m(20, 0);
  m[1] = 0x01;
  store_be32(m.data() + 4, kStunMagicCookie);
  EXPECT_TRUE(looks_like_stun(m));
  m[0] = 0x40;
  EXPECT_FALSE(looks_like_stun(m));
  m[0] = 0;
  m[7] ^= 1;
  EXPECT_FALSE(looks_like_stun(m));
  EXPECT_FALSE(looks_like_stun(std::span(m).first(19)));
}
