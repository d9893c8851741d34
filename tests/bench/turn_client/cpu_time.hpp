// The generator's own CPU time (user + system). Below the wall time of its
// traffic phase, its core was shared: a poll-mode or busy-sending loop never
// sleeps, so the difference is time something else ran there.
#pragma once

#include <sys/resource.h>

namespace relay::loadgen {

inline double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace relay::loadgen
