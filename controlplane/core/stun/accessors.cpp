// Typed attribute accessors: each checks the value's format and tells
// "absent" from "present but malformed" (the server answers 400 for that).
#include <algorithm>

#include "controlplane/core/stun/message.hpp"
#include "controlplane/core/stun/wire.hpp"

namespace relay::stun {

std::string_view to_string(AttributeError e) {
  switch (e) {
    case AttributeError::WrongLength: return "wrong-length";
    case AttributeError::UnknownFamily: return "unknown-family";
    case AttributeError::InvalidValue: return "invalid-value";
    case AttributeError::TooLong: return "too-long";
  }
  return "unknown";
}

namespace {

template <class T>
Field<T> absent() {
  return Field<T>{std::optional<T>{}};
}
template <class T>
Field<T> present(T v) {
  return Field<T>{std::optional<T>{std::move(v)}};
}
template <class T>
Field<T> malformed(AttributeError e) {
  return Err{e};
}

// RFC 8489 §14.1-14.2: 1 reserved byte, family, port, 4 or 16 address bytes.
// XORed variants use the cookie (port, IPv4) and cookie || transaction id
// (IPv6). `xor_key` is the 16 bytes at offset 4 of the header, or null.
Result<SocketAddress, AttributeError> decode_address(std::span<const uint8_t> v, const uint8_t* xor_key) {
  if (v.size() < 4) return Err{AttributeError::WrongLength};
  const uint8_t family = v[1];
  size_t addr_len = 0;
  if (family == static_cast<uint8_t>(Family::V4)) {
    addr_len = 4;
  } else if (family == static_cast<uint8_t>(Family::V6)) {
    addr_len = 16;
  } else {
    return Err{AttributeError::UnknownFamily};
  }
  if (v.size() != 4 + addr_len) return Err{AttributeError::WrongLength};
  SocketAddress a;
  a.ip.family = static_cast<Family>(family);
  a.port = load_be16(v.data() + 2);
  for (size_t i = 0; i < addr_len; ++i) a.ip.bytes[i] = v[4 + i];
  if (xor_key != nullptr) {
    a.port = static_cast<uint16_t>(a.port ^ load_be16(xor_key));
    for (size_t i = 0; i < addr_len; ++i) a.ip.bytes[i] ^= xor_key[i];
  }
  return a;
}

// RFC 8489 §14.8: 21 reserved bits, 3 class bits, 8 number bits, reason.
Result<ErrorCode, AttributeError> decode_error_code(std::span<const uint8_t> v) {
  if (v.size() < 4) return Err{AttributeError::WrongLength};
  const uint8_t error_class = v[2] & 0x07;
  const uint8_t number = v[3];
  if (error_class < 3 || error_class > 6 || number > 99) return Err{AttributeError::InvalidValue};
  if (v.size() - 4 > kMaxReasonBytes) return Err{AttributeError::TooLong};
  return ErrorCode{static_cast<uint16_t>(error_class * 100 + number), std::string_view(reinterpret_cast<const char*>(v.data() + 4), v.size() - 4)};
}

template <class T, class Decode>
Field<T> decode_optional(std::optional<std::span<const uint8_t>> v, Decode decode) {
  if (!v) return absent<T>();
  auto r = decode(*v);
  if (!r.ok()) return malformed<T>(r.error());
  return present<T>(std::move(r).value());
}

Result<Family, AttributeError> decode_family(std::span<const uint8_t> v) {
  // RFC 8656 §14.1, §14.8: family byte then 3 reserved bytes.
  if (v.size() != 4) return Err{AttributeError::WrongLength};
  if (v[0] != static_cast<uint8_t>(Family::V4) && v[0] != static_cast<uint8_t>(Family::V6))
    return Err{AttributeError::UnknownFamily};
  return static_cast<Family>(v[0]);
}

}  // namespace

Field<SocketAddress> Message::mapped_address() const {
  return decode_optional<SocketAddress>(value(AttributeType::MappedAddress),
                                        [](auto v) { return decode_address(v, nullptr); });
}

Field<SocketAddress> Message::xor_mapped_address() const {
  const uint8_t* key = bytes_.data() + 4;
  return decode_optional<SocketAddress>(value(AttributeType::XorMappedAddress),
                                        [key](auto v) { return decode_address(v, key); });
}

Result<AddressList, AttributeError> Message::all_xor_addresses(AttributeType t) const {
  // Filled in place and returned as the one named result: an AddressList
  // is 648 bytes, and returning a local copied it twice.
  Result<AddressList, AttributeError> result{AddressList{}};
  if (!first(t)) return result;
  for (size_t i = 0; i < count_; ++i) {
    const RawAttribute a = attribute_at(i);
    if (a.type != static_cast<uint16_t>(t)) continue;
    auto address = decode_address(a.value, bytes_.data() + 4);
    if (!address.ok()) {
      result = Err{address.error()};
      return result;
    }
    result->push_back(address.value());
  }
  return result;
}

Result<AddressList, AttributeError> Message::xor_peer_addresses() const {
  return all_xor_addresses(AttributeType::XorPeerAddress);
}

Result<AddressList, AttributeError> Message::xor_relayed_addresses() const {
  return all_xor_addresses(AttributeType::XorRelayedAddress);
}

Field<std::string_view> Message::text(AttributeType t, size_t max_bytes) const {
  return decode_optional<std::string_view>(value(t), [max_bytes](auto v) -> Result<std::string_view, AttributeError> {
    if (v.size() > max_bytes) return Err{AttributeError::TooLong};
    return std::string_view(reinterpret_cast<const char*>(v.data()), v.size());
  });
}

Field<std::string_view> Message::username() const { return text(AttributeType::Username, kMaxUsernameBytes); }
Field<std::string_view> Message::realm() const { return text(AttributeType::Realm, kMaxRealmBytes); }
Field<std::string_view> Message::nonce() const { return text(AttributeType::Nonce, kMaxNonceBytes); }
Field<std::string_view> Message::software() const { return text(AttributeType::Software, kMaxSoftwareBytes); }

Field<ErrorCode> Message::error_code() const {
  return decode_optional<ErrorCode>(value(AttributeType::ErrorCode), decode_error_code);
}

Field<AttributeTypeList> Message::unknown_attributes() const {
  return decode_optional<AttributeTypeList>(value(AttributeType::UnknownAttributes),
                                            [](auto v) -> Result<AttributeTypeList, AttributeError> {
                                              if (v.size() % 2 != 0) return Err{AttributeError::WrongLength};
                                              return AttributeTypeList(v);
                                            });
}

Field<std::chrono::seconds> Message::lifetime() const {
  // RFC 8656 §14.2: 32-bit seconds.
  return decode_optional<std::chrono::seconds>(value(AttributeType::Lifetime),
                                               [](auto v) -> Result<std::chrono::seconds, AttributeError> {
                                                 if (v.size() != 4) return Err{AttributeError::WrongLength};
                                                 return std::chrono::seconds(load_be32(v.data()));
                                               });
}

Field<uint8_t> Message::requested_transport() const {
  // RFC 8656 §14.7: protocol number, then 3 reserved bytes.
  return decode_optional<uint8_t>(value(AttributeType::RequestedTransport),
                                  [](auto v) -> Result<uint8_t, AttributeError> {
                                    if (v.size() != 4) return Err{AttributeError::WrongLength};
                                    return v[0];
                                  });
}

Field<ChannelNumber> Message::channel_number() const {
  // RFC 8656 §14.1: 16-bit number, then 2 reserved bytes.
  return decode_optional<ChannelNumber>(value(AttributeType::ChannelNumber),
                                        [](auto v) -> Result<ChannelNumber, AttributeError> {
                                          if (v.size() != 4) return Err{AttributeError::WrongLength};
                                          return ChannelNumber{load_be16(v.data())};
                                        });
}

Field<Family> Message::requested_address_family() const {
  return decode_optional<Family>(value(AttributeType::RequestedAddressFamily), decode_family);
}

Field<Family> Message::additional_address_family() const {
  return decode_optional<Family>(value(AttributeType::AdditionalAddressFamily), decode_family);
}

Field<AddressErrorCode> Message::address_error_code() const {
  // RFC 8656 §14.11: family, 13 reserved bits, class, number, reason.
  return decode_optional<AddressErrorCode>(
      value(AttributeType::AddressErrorCode), [](auto v) -> Result<AddressErrorCode, AttributeError> {
        if (v.size() < 4) return Err{AttributeError::WrongLength};
        if (v[0] != static_cast<uint8_t>(Family::V4) && v[0] != static_cast<uint8_t>(Family::V6))
          return Err{AttributeError::UnknownFamily};
        auto code = decode_error_code(v);
        if (!code.ok()) return Err{code.error()};
        return AddressErrorCode{static_cast<Family>(v[0]), code->code, code->reason};
      });
}

Result<bool, AttributeError> Message::dont_fragment() const {
  // RFC 8656 §14.8: no value.
  const auto v = value(AttributeType::DontFragment);
  if (!v) return false;
  if (!v->empty()) return Err{AttributeError::WrongLength};
  return true;
}

Field<EvenPort> Message::even_port() const {
  // RFC 8656 §14.6: one byte whose top bit is R.
  return decode_optional<EvenPort>(value(AttributeType::EvenPort), [](auto v) -> Result<EvenPort, AttributeError> {
    if (v.size() != 1) return Err{AttributeError::WrongLength};
    return EvenPort{(v[0] & 0x80) != 0};
  });
}

Field<ReservationToken> Message::reservation_token() const {
  return decode_optional<ReservationToken>(value(AttributeType::ReservationToken),
                                           [](auto v) -> Result<ReservationToken, AttributeError> {
                                             if (v.size() != 8) return Err{AttributeError::WrongLength};
                                             ReservationToken token;
                                             std::copy_n(v.data(), token.size(), token.begin());
                                             return token;
                                           });
}

Field<std::span<const uint8_t>> Message::data() const {
  const auto v = value(AttributeType::Data);
  if (!v) return absent<std::span<const uint8_t>>();
  return present(*v);
}

}  // namespace relay::stun
