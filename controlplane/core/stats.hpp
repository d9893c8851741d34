// What the Server counts. Every enum comes from one X-macro table so the
// metric label, the log word and the test expectation share a name
// (snake_case, usable as a Prometheus label value as it is).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace relay::core {

#define RELAY_DROP_REASONS(X)                                                   \
  X(NotReady, not_ready)                 /* before the portal said init */      \
  X(NotStun, not_stun)                   /* no STUN header / cookie */          \
  X(Malformed, malformed)                /* the codec refused the message */    \
  X(BadFingerprint, bad_fingerprint)     /* RFC 8489 §14.7 mismatch */          \
  X(ResponseFromClient, response_from_client)                                   \
  X(IndicationFromClient, indication_from_client)                               \
  X(SendIndication, send_indication)     /* RFC 8656 §11: not supported here */ \
  X(ResponseTooLarge, response_too_large)

#define RELAY_AUTH_FAILURES(X)                                                   \
  X(MissingIntegrity, missing_integrity)    /* RFC 8489 §9.2.4 first 401 */     \
  X(MissingAttributes, missing_attributes)  /* USERNAME/REALM/NONCE absent */   \
  X(WrongRealm, wrong_realm)                                                     \
  X(MalformedUsername, malformed_username)  /* not the scheme's canonical form */ \
  X(ExpiredUsername, expired_username)                                           \
  X(UnknownUser, unknown_user)              /* static: not in the users file */ \
  X(ClockUnknown, clock_unknown)            /* set_wall_clock never called */   \
  X(BadIntegrity, bad_integrity)            /* wrong password or key */         \
  X(WrongCredentials, wrong_credentials)    /* RFC 8656 §5: 441 */

#define RELAY_METHODS(X)                  \
  X(Binding, binding)                     \
  X(Allocate, allocate)                   \
  X(Refresh, refresh)                     \
  X(ChannelBind, channel_bind)            \
  X(CreatePermission, create_permission)  \
  X(Other, other)

#define RELAY_RESPONSE_CODES(X)                         \
  X(Success, success)                                   \
  X(BadRequest, "400")                                  \
  X(Unauthorized, "401")                                \
  X(Forbidden, "403")                                   \
  X(UnknownAttribute, "420")                            \
  X(AllocationMismatch, "437")                          \
  X(StaleNonce, "438")                                  \
  X(AddressFamilyNotSupported, "440")                   \
  X(WrongCredentials, "441")                            \
  X(UnsupportedTransportProtocol, "442")                \
  X(PeerAddressFamilyMismatch, "443")                   \
  X(AllocationQuotaReached, "486")                      \
  X(ServerError, "500")                                 \
  X(InsufficientCapacity, "508")                        \
  X(OtherError, other_error)

#define RELAY_QUOTAS(X)                                                      \
  X(PerUser, per_user)           /* answered 486 */                          \
  X(PerClientIp, per_client_ip)  /* answered 486 */                          \
  X(Total, total)                /* answered 508 */                          \
  X(Ports, ports)                /* range exhausted: 508 */                  \
  X(Channels, channels)          /* per allocation: 508 */                   \
  X(Permissions, permissions)    /* per allocation: 508 */                   \
  X(ChannelTable, channel_table)        /* the data plane's is full: 508 */ \
  X(PermissionTable, permission_table)  /* the data plane's is full: 508 */ \
  X(Draining, draining)                 /* drain mode: 508 */

#define RELAY_ENUM_VALUE(name, label) name,
enum class DropReason : uint8_t { RELAY_DROP_REASONS(RELAY_ENUM_VALUE) };
enum class AuthFailure : uint8_t { RELAY_AUTH_FAILURES(RELAY_ENUM_VALUE) };
enum class MethodLabel : uint8_t { RELAY_METHODS(RELAY_ENUM_VALUE) };
enum class ResponseCode : uint8_t { RELAY_RESPONSE_CODES(RELAY_ENUM_VALUE) };
enum class Quota : uint8_t { RELAY_QUOTAS(RELAY_ENUM_VALUE) };
#undef RELAY_ENUM_VALUE

#define RELAY_ENUM_COUNT(name, label) +1
constexpr size_t kDropReasons = 0 RELAY_DROP_REASONS(RELAY_ENUM_COUNT);
constexpr size_t kAuthFailures = 0 RELAY_AUTH_FAILURES(RELAY_ENUM_COUNT);
constexpr size_t kMethodLabels = 0 RELAY_METHODS(RELAY_ENUM_COUNT);
constexpr size_t kResponseCodes = 0 RELAY_RESPONSE_CODES(RELAY_ENUM_COUNT);
constexpr size_t kQuotas = 0 RELAY_QUOTAS(RELAY_ENUM_COUNT);
#undef RELAY_ENUM_COUNT

std::string_view to_string(DropReason r);
std::string_view to_string(AuthFailure r);
std::string_view to_string(MethodLabel m);
std::string_view to_string(ResponseCode c);  // "success", "400", ...
std::string_view to_string(Quota q);
ResponseCode response_code_from(uint16_t stun_error_code);  // 0 = success

struct Stats {
  std::array<uint64_t, kDropReasons> drops{};
  std::array<uint64_t, kAuthFailures> auth_failures{};
  std::array<std::array<uint64_t, kResponseCodes>, kMethodLabels> responses{};
  std::array<uint64_t, kQuotas> quota_rejections{};
  uint64_t stale_nonces = 0;
  uint64_t retransmissions = 0;  // answered from the response cache
  uint64_t allocations_created = 0;
  uint64_t allocations_expired = 0;
  uint64_t allocations_deleted = 0;   // Refresh with LIFETIME 0
  uint64_t allocations_restored = 0;  // adopted from the data plane
  uint64_t allocations_ended = 0;     // by the operator: relayctl kill, the drain deadline
  uint64_t channels_bound = 0;
  uint64_t channels_expired = 0;
  uint64_t permissions_created = 0;
  // Removed because a reloaded peer policy denies their peer.
  uint64_t channels_revoked = 0;
  uint64_t permissions_revoked = 0;
  // Holds ended before their time, so that half the range stays allocatable.
  uint64_t port_holds_cut_short = 0;
  // Gauges. A dual-family allocation counts in both.
  uint64_t active_allocations_v4 = 0;
  uint64_t active_allocations_v6 = 0;
  uint64_t active_channels = 0;
  uint64_t held_ports = 0;  // kept out of use after their allocation ended (RFC 8656 §12 cool-down)
  uint64_t free_ports = 0;  // of the relay port range, ready for the next allocation

  [[nodiscard]] uint64_t drop(DropReason r) const { return drops[static_cast<size_t>(r)]; }
  [[nodiscard]] uint64_t auth_failure(AuthFailure r) const { return auth_failures[static_cast<size_t>(r)]; }
  [[nodiscard]] uint64_t response(MethodLabel m, ResponseCode c) const {
    return responses[static_cast<size_t>(m)][static_cast<size_t>(c)];
  }
  [[nodiscard]] uint64_t quota_rejection(Quota q) const { return quota_rejections[static_cast<size_t>(q)]; }
};

}  // namespace relay::core
