#include "tests/bench/load/turn_setup.hpp"

#include <openssl/rand.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <optional>
#include <vector>

#include "controlplane/core/stun/stun.hpp"

namespace relay::loadgen {

namespace {

using namespace std::chrono_literals;

// RFC 8489 §6.2.1 starts at 500 ms and doubles; on a local veth an answer
// takes well under a millisecond, so a shorter fixed interval keeps a run
// against a dropped request short while still retrying a few times.
constexpr int kRetransmitMs = 200;
constexpr int kAttempts = 5;
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
Result<Reply, std::string> transact(const TurnClient& c, std::span<const uint8_t> request,
                                    const stun::TransactionId& id) {
  Reply r;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (send(c.socket.fd(), request.data(), request.size(), 0) < 0) return Err{std::string("send failed")};
    pollfd p{c.socket.fd(), POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRetransmitMs);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      const ssize_t n = recv(c.socket.fd(), r.buf.data(), r.buf.size(), 0);
      if (n <= 0) continue;
      r.size = static_cast<size_t>(n);
      auto m = stun::parse(std::span<const uint8_t>(r.buf.data(), r.size));
      if (m && m->transaction_id() == id && m->message_class() != stun::MessageClass::Request) return r;
    }
  }
  return Err{std::string("no answer after ") + std::to_string(kAttempts) + " attempts"};
}

enum class Outcome : uint8_t { Success, Challenged, Failed };

struct StepError {
  std::string what;
  uint16_t code = 0;  // the relay's ERROR-CODE, 0 when it did not answer with one
};

// Adopts REALM and NONCE from a 401 / 438 (RFC 8489 §9.2.4) so that the
// next attempt carries them.
Outcome judge(TurnClient& c, const stun::Message& m, uint16_t& failure_code) {
  if (m.message_class() == stun::MessageClass::SuccessResponse) return Outcome::Success;
  const auto code = m.error_code();
  const uint16_t number = code && code->has_value() ? (*code)->code : 0;
  const auto nonce = m.nonce();
  if ((number == stun::error_code::kUnauthorized || number == stun::error_code::kStaleNonce) && nonce &&
      nonce->has_value()) {
    c.nonce = std::string(**nonce);
    if (auto realm = m.realm(); realm && realm->has_value() && **realm != c.realm) {
      c.realm = std::string(**realm);
      c.credentials.key = stun::long_term_key(c.credentials.username, c.realm, c.credentials.password);
    }
    return Outcome::Challenged;
  }
  failure_code = number;
  return Outcome::Failed;
}

using AddAttributes = void (*)(stun::Builder&, const TurnClient&, const SocketAddress&);

// One authenticated request, answering at most two challenges (the first
// 401 and one 438 for a nonce that went stale meanwhile).
Result<Reply, StepError> authenticated(TurnClient& c, stun::Method method, AddAttributes add,
                                       const SocketAddress& peer, const char* step) {
  for (int round = 0; round < 3; ++round) {
    std::array<uint8_t, 1024> out{};
    const auto id = new_transaction_id();
    stun::Builder b(out, method, stun::MessageClass::Request, id);
    add(b, c, peer);
    if (!c.nonce.empty())
      b.add_username(c.credentials.username).add_realm(c.realm).add_nonce(c.nonce).add_message_integrity(c.credentials.key);
    b.add_fingerprint();
    auto size = b.finish();
    if (!size) return Err{StepError{std::string(step) + ": build: " + std::string(stun::to_string(size.error()))}};
    auto reply = transact(c, std::span<const uint8_t>(out.data(), *size), id);
    if (!reply) return Err{StepError{std::string(step) + ": " + reply.error()}};
    auto m = stun::parse(std::span<const uint8_t>(reply->buf.data(), reply->size));
    uint16_t code = 0;
    switch (judge(c, *m, code)) {
      case Outcome::Success: return std::move(*reply);
      case Outcome::Challenged: continue;
      case Outcome::Failed: return Err{StepError{std::string(step) + ": error " + std::to_string(code), code}};
    }
  }
  return Err{StepError{std::string(step) + ": still challenged after three rounds (wrong secret or --auth scheme?)"}};
}

void add_allocate(stun::Builder& b, const TurnClient&, const SocketAddress&) {
  b.add_requested_transport(stun::kTransportUdp).add_lifetime(kLifetime);
}

void add_channel_bind(stun::Builder& b, const TurnClient& c, const SocketAddress& peer) {
  b.add_channel_number(c.channel).add_xor_peer_address(peer);
}

void add_release(stun::Builder& b, const TurnClient&, const SocketAddress&) { b.add_lifetime(0s); }

// Allocates and binds on the socket already in `c`.
Result<bool, StepError> allocate_and_bind(TurnClient& c, const SocketAddress& peer) {
  auto allocated = authenticated(c, stun::Method::Allocate, add_allocate, peer, "Allocate");
  if (!allocated) return Err{allocated.error()};
  auto m = stun::parse(std::span<const uint8_t>(allocated->buf.data(), allocated->size));
  auto relayed = m->xor_relayed_addresses();
  if (!relayed || relayed->empty()) return Err{StepError{"Allocate: success without XOR-RELAYED-ADDRESS"}};
  c.relayed = (*relayed)[0];
  auto bound = authenticated(c, stun::Method::ChannelBind, add_channel_bind, peer, "ChannelBind");
  if (!bound) return Err{bound.error()};
  return true;
}

}  // namespace

Result<TurnClient, std::string> open_turn_client(const Options& o, const SocketAddress& peer, uint32_t index,
                                                 uint64_t expiry_unix_seconds) {
  // RFC 8656 §7.2: a 437 means the relay still holds an allocation for this
  // 5-tuple (an earlier run's, on a reused ephemeral port); the client
  // moves to another one. The refused sockets stay open meanwhile so the
  // kernel cannot hand out the same port again.
  std::vector<OwnedFd> refused;
  for (int attempt = 0; attempt < 4; ++attempt) {
    TurnClient c;
    auto s = open_udp(SocketAddress{o.client_ip, 0}, &o.relay);
    if (!s) return Err{"client socket: " + s.error()};
    c.socket = std::move(*s);
    auto local = local_address(c.socket);
    if (!local) return Err{local.error()};
    c.local = *local;
    c.realm = o.realm;
    c.channel = kFirstChannel;
    c.credentials = mint_credentials(o, expiry_unix_seconds, "loadgen-" + std::to_string(index));
    auto done = allocate_and_bind(c, peer);
    if (done) return c;
    if (done.error().code != stun::error_code::kAllocationMismatch) return Err{done.error().what};
    refused.push_back(std::move(c.socket));
  }
  return Err{std::string("Allocate: 437 on four different ports")};
}

bool release_turn_client(TurnClient& c) {
  return authenticated(c, stun::Method::Refresh, add_release, SocketAddress{}, "Refresh").ok();
}

}  // namespace relay::loadgen
