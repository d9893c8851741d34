// One TURN client of turn-loadgen: its own UDP socket connected to the
// relay's listen socket, or its own TCP / TLS connection to the relay
// (--transport), with the session of tests/bench/turn_client (allocation,
// channel to the peer sink) opened over it.
#pragma once

#include <memory>
#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "tests/bench/load/stream.hpp"
#include "tests/bench/load/udp.hpp"
#include "tests/bench/turn_client/session.hpp"

namespace relay::loadgen {

struct TurnClient {
  OwnedFd socket;                  // UDP: connected to the relay's listen socket
  std::unique_ptr<Stream> stream;  // TCP and TLS instead of `socket`
  SocketAddress local;             // UDP: as bound; the relay sees the same (no NAT in the namespace)
  TurnSession session;
};

// Err: one line naming the step and what the relay answered.
Result<TurnClient, std::string> open_turn_client(const Options& o, Transport transport, const SocketAddress& peer,
                                                 uint32_t index, uint64_t expiry_unix_seconds);

// False when the relay did not agree to the release (see close_session).
bool release_turn_client(TurnClient& c);

}  // namespace relay::loadgen
