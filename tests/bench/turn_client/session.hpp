// Brings one TURN client to the state the load needs (RFC 8656): an
// allocation obtained through the 401 challenge (§7.2, RFC 8489 §9.2) and a
// channel bound to the peer sink (§11), and takes it down again. The
// datagrams travel over a StunPath, so the same exchange runs over a kernel
// socket (turn-loadgen) or over frames the generator builds itself
// (turn-dpdk-gen).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "tests/bench/turn_client/auth.hpp"
#include "tests/bench/turn_client/options.hpp"

namespace relay::loadgen {

// One client's datagrams to and from the relay's listen socket.
class StunPath {
 public:
  using Deadline = std::chrono::steady_clock::time_point;
  virtual ~StunPath() = default;
  // False when the datagram could not be sent at all.
  virtual bool send(std::span<const uint8_t> datagram) = 0;
  // The size of the next datagram from the relay, copied into `into`, or 0
  // when none came before `deadline`.
  virtual size_t receive(std::span<uint8_t> into, Deadline deadline) = 0;
  // A stream (TCP, TLS) loses nothing: requests are not retransmitted
  // (RFC 8489 §6.2.2).
  [[nodiscard]] virtual bool reliable() const { return false; }
  // A stream that ended (closed, reset, out of step): nothing more will come.
  [[nodiscard]] virtual bool closed() const { return false; }
};

struct TurnSession {
  SocketAddress relayed;  // XOR-RELAYED-ADDRESS
  ChannelNumber channel{0};
  Credentials credentials;
  std::string realm;
  std::string nonce;
};

// The first channel number a client may bind (RFC 8656 §12: 0x4000..0x4FFF).
constexpr ChannelNumber kFirstChannel{0x4000};

struct StepError {
  std::string what;  // one line naming the step and what the relay answered
  uint16_t code = 0;  // the relay's ERROR-CODE, 0 when it did not answer with one
};

// Allocate, then ChannelBind to `peer`; client `index` gets its own
// username (see mint_credentials). A 437 comes back as code 437: the relay
// still holds an allocation for this 5-tuple, and only the caller can move
// to another one.
Result<TurnSession, StepError> open_session(StunPath& path, const Options& o, const SocketAddress& peer,
                                            uint32_t index, uint64_t expiry_unix_seconds);

// Refresh with LIFETIME 0 (RFC 8656 §7.4) so that repeated runs against one
// relay do not pile up allocations. False when the relay did not agree.
bool close_session(StunPath& path, TurnSession& s);

}  // namespace relay::loadgen
