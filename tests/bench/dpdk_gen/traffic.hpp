// The measured phase of turn-dpdk-gen: ChannelData from every client at a
// fixed offered rate, paced by the TSC on the generator's one lcore; the
// relayed datagrams received at the peer (echoed back in echo mode) and
// timed from the probe's TSC stamp.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "tests/bench/dpdk_gen/histogram.hpp"
#include "tests/bench/dpdk_gen/link.hpp"
#include "tests/bench/turn_client/options.hpp"
#include "tests/bench/turn_client/session.hpp"

namespace relay::dpdkgen {

struct Client {
  SocketAddress local;  // the client address and this client's port
  loadgen::TurnSession session;
};

struct TrafficReport {
  uint64_t offered = 0;        // what the schedule asked for: behind + sent + tx_full
  uint64_t behind = 0;         // written off: the generator fell behind its own schedule
  uint64_t sent = 0;           // taken by the port's TX ring
  uint64_t tx_full = 0;        // refused by a full TX ring: the relay did not drain its RX ring in time
  uint64_t peer_received = 0;  // ChannelData the relay forwarded to the peer
  uint64_t peer_echo_failed = 0;
  uint64_t returned = 0;       // echo mode: back at the clients as ChannelData
  uint64_t malformed = 0;      // UDP to our sockets that did not carry our probe
  // Frames the port's receive side dropped before we polled them (ethdev
  // imissed: the XSK or packet ring full): lost by the generator, not the relay.
  uint64_t rx_missed = 0;
  uint64_t elapsed_cycles = 0;  // sending phase
  uint64_t phase_cycles = 0;    // sending and draining: what the generator's CPU time is spent on
  uint64_t idle_cycles = 0;     // of those, loop turns with nothing due and nothing received
  // The longest loop turn while sending: a preemption, or a send or receive
  // call that stalled. Beyond 1 ms of the schedule it becomes `behind`.
  uint64_t longest_turn_cycles = 0;
  LatencyHistogram latency;     // TSC cycles, one per delivered probe (round trip in echo mode)
};

// Err: the frame templates could not be built (pool empty).
Result<TrafficReport, std::string> run_traffic(const loadgen::Options& o, Link& link, std::span<const Client> clients,
                                               const SocketAddress& peer);

}  // namespace relay::dpdkgen
