// Power-aware polling (ARCHITECTURE.md, "Idle power"): what a worker does
// between two loop iterations. In `poll` mode it never waits (the busy
// loop of l3fwd). In `adaptive` mode an iteration that found nothing to do
// (no packet received or sent, no command, nothing from the control plane)
// counts as empty. Within kPollBeforeSleep of the last work the worker keeps
// polling - spinning at first, then pausing the core (rte_pause) after
// kSpinPolls empty iterations - so a flow with gaps shorter than that (any
// call of 100 packets a second or more) is polled exactly as in `poll`
// mode. Past it the worker sleeps, 1 µs at first and twice as long after
// each further empty iteration, never longer than max_sleep_us. The first
// iteration that does anything returns it to full polling; a command or
// packet arriving during a sleep waits at most max_sleep_us (plus the
// wakeup).
//
// Pure policy: the worker reads the TSC and performs the wait.
#pragma once

#include <algorithm>
#include <cstdint>

#include "common/idle_mode.hpp"

namespace relay::dataplane {

struct IdleWait {
  enum class Kind : uint8_t { None, Pause, Sleep } kind = Kind::None;
  uint32_t sleep_us = 0;
  bool operator==(const IdleWait&) const = default;
};

class IdleBackoff {
 public:
  // ~100 ns per empty iteration: ~25 µs of spinning before the pauses.
  static constexpr uint32_t kSpinPolls = 256;
  static constexpr uint64_t kPollBeforeSleepUs = 10'000;

  IdleBackoff(IdleMode mode, uint32_t max_sleep_us, uint64_t tsc_hz)
      : mode_(mode),
        max_sleep_us_(std::max(1u, max_sleep_us)),
        poll_before_sleep_(tsc_hz / 1'000'000 * kPollBeforeSleepUs) {}

  // After one iteration that ended at `now_tsc`; `worked`: it received,
  // sent or applied anything.
  IdleWait after(bool worked, uint64_t now_tsc) {
    if (mode_ == IdleMode::Poll || worked) {
      empty_ = 0;
      sleep_us_ = 0;
      last_work_tsc_ = now_tsc;
      return {};
    }
    if (now_tsc - last_work_tsc_ < poll_before_sleep_) {
      if (empty_ < kSpinPolls) {
        ++empty_;
        return {};
      }
      return {IdleWait::Kind::Pause, 0};
    }
    sleep_us_ = sleep_us_ == 0 ? 1 : std::min(max_sleep_us_, sleep_us_ * 2);
    return {IdleWait::Kind::Sleep, sleep_us_};
  }

  [[nodiscard]] IdleMode mode() const { return mode_; }
  [[nodiscard]] bool sleeping() const { return sleep_us_ != 0; }

 private:
  IdleMode mode_;
  uint32_t max_sleep_us_;
  uint64_t poll_before_sleep_;  // TSC ticks
  uint64_t last_work_tsc_ = 0;
  uint32_t empty_ = 0;
  uint32_t sleep_us_ = 0;
};

}  // namespace relay::dataplane
