// ChannelData framing (RFC 8656 §12.4) and the STUN/ChannelData demultiplexing
// test (RFC 8489 §6, RFC 7983): both processes and the fuzzers use these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay {

// RFC 8656 §12.4: 2-byte channel number, 2-byte length, then the data.
constexpr size_t kChannelDataHeaderSize = 4;
// RFC 8489 §5: fixed cookie at bytes 4..7 of every STUN message.
constexpr uint32_t kStunMagicCookie = 0x2112A442;
constexpr size_t kStunHeaderSize = 20;

enum class ChannelDataError : uint8_t {
  TooShort,          // fewer than 4 bytes
  NotChannelData,    // first two bits are not 01
  LengthExceedsData, // the length field claims more than was received
};
std::string_view to_string(ChannelDataError e);

struct ChannelDataView {
  ChannelNumber channel;
  std::span<const uint8_t> data;  // exactly `length` bytes; padding excluded
};

inline uint16_t load_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// First two bits 01 (RFC 8656 §12): the cheapest demultiplexing test.
inline bool looks_like_channel_data(std::span<const uint8_t> d) {
  return d.size() >= kChannelDataHeaderSize && (d[0] & 0xC0) == 0x40;
}

// First two bits 00 and the magic cookie (RFC 8489 §5). Does not validate
// the message; the control plane's codec does that.
inline bool looks_like_stun(std::span<const uint8_t> d) {
  return d.size() >= kStunHeaderSize && (d[0] & 0xC0) == 0 && load_be32(d.data() + 4) == kStunMagicCookie;
}

// Padding up to 4 bytes after the data is tolerated (it is required over
// TCP, optional over UDP).
inline Result<ChannelDataView, ChannelDataError> parse_channel_data(std::span<const uint8_t> d) {
  if (d.size() < kChannelDataHeaderSize) return Err{ChannelDataError::TooShort};
  if ((d[0] & 0xC0) != 0x40) return Err{ChannelDataError::NotChannelData};
  uint16_t len = load_be16(d.data() + 2);
  if (len > d.size() - kChannelDataHeaderSize) return Err{ChannelDataError::LengthExceedsData};
  return ChannelDataView{ChannelNumber{load_be16(d.data())}, d.subspan(kChannelDataHeaderSize, len)};
}

// Writes the 4-byte header; over UDP no padding follows (RFC 8656 §12.5).
inline void write_channel_data_header(uint8_t* out, ChannelNumber channel, uint16_t data_len) {
  store_be16(out, channel.value);
  store_be16(out + 2, data_len);
}

}  // namespace relay
