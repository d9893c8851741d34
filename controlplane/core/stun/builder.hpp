// Writes STUN messages into a caller-provided buffer. Attribute calls chain;
// the first failure sticks and finish() reports it, so a call site reads as
// the list of attributes it sends.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "controlplane/core/stun/integrity_key.hpp"
#include "controlplane/core/stun/protocol.hpp"

namespace relay::stun {

enum class BuildError : uint8_t {
  BufferTooSmall,
  ValueTooLong,             // over 65535 bytes or the RFC's limit for the attribute
  InvalidValue,             // e.g. an error code outside 300..699
  AttributeAfterIntegrity,  // RFC 8489 §14.5: only MI-SHA256 / FINGERPRINT may follow
  AttributeAfterFingerprint,  // RFC 8489 §14.7: FINGERPRINT is last
  CryptoFailure,              // libcrypto refused to compute the HMAC
};
std::string_view to_string(BuildError e);

class Builder {
 public:
  Builder(std::span<uint8_t> out, Method method, MessageClass cls, const TransactionId& transaction_id);

  // RFC 8489 §14: padding bytes are ignored by receivers; 0 unless told
  // otherwise (RFC 5769's vectors pad with spaces).
  Builder& padding_byte(uint8_t b);

  Builder& add_attribute(uint16_t type, std::span<const uint8_t> value);
  Builder& add_mapped_address(const SocketAddress& a);
  Builder& add_xor_mapped_address(const SocketAddress& a);
  Builder& add_xor_peer_address(const SocketAddress& a);
  Builder& add_xor_relayed_address(const SocketAddress& a);
  Builder& add_username(std::string_view username);
  Builder& add_realm(std::string_view realm);
  Builder& add_nonce(std::string_view nonce);
  Builder& add_software(std::string_view software);
  // code 300..699; reason empty means reason_phrase(code).
  Builder& add_error_code(uint16_t code, std::string_view reason = {});
  Builder& add_unknown_attributes(std::span<const uint16_t> types);
  Builder& add_lifetime(std::chrono::seconds lifetime);
  Builder& add_requested_transport(uint8_t protocol);
  Builder& add_channel_number(ChannelNumber channel);
  Builder& add_requested_address_family(Family family);
  Builder& add_additional_address_family(Family family);
  Builder& add_address_error_code(Family family, uint16_t code, std::string_view reason = {});
  Builder& add_dont_fragment();
  Builder& add_even_port(EvenPort even_port);
  Builder& add_reservation_token(const ReservationToken& token);
  Builder& add_data(std::span<const uint8_t> data);

  // These three come last, in this order, each optional (RFC 8489 §14.5-7).
  Builder& add_message_integrity(std::span<const uint8_t> key);
  Builder& add_message_integrity(const IntegrityKey& key);  // the same, cheaper
  // length 16..32 in steps of 4 (RFC 8489 §14.6 allows truncation).
  Builder& add_message_integrity_sha256(std::span<const uint8_t> key, size_t length = kMaxMessageIntegritySha256Size);
  Builder& add_fingerprint();

  // The size of the finished message in `out`, or the first error.
  [[nodiscard]] Result<size_t, BuildError> finish() const;

 private:
  enum class Stage : uint8_t { Attributes, AfterIntegrity, AfterIntegritySha256, AfterFingerprint };

  // Reserves header + padded value, writes the header and the padding;
  // returns where the value goes, or nullptr after a failure.
  uint8_t* begin_attribute(uint16_t type, size_t value_len);
  // The same after the ordering checks of an ordinary attribute.
  uint8_t* append(uint16_t type, size_t value_len);
  Builder& add_xor_address(AttributeType type, const SocketAddress& a);
  Builder& add_text(AttributeType type, std::string_view text, size_t max_bytes);
  Builder& add_u32(AttributeType type, uint32_t v);
  Builder& add_family(AttributeType type, Family family);
  Builder& add_error_attribute(uint16_t type, uint8_t first, uint16_t code, std::string_view reason);
  // `sign(covered, length_field, mac)` computes the HMAC; see wire.hpp.
  template <class Sign>
  Builder& add_integrity(AttributeType type, size_t length, Sign sign);
  void fail(BuildError e);
  void set_length_field(size_t body_len);

  std::span<uint8_t> out_;
  size_t size_ = 0;
  std::optional<BuildError> error_;
  Stage stage_ = Stage::Attributes;
  uint8_t padding_ = 0;
};

}  // namespace relay::stun
