// Feeds arbitrary datagrams to the ChannelData framing and the STUN/
// ChannelData demultiplexing tests; a frame that parses must frame again
// to the same bytes and never be mistaken for STUN.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/channel_data.hpp"
#include "controlplane/core/stun/stun.hpp"

namespace {
void check(bool invariant) {
  if (!invariant) __builtin_trap();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  auto frame = relay::parse_channel_data(in);
  if (!frame.ok()) return 0;
  check(relay::looks_like_channel_data(in));
  check(!relay::looks_like_stun(in));
  check(!relay::stun::parse(in).ok());
  check(frame->data.size() <= size - relay::kChannelDataHeaderSize);
  static std::array<uint8_t, 70000> out;
  relay::write_channel_data_header(out.data(), frame->channel, static_cast<uint16_t>(frame->data.size()));
  std::copy(frame->data.begin(), frame->data.end(), out.begin() + relay::kChannelDataHeaderSize);
  auto again = relay::parse_channel_data(std::span<const uint8_t>(out.data(), 4 + frame->data.size()));
  check(again.ok() && again->channel == frame->channel && again->data.size() == frame->data.size());
  check(std::equal(again->data.begin(), again->data.end(), frame->data.begin()));
  return 0;
}
