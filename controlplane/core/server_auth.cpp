// The long-term credential mechanism (RFC 8489 §9.2) with the portal's
// "expiry:salt" usernames, and the RFC 8656 §5 ownership checks.
#include "controlplane/core/server.hpp"

namespace relay::core {

std::optional<Server::Auth> Server::authenticate(const Request& r) {
  auto fail = [&](AuthFailure why, uint16_t code) -> std::optional<Auth> {
    ++stats_.auth_failures[static_cast<size_t>(why)];
    if (code == stun::error_code::kBadRequest) reply_error(r, code, nullptr);
    else reply_challenge(r, code);
    return std::nullopt;
  };
  // RFC 8489 §9.2.4, in its order.
  if (!r.msg.has_message_integrity()) return fail(AuthFailure::MissingIntegrity, stun::error_code::kUnauthorized);
  auto username = r.msg.username();
  auto realm = r.msg.realm();
  auto nonce = r.msg.nonce();
  if (!username || !*username || !realm || !*realm || !nonce || !*nonce)
    return fail(AuthFailure::MissingAttributes, stun::error_code::kBadRequest);
  if (**realm != config_.realm) return fail(AuthFailure::WrongRealm, stun::error_code::kUnauthorized);
  auto slot = nonces_.find(**nonce);
  if (!slot) {
    ++stats_.stale_nonces;
    reply_challenge(r, stun::error_code::kStaleNonce);
    return std::nullopt;
  }
  auto parsed = stun::parse_username(**username);
  if (!parsed) return fail(AuthFailure::MalformedUsername, stun::error_code::kUnauthorized);
  if (!unix_offset_) return fail(AuthFailure::ClockUnknown, stun::error_code::kUnauthorized);
  auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(r.now.since_boot) + *unix_offset_;
  if (unix_now.count() < 0 || parsed->expiry_unix_seconds < static_cast<uint64_t>(unix_now.count()))
    return fail(AuthFailure::ExpiredUsername, stun::error_code::kUnauthorized);
  auto known = known_key(r, **username);
  stun::IntegrityKey key = known ? *known : derive_key(**username, *parsed);
  if (r.msg.verify_message_integrity(key) != stun::Integrity::Valid)
    return fail(AuthFailure::BadIntegrity, stun::error_code::kUnauthorized);
  nonces_.use(*slot);
  if (!known) keys_.insert(**username, key);
  return Auth{key, **username};
}

std::optional<stun::IntegrityKey> Server::known_key(const Request& r, std::string_view username) {
  if (const Allocation* a = r.allocation; a && a->owner && a->owner->username == username) return a->owner->key;
  return keys_.find(username);
}

stun::IntegrityKey Server::derive_key(std::string_view username, const stun::Username& parsed) const {
  std::string password = stun::mint_password(config_.auth_secret, parsed.expiry_unix_seconds, parsed.salt);
  return stun::IntegrityKey(stun::long_term_key(username, config_.realm, password));
}

Allocation* Server::owned_allocation(const Request& r, const Auth& auth) {
  if (!r.allocation) {
    reply_error(r, stun::error_code::kAllocationMismatch, &auth);
    return nullptr;
  }
  Allocation& a = *r.allocation;
  // A restored allocation learns its owner from the first valid request.
  if (!a.owner) a.owner = Owner{retain_user(auth.username), auth.key};
  if (a.owner->username != auth.username) {
    // RFC 8656 §5: same 5-tuple, different credentials.
    ++stats_.auth_failures[static_cast<size_t>(AuthFailure::WrongCredentials)];
    reply_error(r, stun::error_code::kWrongCredentials, &auth);
    return nullptr;
  }
  return &a;
}

}  // namespace relay::core
