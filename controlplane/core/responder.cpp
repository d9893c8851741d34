// Responses: counting, caching for retransmissions, and the two shapes of
// error every handler uses.
#include "controlplane/core/responder.hpp"

namespace relay::core {

namespace {
MethodLabel label_of(stun::Method m) {
  switch (m) {
    case stun::Method::Binding: return MethodLabel::Binding;
    case stun::Method::Allocate: return MethodLabel::Allocate;
    case stun::Method::Refresh: return MethodLabel::Refresh;
    case stun::Method::ChannelBind: return MethodLabel::ChannelBind;
    case stun::Method::CreatePermission: return MethodLabel::CreatePermission;
    default: return MethodLabel::Other;
  }
}
}  // namespace

std::optional<Command> Responder::next_command() {
  if (commands_.empty()) return std::nullopt;
  Command c = std::move(commands_.front());
  commands_.pop_front();
  return c;
}

void Responder::send_response(const Request& r, uint16_t error_code, Remember remember,
                              Result<std::vector<uint8_t>, stun::BuildError> response) {
  // Only a realm, software name or nonce longer than a datagram could get
  // here; the response is dropped rather than sent truncated.
  if (!response) {
    ++too_large_;
    return;
  }
  auto method = static_cast<size_t>(label_of(r.msg.method()));
  ++responses_[method][static_cast<size_t>(response_code_from(error_code))];
  // RFC 8489 §6.3.1 asks to remember what a retransmission must not redo;
  // idempotent requests (ChannelBind, CreatePermission, a non-zero Refresh)
  // are just processed again. Only authenticated outcomes get here, so
  // unauthenticated senders cannot fill the cache.
  if (remember == Remember::Yes) cache_.insert(r.client, r.msg.transaction_id(), *response, r.now);
  emit(SendMessage{std::move(*response), r.client.client, r.client.listen, {}, r.client.transport});
}

void Responder::respond_installed(const Request& r, const Auth& auth) {
  auto refusal = build_response(r, stun::error_code::kInsufficientCapacity, &auth, [](stun::Builder&) {});
  respond(r, 0, &auth, [](stun::Builder&) {});
  if (commands_.empty() || !refusal) return;
  if (auto* sent = std::get_if<SendMessage>(&commands_.back())) sent->if_refused = std::move(*refusal);
}

void Responder::reply_error(const Request& r, uint16_t code, const Auth* auth) {
  respond(r, code, auth, [](stun::Builder&) {});
}

void Responder::reply_challenge(const Request& r, uint16_t code, const Auth* signer, std::string_view nonce) {
  // RFC 8489 §9.2.4: REALM and a fresh NONCE. RFC 8489 leaves them unsigned
  // (the server may not know a key the client could check); we sign them
  // when the USERNAME names one (see Server::authenticate).
  respond(r, code, signer, [&](stun::Builder& b) { b.add_realm(realm_).add_nonce(nonce); });
}

bool Responder::resend_remembered(const ClientFiveTuple& client, const stun::TransactionId& id) {
  const auto* remembered = cache_.find(client, id);
  if (remembered == nullptr) return false;
  emit(SendMessage{*remembered, client.client, client.listen, {}, client.transport});
  return true;
}

}  // namespace relay::core
