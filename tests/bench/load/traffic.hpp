// The measured phase: ChannelData offered at a fixed rate by every client,
// the peer sink echoing or counting, latencies collected from the payload's
// send timestamp.
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
  uint64_t sent = 0;           // accepted by sendmmsg
  uint64_t send_failed = 0;    // refused by the kernel (full socket buffer): never reached the relay
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
