// A parsed STUN message: a zero-copy view over the datagram with a fixed
// index of its attributes, and typed accessors for every attribute the
// relay understands (RFC 8489, RFC 8656).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ranges>
#include <type_traits>
#include <span>
#include <string_view>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "controlplane/core/stun/integrity_key.hpp"
#include "controlplane/core/stun/protocol.hpp"

namespace relay::stun {

// Why a datagram is not a well-formed STUN message. Each value names one
// rule; ParseFailure::offset says where in the datagram it was broken.
enum class ParseError : uint8_t {
  TooShort,                        // fewer than 20 bytes (offset: datagram size)
  NotStun,                         // first two bits not 00, RFC 8489 §6 (offset 0)
  BadMagicCookie,                  // RFC 8489 §5 (offset 4)
  LengthMismatch,                  // length field != datagram size - 20 (offset 2)
  LengthNotMultipleOf4,            // 1..3 stray bytes where an attribute should start, RFC 8489 §5
  AttributeOverrun,                // value runs past the end (offset: attribute)
  MissingPadding,                  // value fits, its padding to 4 bytes does not, RFC 8489 §14
  TooManyAttributes,               // more than kMaxAttributes (offset: the first one too many)
  BadMessageIntegrityLength,       // not 20 bytes, RFC 8489 §14.5
  BadMessageIntegritySha256Length, // not 16..32 in steps of 4, RFC 8489 §14.6
  BadFingerprintLength,            // not 4 bytes, RFC 8489 §14.7
  AttributeAfterMessageIntegrity,  // only MI-SHA256 / FINGERPRINT may follow, RFC 8489 §14.5
  AttributeAfterFingerprint,       // FINGERPRINT is last, RFC 8489 §14.7
  FingerprintMismatch,             // CRC-32 check failed (offset: FINGERPRINT)
};
std::string_view to_string(ParseError e);

struct ParseFailure {
  ParseError error;
  size_t offset;
  auto operator<=>(const ParseFailure&) const = default;
};

// Why a present attribute's value cannot be used; the server answers 400
// (or 440 for UnknownFamily in REQUESTED-ADDRESS-FAMILY, RFC 8656 §7.2).
enum class AttributeError : uint8_t {
  WrongLength,    // the value's length does not fit the attribute's format
  UnknownFamily,  // an address family other than 0x01 / 0x02
  InvalidValue,   // e.g. ERROR-CODE class outside 3..6 or number > 99
  TooLong,        // above the RFC's maximum for the text attribute
};
std::string_view to_string(AttributeError e);

// A typed accessor's answer: an error when the attribute is present but
// malformed, otherwise the value or nullopt when it is absent.
template <class T>
using Field = Result<std::optional<T>, AttributeError>;

// Result of checking MESSAGE-INTEGRITY(-SHA256) against a key.
enum class Integrity : uint8_t { Valid, Absent, Mismatch };

struct RawAttribute {
  uint16_t type;
  std::span<const uint8_t> value;  // without padding
  size_t offset;                   // of the attribute header in the datagram
};

// Comprehension-required attributes the codec does not know, in order of
// appearance: what a 420 response lists in UNKNOWN-ATTRIBUTES.
struct UnknownTypes {
  std::array<uint16_t, kMaxAttributes> types{};
  size_t count = 0;
  [[nodiscard]] std::span<const uint16_t> view() const { return {types.data(), count}; }
  [[nodiscard]] bool empty() const { return count == 0; }
};

class Message {
 public:
  [[nodiscard]] Method method() const;
  [[nodiscard]] MessageClass message_class() const;
  [[nodiscard]] TransactionId transaction_id() const;
  [[nodiscard]] std::span<const uint8_t> bytes() const { return bytes_; }

  // Generic access; the first of duplicate attributes wins (RFC 8489 §14).
  [[nodiscard]] std::optional<std::span<const uint8_t>> attribute(uint16_t type) const;
  [[nodiscard]] size_t attribute_count() const { return count_; }
  [[nodiscard]] RawAttribute attribute_at(size_t i) const;
  [[nodiscard]] UnknownTypes unknown_comprehension_required() const;

