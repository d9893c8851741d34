// What the generators put at the start of every ChannelData payload, so the
// receiving end can tell a probe from anything else and time it: sequence
// number, send timestamp (the generator's own clock), client index, all
// big-endian; the rest of the payload is zero.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/channel_data.hpp"

namespace relay::loadgen {

constexpr size_t kSeqOffset = 0, kStampOffset = 8, kClientOffset = 16;
constexpr size_t kProbeBytes = 20;  // the smallest payload --payload allows

inline uint64_t load_be64(const uint8_t* p) { return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4); }
inline void store_be64(uint8_t* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

inline void write_probe(uint8_t* payload, uint64_t seq, uint64_t stamp, uint32_t client) {
  store_be64(payload + kSeqOffset, seq);
  store_be64(payload + kStampOffset, stamp);
  store_be32(payload + kClientOffset, client);
}

inline uint64_t probe_stamp(const uint8_t* payload) { return load_be64(payload + kStampOffset); }

}  // namespace relay::loadgen
