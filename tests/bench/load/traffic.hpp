// The measured phase: ChannelData offered at a fixed rate by every client,
// the peer sink echoing or counting, latencies collected from the payload's
// send timestamp. UDP clients send a datagram per frame; TCP and TLS
// clients queue frames on their stream (padded to 4 bytes, RFC 8656 §12.5)
// and write each tick's share in one call.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tests/bench/load/turn_setup.hpp"
#include "tests/bench/load/udp.hpp"
#include "tests/bench/turn_client/options.hpp"

namespace relay::loadgen {

struct TrafficReport {
  uint64_t offered = 0;        // datagrams the schedule asked for (behind + sent + send_failed)
  uint64_t behind = 0;         // written off because the generator fell behind its schedule
  uint64_t sent = 0;           // accepted by sendmmsg (streams: taken into the client's queue)
  uint64_t send_failed = 0;    // UDP: refused by the kernel (full socket buffer); streams: on a closed connection
  // Streams only: refused because the client's queue was full, i.e. the
  // relay's TCP window had not taken what was offered before. The relay's
  // shortfall, so counted as lost (see the JSON line), not the generator's.
  uint64_t backpressured = 0;
  uint64_t stream_errors = 0;  // connections that closed, reset or went out of step during the run
  uint64_t peer_received = 0;  // ChannelData the relay forwarded to the peer
  uint64_t peer_echo_failed = 0;
  uint64_t returned = 0;       // echo mode: back at the clients as ChannelData
  uint64_t malformed = 0;      // anything that did not carry our payload
  uint64_t elapsed_ns = 0;     // sending phase
  uint64_t tick_ns = 0;        // sending granularity
  std::vector<uint32_t> latency_ns;  // one per delivered datagram (round trip in echo mode)
};

TrafficReport run_traffic(const Options& o, std::span<TurnClient> clients, const OwnedFd& peer);

}  // namespace relay::loadgen
