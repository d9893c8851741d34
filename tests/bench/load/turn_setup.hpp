// Brings one TURN client to the state the load needs (RFC 8656): an
// allocation obtained through the 401 challenge (§7.2, RFC 8489 §9.2) and a
// channel bound to the peer sink (§11), and takes it down again.
#pragma once

#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "tests/bench/load/auth.hpp"
#include "tests/bench/load/udp.hpp"

namespace relay::loadgen {

struct TurnClient {
  OwnedFd socket;         // connected to the relay's listen socket
  SocketAddress local;      // as bound; the relay sees the same (no NAT in the namespace)
  SocketAddress relayed;    // XOR-RELAYED-ADDRESS
  ChannelNumber channel{0};
  Credentials credentials;
  std::string realm;
  std::string nonce;
};

// The first channel number a client may bind (RFC 8656 §12: 0x4000..0x4FFF).
constexpr ChannelNumber kFirstChannel{0x4000};

// Err: one line naming the step and what the relay answered.
Result<TurnClient, std::string> open_turn_client(const Options& o, const SocketAddress& peer, uint32_t index,
                                                 uint64_t expiry_unix_seconds);

// Refresh with LIFETIME 0 (RFC 8656 §7.4) so that repeated runs against one
// relay do not pile up allocations. False when the relay did not agree.
bool release_turn_client(TurnClient& c);

}  // namespace relay::loadgen
