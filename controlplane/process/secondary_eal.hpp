// The EAL command line of relay-controlplane: the configuration's
// control-plane argv (secondary, same --file-prefix, --no-pci, the primary's
// main lcore) plus what keeps a secondary quiet and out of the primary's way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace relay::process {

inline constexpr std::string_view kProgram = "relay-controlplane";

// EAL logs errors only, and no telemetry socket (the primary owns the one
// of this --file-prefix). Inserted right after the program name, so options
// from eal.extra_args, which come last, still override them.
std::vector<std::string> secondary_eal_arguments(const RelayConfig& config);

}  // namespace relay::process
