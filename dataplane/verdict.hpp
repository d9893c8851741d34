// Where a packet goes after one processing step (VPP's "next node") and the
// counter that says why: what the worker's passes, the host services and
// the exception path hand back for each packet of a burst.
#pragma once

#include <cstdint>

#include "common/counters_abi.hpp"

namespace relay::dataplane {

// ToKernel: the stream TAP's TX queue (TCP to a stream port); ToStream:
// the "to_stream" ring (a message for a TCP/TLS client).
enum class Next : uint8_t { Tx, ToControlPlane, Free, ToKernel, ToStream };

struct Verdict {
  Next next;
  Counter counter;
};

inline Verdict drop(Counter why) { return {Next::Free, why}; }

}  // namespace relay::dataplane
