// What a data-plane worker does when it finds nothing to do
// (dataplane.idle; dataplane/idle_backoff.hpp).
#pragma once

#include <cstdint>
#include <string_view>

namespace relay {

enum class IdleMode : uint8_t {
  Poll = 0,      // busy-poll, as l3fwd: lowest latency, a core at 100 %
  Adaptive = 1,  // back off to bounded sleeps while idle, full polling on the first packet
};
constexpr std::string_view to_string(IdleMode m) { return m == IdleMode::Poll ? "poll" : "adaptive"; }

}  // namespace relay
