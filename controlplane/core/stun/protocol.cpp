#include "controlplane/core/stun/protocol.hpp"

#include "controlplane/core/stun/wire.hpp"

namespace relay::stun {

std::string_view to_string(Method m) {
  switch (m) {
    case Method::Binding: return "Binding";
    case Method::Allocate: return "Allocate";
    case Method::Refresh: return "Refresh";
    case Method::Send: return "Send";
    case Method::Data: return "Data";
    case Method::CreatePermission: return "CreatePermission";
    case Method::ChannelBind: return "ChannelBind";
  }
  return "Unknown";
}

std::string_view to_string(MessageClass c) {
  switch (c) {
    case MessageClass::Request: return "Request";
    case MessageClass::Indication: return "Indication";
    case MessageClass::SuccessResponse: return "SuccessResponse";
    case MessageClass::ErrorResponse: return "ErrorResponse";
  }
  return "Unknown";
}

std::string_view to_string(AttributeType t) {
  switch (t) {
    case AttributeType::MappedAddress: return "MAPPED-ADDRESS";
    case AttributeType::Username: return "USERNAME";
    case AttributeType::MessageIntegrity: return "MESSAGE-INTEGRITY";
    case AttributeType::ErrorCode: return "ERROR-CODE";
    case AttributeType::UnknownAttributes: return "UNKNOWN-ATTRIBUTES";
    case AttributeType::ChannelNumber: return "CHANNEL-NUMBER";
    case AttributeType::Lifetime: return "LIFETIME";
    case AttributeType::XorPeerAddress: return "XOR-PEER-ADDRESS";
    case AttributeType::Data: return "DATA";
    case AttributeType::Realm: return "REALM";
    case AttributeType::Nonce: return "NONCE";
    case AttributeType::XorRelayedAddress: return "XOR-RELAYED-ADDRESS";
    case AttributeType::RequestedAddressFamily: return "REQUESTED-ADDRESS-FAMILY";
    case AttributeType::EvenPort: return "EVEN-PORT";
    case AttributeType::RequestedTransport: return "REQUESTED-TRANSPORT";
    case AttributeType::DontFragment: return "DONT-FRAGMENT";
    case AttributeType::MessageIntegritySha256: return "MESSAGE-INTEGRITY-SHA256";
    case AttributeType::XorMappedAddress: return "XOR-MAPPED-ADDRESS";
    case AttributeType::ReservationToken: return "RESERVATION-TOKEN";
    case AttributeType::Priority: return "PRIORITY";
    case AttributeType::UseCandidate: return "USE-CANDIDATE";
    case AttributeType::AdditionalAddressFamily: return "ADDITIONAL-ADDRESS-FAMILY";
    case AttributeType::AddressErrorCode: return "ADDRESS-ERROR-CODE";
    case AttributeType::Software: return "SOFTWARE";
    case AttributeType::Fingerprint: return "FINGERPRINT";
  }
  return "UNKNOWN";
}

std::string_view reason_phrase(uint16_t code) {
  switch (code) {
    case error_code::kTryAlternate: return "Try Alternate";
    case error_code::kBadRequest: return "Bad Request";
    case error_code::kUnauthorized: return "Unauthorized";
    case error_code::kForbidden: return "Forbidden";
    case error_code::kUnknownAttribute: return "Unknown Attribute";
    case error_code::kAllocationMismatch: return "Allocation Mismatch";
    case error_code::kStaleNonce: return "Stale Nonce";
    case error_code::kAddressFamilyNotSupported: return "Address Family not Supported";
    case error_code::kWrongCredentials: return "Wrong Credentials";
    case error_code::kUnsupportedTransportProtocol: return "Unsupported Transport Protocol";
    case error_code::kPeerAddressFamilyMismatch: return "Peer Address Family Mismatch";
    case error_code::kAllocationQuotaReached: return "Allocation Quota Reached";
    case error_code::kServerError: return "Server Error";
    case error_code::kInsufficientCapacity: return "Insufficient Capacity";
    default: return "";
  }
}

}  // namespace relay::stun
