// The Server's output: its responses (RFC 8489 §6.3), built once into the
// bytes their SendMessage carries, counted, remembered for retransmissions
// when they must not be redone, and queued in order behind the table
// commands that come before them (command.hpp). The Server decides what to
// answer; this is how an answer is written and sent. It holds no
// reference into the Server (a moved Server keeps working): the nonce of a
// challenge comes in as an argument.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "common/time.hpp"
#include "controlplane/core/allocation.hpp"
#include "controlplane/core/command.hpp"
#include "controlplane/core/response_cache.hpp"
#include "controlplane/core/stats.hpp"
#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/stun.hpp"

namespace relay::core {

// One request as the Server handles it.
struct Request {
  const stun::Message& msg;
  ClientFiveTuple client;
  Instant now;
  Allocation* allocation;  // the client 5-tuple's, or null: looked up once per request
};

// The credentials a request verified with.
struct Auth {
  stun::IntegrityKey key;
  std::string_view username;
  stun::Username parts;  // views into `username`; the user names the owner (see Owner)
};

// Whether a retransmission gets this very response (non-idempotent
// outcomes: a new allocation, a deletion) or is simply processed again.
enum class Remember : bool { No, Yes };

// A response never exceeds the IPv6 minimum MTU.
constexpr size_t kMaxResponseSize = 1280;

class Responder {
 public:
  Responder(std::string software, std::string realm, size_t cache_capacity)
      : software_(std::move(software)), realm_(std::move(realm)), cache_(cache_capacity) {}

  // A table command, in order with the responses.
  void emit(Command c) { commands_.push_back(std::move(c)); }
  std::optional<Command> next_command();

  // `add` writes the method-specific attributes; SOFTWARE,
  // MESSAGE-INTEGRITY (when `auth`) and FINGERPRINT follow.
  template <class AddAttributes>
  void respond(const Request& r, uint16_t error_code, const Auth* auth, AddAttributes&& add,
               Remember remember = Remember::No) {
    send_response(r, error_code, remember, build_response(r, error_code, auth, std::forward<AddAttributes>(add)));
  }
  // The success of a request whose installs were just emitted, carrying the
  // 508 to send instead should the data plane refuse one.
  void respond_installed(const Request& r, const Auth& auth);
  void reply_error(const Request& r, uint16_t code, const Auth* auth);
  // 401/438 with REALM, `nonce` and, when `signer`, MESSAGE-INTEGRITY.
  void reply_challenge(const Request& r, uint16_t code, const Auth* signer, std::string_view nonce);
  // A retransmission of a remembered outcome gets the same bytes again;
  // false when nothing is remembered for it.
  bool resend_remembered(const ClientFiveTuple& client, const stun::TransactionId& id);
  void expire(Instant now) { cache_.expire(now); }

  // Responses by method and code, and those dropped as too large.
  [[nodiscard]] const auto& responses() const { return responses_; }
  [[nodiscard]] uint64_t too_large() const { return too_large_; }

 private:
  // The response's bytes: built in scratch_, then copied once into the
  // exact-size buffer the SendMessage owns (the IO shell's copy into an
  // mbuf is the only other). Building straight into an owned buffer would
  // save that ~100-byte copy but must zero-fill one of the maximum size
  // first: measured slower (bench-server refresh ~+10 %).
  template <class AddAttributes>
  Result<std::vector<uint8_t>, stun::BuildError> build_response(const Request& r, uint16_t error_code,
                                                                const Auth* auth, AddAttributes&& add);
  void send_response(const Request& r, uint16_t error_code, Remember remember,
                     Result<std::vector<uint8_t>, stun::BuildError> response);

  std::string software_;
  std::string realm_;
  ResponseCache cache_;
  std::deque<Command> commands_;
  std::array<std::array<uint64_t, kResponseCodes>, kMethodLabels> responses_{};
  uint64_t too_large_ = 0;
  std::array<uint8_t, kMaxResponseSize> scratch_{};
};

template <class AddAttributes>
Result<std::vector<uint8_t>, stun::BuildError> Responder::build_response(const Request& r, uint16_t error_code,
                                                                         const Auth* auth, AddAttributes&& add) {
  stun::Builder b(scratch_, r.msg.method(),
                  error_code == 0 ? stun::MessageClass::SuccessResponse : stun::MessageClass::ErrorResponse,
                  r.msg.transaction_id());
  if (error_code != 0) b.add_error_code(error_code);
  add(b);
  b.add_software(software_);  // RFC 8489 §14.14
  if (auth) b.add_message_integrity(auth->key);
  b.add_fingerprint();  // RFC 8489 §14.7: lets the client demultiplex cheaply
  const auto size = b.finish();
  if (!size) return Err{size.error()};
  return std::vector<uint8_t>(scratch_.begin(), scratch_.begin() + static_cast<ptrdiff_t>(*size));
}

}  // namespace relay::core
