// The STUN wire vocabulary both processes need: attribute types (the
// control plane's codec, and the data plane's Send indication parser) and
// FINGERPRINT's CRC-32 (the codec, Send indications, Data indications).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace relay::stun {

// Attribute types (RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1 for the two
// ICE ones). Types below 0x8000 are comprehension-required (RFC 8489 §14):
// an unknown one makes the server answer 420, or discard an indication.
enum class AttributeType : uint16_t {
  MappedAddress = 0x0001,
  Username = 0x0006,
  MessageIntegrity = 0x0008,
  ErrorCode = 0x0009,
  UnknownAttributes = 0x000A,
  ChannelNumber = 0x000C,
  Lifetime = 0x000D,
  XorPeerAddress = 0x0012,
  Data = 0x0013,
  Realm = 0x0014,
  Nonce = 0x0015,
  XorRelayedAddress = 0x0016,
  RequestedAddressFamily = 0x0017,
  EvenPort = 0x0018,
  RequestedTransport = 0x0019,
  DontFragment = 0x001A,
  MessageIntegritySha256 = 0x001C,
  XorMappedAddress = 0x0020,
  ReservationToken = 0x0022,
  // An ICE agent may send these in a Binding request (RFC 8445 §7.1); they
  // are understood so that it gets an answer instead of a 420.
  Priority = 0x0024,
  UseCandidate = 0x0025,
  AdditionalAddressFamily = 0x8000,
  AddressErrorCode = 0x8001,
  Software = 0x8022,
  Fingerprint = 0x8028,
};

// True for the types above; others are skipped or reported as unknown.
constexpr bool is_known(uint16_t type) {
  switch (static_cast<AttributeType>(type)) {
    case AttributeType::MappedAddress:
    case AttributeType::Username:
    case AttributeType::MessageIntegrity:
    case AttributeType::ErrorCode:
    case AttributeType::UnknownAttributes:
    case AttributeType::ChannelNumber:
    case AttributeType::Lifetime:
    case AttributeType::XorPeerAddress:
    case AttributeType::Data:
    case AttributeType::Realm:
    case AttributeType::Nonce:
    case AttributeType::XorRelayedAddress:
    case AttributeType::RequestedAddressFamily:
    case AttributeType::EvenPort:
    case AttributeType::RequestedTransport:
    case AttributeType::DontFragment:
    case AttributeType::MessageIntegritySha256:
    case AttributeType::XorMappedAddress:
    case AttributeType::ReservationToken:
    case AttributeType::Priority:
    case AttributeType::UseCandidate:
    case AttributeType::AdditionalAddressFamily:
    case AttributeType::AddressErrorCode:
    case AttributeType::Software:
    case AttributeType::Fingerprint:
      return true;
  }
  return false;
}
constexpr bool is_comprehension_required(uint16_t type) { return type < 0x8000; }

// RFC 8489 §14.7: FINGERPRINT is the CRC-32 of the message before it, XOR
// this constant.
constexpr uint32_t kFingerprintXor = 0x5354554E;
constexpr size_t kFingerprintSize = 4;

// CRC-32 exactly as zlib's crc32(0, data, size), on the fastest path the
// CPU has but not faster than `fastest` (the tests compare every path).
enum class CrcPath : uint8_t { Zlib, Clmul, WideClmul };
uint32_t crc32(std::span<const uint8_t> data, CrcPath fastest = CrcPath::WideClmul);
// RFC 8489 §14.7: crc32 XOR 0x5354554E.
inline uint32_t fingerprint(std::span<const uint8_t> covered) { return crc32(covered) ^ kFingerprintXor; }

}  // namespace relay::stun
