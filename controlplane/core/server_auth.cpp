// The long-term credential mechanism (RFC 8489 §9.2) under relay.auth.scheme
// (the portal's "expiry:salt" usernames, coturn's REST ones, a users file),
// and the RFC 8656 §5 ownership checks.
//
// owner_id_of hashes with the low-level SHA-256 functions, as stun/hmac.cpp
// does and for its reason: OpenSSL 3's one-shot SHA256() goes through the
// provider layer, ~410 ns against ~60 ns for a short salt; every new user's
// Allocate pays it once.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include <cstring>

#include "controlplane/core/server.hpp"

namespace relay::core {

OwnerId owner_id_of(std::string_view salt) {
  // A cryptographic hash, since a salt of the same id could claim a
  // restored allocation; unkeyed, since a control plane restarted with
  // another auth secret (a generated one, a rotation) must still know it.
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, salt.data(), salt.size());
  SHA256_Final(digest, &ctx);
  OwnerId id;
  std::memcpy(&id.value, digest, sizeof id.value);
  return id;
}

std::optional<stun::Username> Server::parse_username(std::string_view username) const {
  switch (config_.auth_scheme) {
    case AuthScheme::Firezone:
      if (auto p = stun::parse_username(username)) return *p;
      return std::nullopt;
    case AuthScheme::Rest:
      if (auto p = stun::parse_rest_username(username)) return *p;
      return std::nullopt;
    case AuthScheme::Static:
      return stun::Username{stun::kNeverExpires, username};
  }
  return std::nullopt;
}

std::optional<Auth> Server::authenticate(const Request& r) {
  auto username = r.msg.username();
  auto realm = r.msg.realm();
  auto nonce = r.msg.nonce();
  std::optional<stun::Username> parts;
  if (username && *username) parts = parse_username(**username);
  // Every 401 and 438 to a username we can derive a key for is signed with
  // that key (an expired username's included), as successes are: connlib
  // discards any TURN response whose MESSAGE-INTEGRITY it cannot verify.
  // The cost: an unauthenticated sender can make us derive keys (SHA-256 or
  // HMAC-SHA1, MD5, two SHA-1 pad blocks, per secret) for made-up users;
  // the data plane's per-source STUN rate limit
  // (dataplane.stun_rate_per_source) bounds it. A key is cached only after
  // it verified a request, so such senders cannot fill the key cache either.
  auto challenge = [&](uint16_t code, std::optional<stun::IntegrityKey> key = std::nullopt) -> std::optional<Auth> {
    if (parts && !key) key = signing_key(r, **username, *parts);
    if (!key) {
      responder_.reply_challenge(r, code, nullptr, nonces_.mint(rng_).view());
      return std::nullopt;
    }
    const Auth signer{*key, **username, *parts};
    responder_.reply_challenge(r, code, &signer, nonces_.mint(rng_).view());
    return std::nullopt;
  };
  auto fail = [&](AuthFailure why, std::optional<stun::IntegrityKey> key = std::nullopt) {
    ++stats_.auth_failures[static_cast<size_t>(why)];
    return challenge(stun::error_code::kUnauthorized, key);
  };
  // RFC 8489 §9.2.4, in its order, except that a request whose USERNAME
  // parses is challenged (401) for a missing REALM or NONCE rather than
  // refused (400): connlib's first Allocate carries USERNAME, REALM and
  // MESSAGE-INTEGRITY but no NONCE, and waits for a challenge it can verify.
  if (!r.msg.has_message_integrity()) return fail(AuthFailure::MissingIntegrity);
  bool malformed = !username || !realm || !nonce;
  if (malformed || !*username || !*realm || !*nonce) {
    if (!malformed && parts) return fail(AuthFailure::MissingAttributes);
    ++stats_.auth_failures[static_cast<size_t>(AuthFailure::MissingAttributes)];
    responder_.reply_error(r, stun::error_code::kBadRequest, nullptr);
    return std::nullopt;
  }
  if (**realm != config_.realm) return fail(AuthFailure::WrongRealm);
  auto slot = nonces_.find(**nonce);
  if (!slot) {
    ++stats_.stale_nonces;
    return challenge(stun::error_code::kStaleNonce);
  }
  if (!parts) return fail(AuthFailure::MalformedUsername);
  if (!unix_offset_) return fail(AuthFailure::ClockUnknown);
  auto unix_now = std::chrono::duration_cast<std::chrono::seconds>(r.now.since_boot) + *unix_offset_;
  if (unix_now.count() < 0 || parts->expiry_unix_seconds < static_cast<uint64_t>(unix_now.count()))
    return fail(AuthFailure::ExpiredUsername);
  auto verifies = [&](const stun::IntegrityKey& key) {
    return r.msg.verify_message_integrity(key) == stun::Integrity::Valid;
  };
  const auto known = known_key(r, **username, *parts);
  std::optional<stun::IntegrityKey> verified;
  if (known && verifies(*known)) verified = known;
  // A cached key is one secret's: the same username under another secret
  // (a rotation) is derived again.
  std::vector<stun::IntegrityKey> derived;
  if (!verified) {
    derived = derive_keys(**username, *parts);
    for (const auto& key : derived)
      if (verifies(key)) {
        verified = key;
        keys_.insert(**username, key);
        break;
      }
  }
  if (!verified) {
    if (!known && derived.empty()) return fail(AuthFailure::UnknownUser);
    return fail(AuthFailure::BadIntegrity, known ? known : derived.front());
  }
  nonces_.use(*slot);
  return Auth{*verified, **username, *parts};
}

