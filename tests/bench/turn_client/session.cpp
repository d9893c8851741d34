#include "tests/bench/turn_client/session.hpp"

#include <openssl/rand.h>

#include <array>

#include "controlplane/core/stun/stun.hpp"

namespace relay::loadgen {

namespace {

using namespace std::chrono_literals;

// RFC 8489 §6.2.1 starts at 500 ms and doubles; on a local link an answer
// takes well under a millisecond, so a shorter fixed interval keeps a run
// against a dropped request short while still retrying a few times.
constexpr auto kRetransmit = 200ms;
constexpr int kAttempts = 5;
// RFC 8489 §6.2.2: over a stream the request is sent once and the answer
// awaited (Ti = 39.5 s there); a relay on a busy 2-core machine may take
// over a second to get to 512 connections' requests, but 10 s is already
// broken.
constexpr auto kStreamAnswerLimit = 10s;
constexpr auto kLifetime = 600s;  // RFC 8656 §7.2: the default allocation lifetime

struct Reply {
  std::array<uint8_t, 1500> buf{};
  size_t size = 0;
};

stun::TransactionId new_transaction_id() {
  stun::TransactionId id{};
  RAND_bytes(id.data(), static_cast<int>(id.size()));
  return id;
}

// Sends `request` and returns the first well-formed response carrying the
// same transaction id, retransmitting on silence.
Result<Reply, std::string> transact(StunPath& path, std::span<const uint8_t> request, const stun::TransactionId& id) {
  Reply r;
  const int attempts = path.reliable() ? 1 : kAttempts;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (!path.send(request)) return Err{std::string("send failed")};
    const auto deadline = std::chrono::steady_clock::now() + (path.reliable() ? kStreamAnswerLimit : kRetransmit);
    while (std::chrono::steady_clock::now() < deadline) {
      r.size = path.receive(r.buf, deadline);
      if (r.size == 0 && path.closed()) return Err{std::string("the relay closed the connection")};
      if (r.size == 0) continue;
      auto m = stun::parse(std::span<const uint8_t>(r.buf.data(), r.size));
      if (m && m->transaction_id() == id && m->message_class() != stun::MessageClass::Request) return r;
    }
  }
  return Err{std::string("no answer after ") + std::to_string(attempts) + " attempt(s)"};
}

enum class Outcome : uint8_t { Success, Challenged, Failed };

// Adopts REALM and NONCE from a 401 / 438 (RFC 8489 §9.2.4) so that the
// next attempt carries them.
Outcome judge(TurnSession& s, const stun::Message& m, uint16_t& failure_code) {
  if (m.message_class() == stun::MessageClass::SuccessResponse) return Outcome::Success;
  const auto code = m.error_code();
  const uint16_t number = code && code->has_value() ? (*code)->code : 0;
  const auto nonce = m.nonce();
  if ((number == stun::error_code::kUnauthorized || number == stun::error_code::kStaleNonce) && nonce &&
      nonce->has_value()) {
    s.nonce = std::string(**nonce);
    if (auto realm = m.realm(); realm && realm->has_value() && **realm != s.realm) {
      s.realm = std::string(**realm);
      s.credentials.key = stun::long_term_key(s.credentials.username, s.realm, s.credentials.password);
    }
    return Outcome::Challenged;
  }
  failure_code = number;
  return Outcome::Failed;
}

using AddAttributes = void (*)(stun::Builder&, const TurnSession&, const SocketAddress&);

// One authenticated request, answering at most two challenges (the first
// 401 and one 438 for a nonce that went stale meanwhile).
Result<Reply, StepError> authenticated(StunPath& path, TurnSession& s, stun::Method method, AddAttributes add,
                                       const SocketAddress& peer, const char* step) {
  for (int round = 0; round < 3; ++round) {
    std::array<uint8_t, 1024> out{};
    const auto id = new_transaction_id();
    stun::Builder b(out, method, stun::MessageClass::Request, id);
    add(b, s, peer);
    if (!s.nonce.empty())
      b.add_username(s.credentials.username).add_realm(s.realm).add_nonce(s.nonce).add_message_integrity(s.credentials.key);
    b.add_fingerprint();
    auto size = b.finish();
    if (!size) return Err{StepError{std::string(step) + ": build: " + std::string(stun::to_string(size.error()))}};
    auto reply = transact(path, std::span<const uint8_t>(out.data(), *size), id);
    if (!reply) return Err{StepError{std::string(step) + ": " + reply.error()}};
    auto m = stun::parse(std::span<const uint8_t>(reply->buf.data(), reply->size));
    uint16_t code = 0;
    switch (judge(s, *m, code)) {
      case Outcome::Success: return std::move(*reply);
      case Outcome::Challenged: continue;
      case Outcome::Failed: return Err{StepError{std::string(step) + ": error " + std::to_string(code), code}};
    }
  }
  return Err{StepError{std::string(step) + ": still challenged after three rounds (wrong secret or --auth scheme?)"}};
}

void add_allocate(stun::Builder& b, const TurnSession&, const SocketAddress&) {
  b.add_requested_transport(stun::kTransportUdp).add_lifetime(kLifetime);
}

void add_channel_bind(stun::Builder& b, const TurnSession& s, const SocketAddress& peer) {
  b.add_channel_number(s.channel).add_xor_peer_address(peer);
}

void add_release(stun::Builder& b, const TurnSession&, const SocketAddress&) { b.add_lifetime(0s); }

}  // namespace

Result<TurnSession, StepError> open_session(StunPath& path, const Options& o, const SocketAddress& peer,
                                            uint32_t index, uint64_t expiry_unix_seconds) {
  TurnSession s;
  s.realm = o.realm;
  s.channel = kFirstChannel;
  s.credentials = mint_credentials(o, expiry_unix_seconds, "loadgen-" + std::to_string(index));
  auto allocated = authenticated(path, s, stun::Method::Allocate, add_allocate, peer, "Allocate");
  if (!allocated) return Err{allocated.error()};
  auto m = stun::parse(std::span<const uint8_t>(allocated->buf.data(), allocated->size));
  auto relayed = m->xor_relayed_addresses();
  if (!relayed || relayed->empty()) return Err{StepError{"Allocate: success without XOR-RELAYED-ADDRESS"}};
  s.relayed = (*relayed)[0];
  auto bound = authenticated(path, s, stun::Method::ChannelBind, add_channel_bind, peer, "ChannelBind");
  if (!bound) return Err{bound.error()};
  return s;
}

bool close_session(StunPath& path, TurnSession& s) {
  return authenticated(path, s, stun::Method::Refresh, add_release, SocketAddress{}, "Refresh").ok();
}

}  // namespace relay::loadgen
