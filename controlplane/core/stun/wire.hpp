// Codec internals shared by the parser, the accessors and the builder: the
// message-type bit layout, the attribute slot table and the HMAC helper.
// Not part of the public API.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/stun_wire.hpp"
#include "controlplane/core/stun/integrity_key.hpp"
#include "controlplane/core/stun/protocol.hpp"

namespace relay::stun::wire {

// RFC 8489 §5: the 14-bit message type interleaves the class bits C1 (bit 8)
// and C0 (bit 4) with the 12 method bits.
constexpr uint16_t encode_type(uint16_t method, uint8_t cls) {
  return static_cast<uint16_t>((method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
                               ((cls & 0x1) << 4) | ((cls & 0x2) << 7));
}
constexpr uint16_t decode_method(uint16_t type) {
  return static_cast<uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}
constexpr uint8_t decode_class(uint16_t type) { return static_cast<uint8_t>(((type >> 7) & 0x2) | ((type >> 4) & 0x1)); }

constexpr int kNoSlot = -1;
// Dense index of each known attribute type, so typed lookups are O(1). The
// switch compiles to two small jump tables (0x0001..0x0025, 0x8000..0x8028).
constexpr int slot_of(uint16_t type) {
  switch (static_cast<AttributeType>(type)) {
    case AttributeType::MappedAddress: return 0;
    case AttributeType::Username: return 1;
    case AttributeType::MessageIntegrity: return 2;
    case AttributeType::ErrorCode: return 3;
    case AttributeType::UnknownAttributes: return 4;
    case AttributeType::ChannelNumber: return 5;
    case AttributeType::Lifetime: return 6;
    case AttributeType::XorPeerAddress: return 7;
    case AttributeType::Data: return 8;
    case AttributeType::Realm: return 9;
    case AttributeType::Nonce: return 10;
    case AttributeType::XorRelayedAddress: return 11;
    case AttributeType::RequestedAddressFamily: return 12;
    case AttributeType::EvenPort: return 13;
    case AttributeType::RequestedTransport: return 14;
    case AttributeType::DontFragment: return 15;
    case AttributeType::MessageIntegritySha256: return 16;
    case AttributeType::XorMappedAddress: return 17;
    case AttributeType::ReservationToken: return 18;
    case AttributeType::Priority: return 19;
    case AttributeType::UseCandidate: return 20;
    case AttributeType::AdditionalAddressFamily: return 21;
    case AttributeType::AddressErrorCode: return 22;
    case AttributeType::Software: return 23;
    case AttributeType::Fingerprint: return 24;
  }
  return kNoSlot;
}
constexpr size_t kSlotCount = 25;

// slot_of() for the parser's loop: every known type lies in 0x0000..0x003F
// or 0x8000..0x803F, so one load from a 128-entry table replaces the jump
// through the switch. Unknown types get kUnknownSlot.
constexpr size_t kUnknownSlot = kSlotCount;
constexpr size_t slot_table_index(uint16_t type) { return ((type >> 9) | type) & 0x7F; }
inline constexpr std::array<uint8_t, 128> kSlotTable = [] {
  std::array<uint8_t, 128> t{};
  for (uint16_t low = 0; low < 0x40; ++low) {
    for (const uint16_t type : {low, static_cast<uint16_t>(0x8000 | low)}) {
      const int slot = slot_of(type);
      t[slot_table_index(type)] = static_cast<uint8_t>(slot == kNoSlot ? kUnknownSlot : static_cast<size_t>(slot));
    }
  }
  return t;
}();
constexpr size_t parser_slot_of(uint16_t type) {
  const size_t slot = kSlotTable[slot_table_index(type)];
  return (type & 0x7FC0) != 0 ? kUnknownSlot : slot;  // a bit outside both ranges
}
// slot_of() numbers the known types 0..kSlotCount-1, so finding every slot
// in the table means no known type lies outside its two ranges.
static_assert(std::ranges::count_if(kSlotTable, [](uint8_t slot) { return slot != kUnknownSlot; }) == kSlotCount);

constexpr size_t padded(size_t len) { return (len + 3) & ~size_t{3}; }

// FINGERPRINT's CRC (common/stun_wire.hpp), shared with the data plane.
using stun::CrcPath;
using stun::crc32;
using stun::fingerprint;

enum class Hmac : uint8_t { Sha1, Sha256 };
// HMAC of `covered` (a message from its header up to the integrity
// attribute) with bytes 2..3 of the header replaced by `length_field`, as
// RFC 8489 §14.5 prescribes. Writes 20 or 32 bytes to `out`; false when
// libcrypto fails. Allocates nothing.
bool stun_hmac(Hmac algorithm, std::span<const uint8_t> key, std::span<const uint8_t> covered, uint16_t length_field,
               uint8_t* out);
// The same HMAC-SHA1 with the pads already hashed (integrity_key.hpp).
bool stun_hmac_sha1(const IntegrityKey& key, std::span<const uint8_t> covered, uint16_t length_field, uint8_t* out);

}  // namespace relay::stun::wire
