// Codec internals shared by the parser, the accessors and the builder: the
// message-type bit layout, the attribute slot table and the HMAC helper.
// Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

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

constexpr size_t padded(size_t len) { return (len + 3) & ~size_t{3}; }

// CRC-32 exactly as zlib's crc32(0, data, size); allow_clmul = false forces
// the plain zlib path (the tests compare the two).
uint32_t crc32(std::span<const uint8_t> data, bool allow_clmul);
// RFC 8489 §14.7: crc32 XOR 0x5354554E.
uint32_t fingerprint(std::span<const uint8_t> covered);

enum class Hmac : uint8_t { Sha1, Sha256 };
// HMAC of `covered` (a message from its header up to the integrity
// attribute) with bytes 2..3 of the header replaced by `length_field`, as
// RFC 8489 §14.5 prescribes. Writes 20 or 32 bytes to `out`; false when
// libcrypto fails. Allocates nothing.
bool stun_hmac(Hmac algorithm, std::span<const uint8_t> key, std::span<const uint8_t> covered, uint16_t length_field,
               uint8_t* out);

}  // namespace relay::stun::wire
