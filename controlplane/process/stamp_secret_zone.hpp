// The generated stamp secret outlives a control-plane restart: a portal
// hands out credentials minted with it, and the allocations a restarted
// control plane adopts are refreshed with those credentials. It is kept in
// a small memzone this process reserves in the data plane's shared memory
// (a memzone a secondary reserved stays in the primary's memory after the
// secondary dies), so it lives exactly as long as the data plane: never on
// disk, never logged. A restarted data plane starts with a fresh secret,
// as it starts with no allocations.
#pragma once

#include <string>

#include "common/result.hpp"

namespace relay::process {

// "<ring prefix>stamp_secret".
std::string stamp_secret_zone_name(const std::string& ring_prefix);

struct KeptSecret {
  std::string value;
  bool adopted = false;  // from a predecessor; false: `generated`, now kept
};

// After rte_eal_init: the secret a predecessor kept in `zone_name`, else
// `generated`, written there for the next control plane. The error (no
// memory for the zone, a secret too long for it) names no secret.
Result<KeptSecret, std::string> keep_stamp_secret(const std::string& zone_name, const std::string& generated);

}  // namespace relay::process
