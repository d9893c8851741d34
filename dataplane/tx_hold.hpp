// When a worker sends the packets it has queued for the wire. On
// net_af_packet and net_af_xdp (copy mode) every rte_eth_tx_burst ends in a
// sendto() kick, a system call of a few thousand cycles whatever the burst
// holds; at low load a loop turn finds one or two packets, so that kick is
// most of a packet's cost. A worker may therefore hold a partial batch
// across loop turns, bounded in size and time:
// - a batch of kSendAt or more goes at once (a full burst gains nothing by
//   waiting, and the TX buffer has room for one more turn behind it);
// - the oldest held packet waits at most `hold` TSC ticks (tx_hold_us);
// - a worker about to pause or sleep sends first (the worker's idle_wait),
//   so an idle relay never sits on a packet.
// hold 0 sends every turn, as before. Pure policy: the worker reads the TSC.
#pragma once

#include <cstdint>

namespace relay::dataplane {

class TxHold {
 public:
  static constexpr uint16_t kSendAt = 32;

  explicit TxHold(uint64_t hold_tsc) : hold_tsc_(hold_tsc) {}

  // After a loop turn at `now_tsc` that left `queued` packets (`before`
  // of them queued by earlier turns): whether to send them now.
  bool send_now(uint16_t before, uint16_t queued, uint64_t now_tsc) {
    if (queued == 0) return false;
    if (before == 0) oldest_tsc_ = now_tsc;
    return queued >= kSendAt || now_tsc - oldest_tsc_ >= hold_tsc_;
  }

 private:
  uint64_t hold_tsc_;
  uint64_t oldest_tsc_ = 0;  // when the oldest queued packet was queued
};

}  // namespace relay::dataplane
