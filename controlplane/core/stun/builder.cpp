// The builder: attributes appended in call order, padded to 4 bytes, the
// header's length field kept current so the integrity attributes can be
// computed in place.
#include "controlplane/core/stun/builder.hpp"

#include <algorithm>
#include <cstring>

#include "controlplane/core/stun/wire.hpp"

namespace relay::stun {

std::string_view to_string(BuildError e) {
  switch (e) {
    case BuildError::BufferTooSmall: return "buffer-too-small";
    case BuildError::ValueTooLong: return "value-too-long";
    case BuildError::InvalidValue: return "invalid-value";
    case BuildError::AttributeAfterIntegrity: return "attribute-after-integrity";
    case BuildError::AttributeAfterFingerprint: return "attribute-after-fingerprint";
    case BuildError::CryptoFailure: return "crypto-failure";
  }
  return "unknown";
}

namespace {
constexpr uint16_t type_of(AttributeType t) { return static_cast<uint16_t>(t); }
constexpr size_t kMaxBody = 0xFFFF & ~size_t{3};
}  // namespace

Builder::Builder(std::span<uint8_t> out, Method method, MessageClass cls, const TransactionId& transaction_id)
    : out_(out) {
  if (out.size() < kHeaderSize) {
    fail(BuildError::BufferTooSmall);
    return;
  }
  store_be16(out.data(), wire::encode_type(static_cast<uint16_t>(method), static_cast<uint8_t>(cls)));
  store_be16(out.data() + 2, 0);
  store_be32(out.data() + 4, kMagicCookie);
  std::copy(transaction_id.begin(), transaction_id.end(), out.data() + 8);
  size_ = kHeaderSize;
}

Builder& Builder::padding_byte(uint8_t b) {
  padding_ = b;
  return *this;
}

void Builder::fail(BuildError e) {
  if (!error_) error_ = e;
}

void Builder::set_length_field(size_t body_len) { store_be16(out_.data() + 2, static_cast<uint16_t>(body_len)); }

uint8_t* Builder::begin_attribute(uint16_t type, size_t value_len) {
  if (error_) return nullptr;
  if (value_len > 0xFFFF || size_ - kHeaderSize + kAttributeHeaderSize + wire::padded(value_len) > kMaxBody) {
    fail(BuildError::ValueTooLong);
    return nullptr;
  }
  const size_t total = kAttributeHeaderSize + wire::padded(value_len);
  if (out_.size() - size_ < total) {
    fail(BuildError::BufferTooSmall);
    return nullptr;
  }
  uint8_t* at = out_.data() + size_;
  store_be16(at, type);
  store_be16(at + 2, static_cast<uint16_t>(value_len));
  std::fill(at + kAttributeHeaderSize + value_len, at + total, padding_);
  size_ += total;
  set_length_field(size_ - kHeaderSize);
  return at + kAttributeHeaderSize;
}

uint8_t* Builder::append(uint16_t type, size_t value_len) {
  if (stage_ == Stage::AfterFingerprint) {
    fail(BuildError::AttributeAfterFingerprint);
    return nullptr;
  }
  if (stage_ != Stage::Attributes) {
    fail(BuildError::AttributeAfterIntegrity);
    return nullptr;
  }
  return begin_attribute(type, value_len);
}

Builder& Builder::add_attribute(uint16_t type, std::span<const uint8_t> value) {
  if (uint8_t* v = append(type, value.size()); v != nullptr && !value.empty())
    std::memcpy(v, value.data(), value.size());
  return *this;
}

// RFC 8489 §14.1-14.2; XOR with the cookie and, for IPv6, the transaction id
// (the 16 header bytes from offset 4).
Builder& Builder::add_xor_address(AttributeType type, const SocketAddress& a) {
  std::array<uint8_t, 20> v{};
  const size_t addr_len = a.ip.size();
  v[1] = static_cast<uint8_t>(a.family());
  store_be16(v.data() + 2, a.port);
  std::copy_n(a.ip.bytes.begin(), addr_len, v.begin() + 4);
  if (type != AttributeType::MappedAddress && size_ >= kHeaderSize) {
    const uint8_t* key = out_.data() + 4;
    for (size_t i = 0; i < 2; ++i) v[2 + i] ^= key[i];
    for (size_t i = 0; i < addr_len; ++i) v[4 + i] ^= key[i];
  }
  return add_attribute(type_of(type), std::span<const uint8_t>(v.data(), 4 + addr_len));
}

Builder& Builder::add_mapped_address(const SocketAddress& a) { return add_xor_address(AttributeType::MappedAddress, a); }
Builder& Builder::add_xor_mapped_address(const SocketAddress& a) {
  return add_xor_address(AttributeType::XorMappedAddress, a);
}
Builder& Builder::add_xor_peer_address(const SocketAddress& a) {
  return add_xor_address(AttributeType::XorPeerAddress, a);
}
Builder& Builder::add_xor_relayed_address(const SocketAddress& a) {
  return add_xor_address(AttributeType::XorRelayedAddress, a);
}

Builder& Builder::add_text(AttributeType type, std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    fail(BuildError::ValueTooLong);
    return *this;
  }
  return add_attribute(type_of(type), std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Builder& Builder::add_username(std::string_view u) { return add_text(AttributeType::Username, u, kMaxUsernameBytes); }
Builder& Builder::add_realm(std::string_view r) { return add_text(AttributeType::Realm, r, kMaxRealmBytes); }
Builder& Builder::add_nonce(std::string_view n) { return add_text(AttributeType::Nonce, n, kMaxNonceBytes); }
Builder& Builder::add_software(std::string_view s) { return add_text(AttributeType::Software, s, kMaxSoftwareBytes); }

Builder& Builder::add_error_code(uint16_t code, std::string_view reason) {
  return add_error_attribute(type_of(AttributeType::ErrorCode), 0, code, reason);
}

Builder& Builder::add_address_error_code(Family family, uint16_t code, std::string_view reason) {
  return add_error_attribute(type_of(AttributeType::AddressErrorCode), static_cast<uint8_t>(family), code,
                                     reason);
}

// RFC 8489 §14.8 (ERROR-CODE) and RFC 8656 §14.11 (ADDRESS-ERROR-CODE) share
// this layout; only byte 0 differs. Written in place: a staging buffer
// sized for the longest reason was 513 bytes to clear per error response.
Builder& Builder::add_error_attribute(uint16_t type, uint8_t first, uint16_t code, std::string_view reason) {
  if (reason.size() > kMaxReasonBytes) {
    fail(BuildError::ValueTooLong);
    return *this;
  }
  if (code < 300 || code > 699) {
    fail(BuildError::InvalidValue);
    return *this;
  }
  if (reason.empty()) reason = reason_phrase(code);
  if (uint8_t* v = append(type, 4 + reason.size())) {
    v[0] = first;
    v[1] = 0;
    v[2] = static_cast<uint8_t>(code / 100);
    v[3] = static_cast<uint8_t>(code % 100);
    std::copy(reason.begin(), reason.end(), v + 4);
  }
  return *this;
}

Builder& Builder::add_unknown_attributes(std::span<const uint16_t> types) {
  std::array<uint8_t, 2 * kMaxAttributes> v{};
  if (types.size() > kMaxAttributes) {
    fail(BuildError::ValueTooLong);
    return *this;
  }
  for (size_t i = 0; i < types.size(); ++i) store_be16(v.data() + 2 * i, types[i]);
  return add_attribute(type_of(AttributeType::UnknownAttributes), std::span<const uint8_t>(v.data(), 2 * types.size()));
}

Builder& Builder::add_u32(AttributeType type, uint32_t value) {
  std::array<uint8_t, 4> v{};
  store_be32(v.data(), value);
  return add_attribute(type_of(type), v);
}

Builder& Builder::add_lifetime(std::chrono::seconds lifetime) {
  if (lifetime.count() < 0 || lifetime.count() > 0xFFFFFFFF) {
    fail(BuildError::InvalidValue);
    return *this;
  }
  return add_u32(AttributeType::Lifetime, static_cast<uint32_t>(lifetime.count()));
}

Builder& Builder::add_requested_transport(uint8_t protocol) {
  return add_u32(AttributeType::RequestedTransport, uint32_t{protocol} << 24);
}

Builder& Builder::add_channel_number(ChannelNumber channel) {
  return add_u32(AttributeType::ChannelNumber, uint32_t{channel.value} << 16);
}

Builder& Builder::add_family(AttributeType type, Family family) {
  return add_u32(type, uint32_t{static_cast<uint8_t>(family)} << 24);
}

Builder& Builder::add_requested_address_family(Family f) { return add_family(AttributeType::RequestedAddressFamily, f); }
Builder& Builder::add_additional_address_family(Family f) {
  return add_family(AttributeType::AdditionalAddressFamily, f);
}

Builder& Builder::add_dont_fragment() { return add_attribute(type_of(AttributeType::DontFragment), {}); }

Builder& Builder::add_even_port(EvenPort even_port) {
  const std::array<uint8_t, 1> v{static_cast<uint8_t>(even_port.reserve_next ? 0x80 : 0x00)};
  return add_attribute(type_of(AttributeType::EvenPort), v);
}

Builder& Builder::add_reservation_token(const ReservationToken& token) {
  return add_attribute(type_of(AttributeType::ReservationToken), token);
}

Builder& Builder::add_data(std::span<const uint8_t> data) { return add_attribute(type_of(AttributeType::Data), data); }

template <class Sign>
Builder& Builder::add_integrity(AttributeType type, size_t length, Sign sign) {
  const size_t at = size_;
  uint8_t* v = begin_attribute(type_of(type), length);
  if (v == nullptr) return *this;
  std::array<uint8_t, kMaxMessageIntegritySha256Size> mac{};
  // The length field already counts this attribute, as RFC 8489 §14.5 wants.
  if (!sign(out_.first(at), static_cast<uint16_t>(size_ - kHeaderSize), mac.data())) {
    fail(BuildError::CryptoFailure);
    return *this;
  }
  std::copy_n(mac.begin(), length, v);
  return *this;
}

Builder& Builder::add_message_integrity(std::span<const uint8_t> key) {
  return add_message_integrity(IntegrityKey(key));
}

Builder& Builder::add_message_integrity(const IntegrityKey& key) {
  if (stage_ != Stage::Attributes) {
    fail(stage_ == Stage::AfterFingerprint ? BuildError::AttributeAfterFingerprint
                                           : BuildError::AttributeAfterIntegrity);
    return *this;
  }
  stage_ = Stage::AfterIntegrity;
  return add_integrity(AttributeType::MessageIntegrity, kMessageIntegritySize,
                       [&](std::span<const uint8_t> covered, uint16_t length_field, uint8_t* mac) {
                         return wire::stun_hmac_sha1(key, covered, length_field, mac);
                       });
}

Builder& Builder::add_message_integrity_sha256(std::span<const uint8_t> key, size_t length) {
  if (stage_ == Stage::AfterFingerprint) {
    fail(BuildError::AttributeAfterFingerprint);
    return *this;
  }
  if (stage_ == Stage::AfterIntegritySha256) {
    fail(BuildError::AttributeAfterIntegrity);
    return *this;
  }
  if (length < kMinMessageIntegritySha256Size || length > kMaxMessageIntegritySha256Size || length % 4 != 0) {
    fail(BuildError::InvalidValue);
    return *this;
  }
  stage_ = Stage::AfterIntegritySha256;
  return add_integrity(AttributeType::MessageIntegritySha256, length,
                       [&](std::span<const uint8_t> covered, uint16_t length_field, uint8_t* mac) {
                         return wire::stun_hmac(wire::Hmac::Sha256, key, covered, length_field, mac);
                       });
}

Builder& Builder::add_fingerprint() {
  if (stage_ == Stage::AfterFingerprint) {
    fail(BuildError::AttributeAfterFingerprint);
    return *this;
  }
  stage_ = Stage::AfterFingerprint;
  const size_t at = size_;
  uint8_t* v = begin_attribute(type_of(AttributeType::Fingerprint), kFingerprintSize);
  if (v != nullptr) store_be32(v, wire::fingerprint(out_.first(at)));
  return *this;
}

Result<size_t, BuildError> Builder::finish() const {
  if (error_) return Err{*error_};
  return size_;
}

}  // namespace relay::stun
