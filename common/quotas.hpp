// The per-user, per-address and per-allocation limits: the [quotas] section
// of the configuration and what the Server enforces, one type for both.
#pragma once

#include <cstdint>

namespace relay {

struct QuotaLimits {  // 0 = unlimited
  uint32_t allocations_per_user = 64;
  uint32_t allocations_per_client_ip = 0;  // an office behind one NAT address may be any size
  uint32_t allocations_total = 0;          // the port range is the natural global bound
  uint32_t channels_per_allocation = 4096;  // a gateway binds one channel per peer
  uint32_t permissions_per_allocation = 4096;

  bool operator==(const QuotaLimits&) const = default;
};

}  // namespace relay