std::optional<stun::IntegrityKey> Server::known_key(const Request& r, std::string_view username,
                                                    const stun::Username& parts) {
  // The file is the truth for static users, so that a SIGHUP that drops a
  // user or changes its password takes effect at its next request; its
  // lookup costs what the key cache's does.
  if (config_.auth_scheme == AuthScheme::Static) {
    const auto it = static_users_.keys.find(username);
    if (it == static_users_.keys.end()) return std::nullopt;
    return it->second;
  }
  if (const Allocation* a = r.allocation; a && a->owner && a->owner->key_is_for(username, parts))
    return a->owner->key;
  return keys_.find(username);
}

std::vector<stun::IntegrityKey> Server::derive_keys(std::string_view username, const stun::Username& parsed) const {
  std::vector<stun::IntegrityKey> keys;
  if (config_.auth_scheme == AuthScheme::Static) return keys;
  keys.reserve(config_.auth_secrets.size());
  for (const auto& secret : config_.auth_secrets) {
    const std::string password = config_.auth_scheme == AuthScheme::Rest
                                     ? stun::rest_password(secret, username)
                                     : stun::mint_password(secret, parsed.expiry_unix_seconds, parsed.user);
    keys.emplace_back(stun::long_term_key(username, config_.realm, password));
  }
  return keys;
}

std::optional<stun::IntegrityKey> Server::signing_key(const Request& r, std::string_view username,
                                                      const stun::Username& parts) {
  if (auto known = known_key(r, username, parts)) return known;
  auto keys = derive_keys(username, parts);
  if (keys.empty()) return std::nullopt;
  if (r.msg.has_message_integrity())
    for (const auto& key : keys)
      if (r.msg.verify_message_integrity(key) == stun::Integrity::Valid) return key;
  return keys.front();
}

Allocation* Server::owned_allocation(const Request& r, const Auth& auth) {
  if (!r.allocation) {
    responder_.reply_error(r, stun::error_code::kAllocationMismatch, &auth);
    return nullptr;
  }
  Allocation& a = *r.allocation;
  auto wrong_credentials = [&] {
    // RFC 8656 §5: same 5-tuple, different credentials.
    ++stats_.auth_failures[static_cast<size_t>(AuthFailure::WrongCredentials)];
    responder_.reply_error(r, stun::error_code::kWrongCredentials, &auth);
    return nullptr;
  };
  if (!a.owner) {
    // Restored: the owner the data plane recorded claims it, and its
    // charge moves from the unclaimed owner to its user.
    if (!allocations_.claim(a, auth.parts.user, auth.key, auth.username, auth.parts.expiry_unix_seconds))
      return wrong_credentials();
  }
  if (*a.owner->user != auth.parts.user) return wrong_credentials();
  // The same salt under a new username is the portal's credential rotation:
  // the cached key follows the username the client uses now (the old one
  // stays valid until it expires, through the key cache).
  if (!a.owner->key_is_for(auth.username, auth.parts)) {
    a.owner->key = auth.key;
    a.owner->username_size = static_cast<uint16_t>(auth.username.size());
    a.owner->username_expiry = auth.parts.expiry_unix_seconds;
  }
  return &a;
}

}  // namespace relay::core