  [[nodiscard]] Field<SocketAddress> mapped_address() const;
  [[nodiscard]] Field<SocketAddress> xor_mapped_address() const;
  // All occurrences; an error if any one of them is malformed, empty if none.
  [[nodiscard]] Result<AddressList, AttributeError> xor_peer_addresses() const;
  [[nodiscard]] Result<AddressList, AttributeError> xor_relayed_addresses() const;
  [[nodiscard]] Field<std::string_view> username() const;
  [[nodiscard]] Field<std::string_view> realm() const;
  [[nodiscard]] Field<std::string_view> nonce() const;
  [[nodiscard]] Field<std::string_view> software() const;
  [[nodiscard]] Field<ErrorCode> error_code() const;
  [[nodiscard]] Field<AttributeTypeList> unknown_attributes() const;
  [[nodiscard]] Field<std::chrono::seconds> lifetime() const;
  [[nodiscard]] Field<uint8_t> requested_transport() const;  // IANA protocol number
  // The raw number; whether it lies in 0x4000..0x7FFF is the server's call.
  [[nodiscard]] Field<ChannelNumber> channel_number() const;
  [[nodiscard]] Field<Family> requested_address_family() const;
  [[nodiscard]] Field<Family> additional_address_family() const;
  [[nodiscard]] Field<AddressErrorCode> address_error_code() const;
  [[nodiscard]] Result<bool, AttributeError> dont_fragment() const;  // true when present
  [[nodiscard]] Field<EvenPort> even_port() const;
  [[nodiscard]] Field<ReservationToken> reservation_token() const;
  [[nodiscard]] Field<std::span<const uint8_t>> data() const;

  [[nodiscard]] bool has_message_integrity() const;
  [[nodiscard]] bool has_message_integrity_sha256() const;
  [[nodiscard]] bool has_fingerprint() const;  // already verified by parse()
  // HMAC over the message up to the attribute with the header length
  // adjusted to end right after it (RFC 8489 §14.5, §14.6); constant-time
  // comparison. The key is the long-term key (RFC 8489 §9.2.2) or the
  // short-term password; as an IntegrityKey it costs two SHA-1 blocks less.
  [[nodiscard]] Integrity verify_message_integrity(std::span<const uint8_t> key) const;
  [[nodiscard]] Integrity verify_message_integrity(const IntegrityKey& key) const;
  [[nodiscard]] Integrity verify_message_integrity_sha256(std::span<const uint8_t> key) const;

  // Where the parser put each known attribute: one slot per AttributeType.
  static constexpr size_t kKnownSlots = 25;

 private:
  friend Result<Message, ParseFailure> parse(std::span<const uint8_t> datagram);
  // What parse() does, into this default-constructed Message.
  [[nodiscard]] std::optional<ParseFailure> index(std::span<const uint8_t> datagram);
  static constexpr uint16_t kAbsent = 0xFFFF;
  static constexpr std::array<uint16_t, kKnownSlots> kNoneFound = [] {
    std::array<uint16_t, kKnownSlots> a{};
    a.fill(kAbsent);
    return a;
  }();

  // Offset of the first occurrence of a known type's header, or nullopt.
  [[nodiscard]] std::optional<size_t> first(AttributeType t) const;
  [[nodiscard]] std::optional<std::span<const uint8_t>> value(AttributeType t) const;
  [[nodiscard]] Result<AddressList, AttributeError> all_xor_addresses(AttributeType t) const;
  [[nodiscard]] Field<std::string_view> text(AttributeType t, size_t max_bytes) const;

  std::span<const uint8_t> bytes_;
  // Attribute header offsets relative to the end of the STUN header, so a
  // 16-bit value covers every message the 16-bit length field can describe.
  std::array<uint16_t, kMaxAttributes> offsets_{};
  std::array<uint16_t, kKnownSlots> first_ = kNoneFound;
  uint8_t count_ = 0;
  bool has_unknown_required_ = false;
};

// Parses one datagram. Reads nothing outside `datagram`, allocates nothing,
// never throws. Checks the header, walks the attributes once, enforces the
// MESSAGE-INTEGRITY / FINGERPRINT ordering and verifies FINGERPRINT if
// present. The returned view borrows `datagram`.
Result<Message, ParseFailure> parse(std::span<const uint8_t> datagram);
// A view of a temporary buffer (parse(make_bytes())) would dangle at once.
template <class Buffer>
  requires(!std::is_lvalue_reference_v<Buffer> && !std::ranges::borrowed_range<Buffer>)
Result<Message, ParseFailure> parse(Buffer&&) = delete;

}  // namespace relay::stun
