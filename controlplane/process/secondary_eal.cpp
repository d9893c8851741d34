#include "controlplane/process/secondary_eal.hpp"

namespace relay::process {

std::vector<std::string> secondary_eal_arguments(const RelayConfig& config) {
  auto args = eal_arguments(config, EalRole::ControlPlane, kProgram);
  args.insert(args.begin() + 1, {"--log-level=lib.eal:error", "--no-telemetry"});
  return args;
}

}  // namespace relay::process
