#include "controlplane/core/stats.hpp"

namespace relay::core {

namespace {
#define RELAY_LABEL_TEXT(name, label) #label,
// A numeric label such as "400" is written as a string literal in its table;
// stringising it again adds quotes, which strip() removes.
constexpr std::string_view strip(std::string_view s) {
  return s.size() >= 2 && s.front() == '"' ? s.substr(1, s.size() - 2) : s;
}
constexpr std::string_view kDropNames[] = {RELAY_DROP_REASONS(RELAY_LABEL_TEXT)};
constexpr std::string_view kAuthNames[] = {RELAY_AUTH_FAILURES(RELAY_LABEL_TEXT)};
constexpr std::string_view kMethodNames[] = {RELAY_METHODS(RELAY_LABEL_TEXT)};
constexpr std::string_view kCodeNames[] = {RELAY_RESPONSE_CODES(RELAY_LABEL_TEXT)};
constexpr std::string_view kQuotaNames[] = {RELAY_QUOTAS(RELAY_LABEL_TEXT)};
#undef RELAY_LABEL_TEXT

template <size_t N, class E>
std::string_view name_of(const std::string_view (&names)[N], E e) {
  auto i = static_cast<size_t>(e);
  return i < N ? strip(names[i]) : "unknown";
}
}  // namespace

std::string_view to_string(DropReason r) { return name_of(kDropNames, r); }
std::string_view to_string(AuthFailure r) { return name_of(kAuthNames, r); }
std::string_view to_string(MethodLabel m) { return name_of(kMethodNames, m); }
std::string_view to_string(ResponseCode c) { return name_of(kCodeNames, c); }
std::string_view to_string(Quota q) { return name_of(kQuotaNames, q); }

ResponseCode response_code_from(uint16_t code) {
  switch (code) {
    case 0: return ResponseCode::Success;
    case 400: return ResponseCode::BadRequest;
    case 401: return ResponseCode::Unauthorized;
    case 403: return ResponseCode::Forbidden;
    case 420: return ResponseCode::UnknownAttribute;
    case 437: return ResponseCode::AllocationMismatch;
    case 438: return ResponseCode::StaleNonce;
    case 440: return ResponseCode::AddressFamilyNotSupported;
    case 441: return ResponseCode::WrongCredentials;
    case 442: return ResponseCode::UnsupportedTransportProtocol;
    case 443: return ResponseCode::PeerAddressFamilyMismatch;
    case 486: return ResponseCode::AllocationQuotaReached;
    case 500: return ResponseCode::ServerError;
    case 508: return ResponseCode::InsufficientCapacity;
    default: return ResponseCode::OtherError;
  }
}

}  // namespace relay::core
