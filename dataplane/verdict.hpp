// Where a packet goes after one processing step (VPP's "next node") and the
// counter that says why: what the worker's passes, the host services and
// the exception path hand back for each packet of a burst.
#pragma once

#include <cstdint>

#include "common/counters_abi.hpp"

namespace relay::dataplane {

enum class Next : uint8_t { Tx, ToControlPlane, Free };

struct Verdict {
  Next next;
  Counter counter;
};

inline Verdict drop(Counter why) { return {Next::Free, why}; }

}  // namespace relay::dataplane
