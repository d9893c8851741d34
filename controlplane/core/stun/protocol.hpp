// STUN/TURN wire vocabulary: methods, classes, attribute types, error codes
// and the small value types the typed accessors return.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/channel_data.hpp"
#include "common/net_types.hpp"
#include "common/stun_wire.hpp"

namespace relay::stun {

// RFC 8489 §5: a 20-byte header whose bytes 4..7 hold the magic cookie.
constexpr size_t kHeaderSize = kStunHeaderSize;
constexpr uint32_t kMagicCookie = kStunMagicCookie;
// RFC 8489 §14: a 4-byte type-length header, values padded to 4 bytes.
constexpr size_t kAttributeHeaderSize = 4;
// Bounds the parser's work and its fixed index; a TURN request carries
// about ten attributes, so a message with more is refused.
constexpr size_t kMaxAttributes = 32;

// RFC 8489 §5: 96 bits chosen by the client, echoed in the response.
using TransactionId = std::array<uint8_t, 12>;

// RFC 8489 §18.2 (Binding) and RFC 8656 §17 (the TURN methods). Only the
// 12 method bits; an unlisted value is carried as it is.
enum class Method : uint16_t {
  Binding = 0x001,
  Allocate = 0x003,
  Refresh = 0x004,
  Send = 0x006,
  Data = 0x007,
  CreatePermission = 0x008,
  ChannelBind = 0x009,
};
std::string_view to_string(Method m);

// RFC 8489 §5: the two class bits C1 C0.
enum class MessageClass : uint8_t {
  Request = 0b00,
  Indication = 0b01,
  SuccessResponse = 0b10,
  ErrorResponse = 0b11,
};
std::string_view to_string(MessageClass c);

// AttributeType and is_known() live in common/stun_wire.hpp (the data plane
// reads Send indications too).
std::string_view to_string(AttributeType t);


// RFC 8489 §14.8 and RFC 8656 §18 error codes, as class * 100 + number.
namespace error_code {
constexpr uint16_t kTryAlternate = 300;                 // RFC 8489 §14.8
constexpr uint16_t kBadRequest = 400;                   // RFC 8489 §14.8
constexpr uint16_t kUnauthorized = 401;                 // RFC 8489 §14.8
constexpr uint16_t kForbidden = 403;                    // RFC 8656 §18
constexpr uint16_t kUnknownAttribute = 420;             // RFC 8489 §14.8
constexpr uint16_t kAllocationMismatch = 437;           // RFC 8656 §18
constexpr uint16_t kStaleNonce = 438;                   // RFC 8489 §14.8
constexpr uint16_t kAddressFamilyNotSupported = 440;    // RFC 8656 §18
constexpr uint16_t kWrongCredentials = 441;             // RFC 8656 §18
constexpr uint16_t kUnsupportedTransportProtocol = 442; // RFC 8656 §18
constexpr uint16_t kPeerAddressFamilyMismatch = 443;    // RFC 8656 §18
constexpr uint16_t kAllocationQuotaReached = 486;       // RFC 8656 §18
constexpr uint16_t kServerError = 500;                  // RFC 8489 §14.8
constexpr uint16_t kInsufficientCapacity = 508;         // RFC 8656 §18
}  // namespace error_code
// The RFC's suggested reason phrase, or "" for a code it does not list.
std::string_view reason_phrase(uint16_t code);

// RFC 8656 §14.7: the protocol number of UDP, the only transport relayed.
constexpr uint8_t kTransportUdp = 17;

// Length limits from RFC 8489 §14.3 (USERNAME), §14.9 (REALM), §14.10
// (NONCE), §14.14 (SOFTWARE) and §14.8 (reason phrase).
constexpr size_t kMaxUsernameBytes = 513;
constexpr size_t kMaxRealmBytes = 763;
constexpr size_t kMaxNonceBytes = 763;
constexpr size_t kMaxSoftwareBytes = 763;
constexpr size_t kMaxReasonBytes = 509;

// RFC 8489 §14.5: HMAC-SHA1, 20 bytes. §14.6: HMAC-SHA256, 16..32 bytes in
// steps of 4 (truncation allowed). §14.7: CRC-32 XOR 0x5354554E.
constexpr size_t kMessageIntegritySize = 20;
constexpr size_t kMinMessageIntegritySha256Size = 16;
constexpr size_t kMaxMessageIntegritySha256Size = 32;

// ERROR-CODE (RFC 8489 §14.8): code = class * 100 + number, 300..699.
struct ErrorCode {
  uint16_t code = 0;
  std::string_view reason;  // UTF-8, points into the message
  [[nodiscard]] uint8_t error_class() const { return static_cast<uint8_t>(code / 100); }
  [[nodiscard]] uint8_t number() const { return static_cast<uint8_t>(code % 100); }
};

// ADDRESS-ERROR-CODE (RFC 8656 §14.11): which family the error is about.
struct AddressErrorCode {
  Family family = Family::V4;
  uint16_t code = 0;
  std::string_view reason;
};

// EVEN-PORT (RFC 8656 §14.6): R asks to also reserve the next port.
struct EvenPort {
  bool reserve_next = false;
  auto operator<=>(const EvenPort&) const = default;
};

// RESERVATION-TOKEN (RFC 8656 §14.9): 8 opaque bytes.
using ReservationToken = std::array<uint8_t, 8>;

// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13) as a view of big-endian 16-bit types.
class AttributeTypeList {
 public:
  AttributeTypeList() = default;
  explicit AttributeTypeList(std::span<const uint8_t> raw) : raw_(raw) {}
  [[nodiscard]] size_t size() const { return raw_.size() / 2; }
  [[nodiscard]] bool empty() const { return raw_.empty(); }
  [[nodiscard]] uint16_t operator[](size_t i) const { return load_be16(raw_.data() + 2 * i); }

 private:
  std::span<const uint8_t> raw_;
};

// Every XOR-PEER-ADDRESS or XOR-RELAYED-ADDRESS of a message, in order
// (RFC 8656 §9.1 allows several peers in CreatePermission; §7.3 two relayed
// addresses for a dual-family allocation).
class AddressList {
 public:
  [[nodiscard]] size_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] const SocketAddress& operator[](size_t i) const { return items_[i]; }
  [[nodiscard]] const SocketAddress* begin() const { return items_.data(); }
  [[nodiscard]] const SocketAddress* end() const { return items_.data() + count_; }
  void push_back(const SocketAddress& a) {
    if (count_ < items_.size()) items_[count_++] = a;
  }

 private:
  std::array<SocketAddress, kMaxAttributes> items_{};
  size_t count_ = 0;
};

}  // namespace relay::stun
