// The one place where the operator's RelayConfig becomes what a worker
// serves (dataplane::InterfaceConfig): relay addresses, ports, table sizes,
// burst, and the MAC the port reports unless the configuration overrides it.
#pragma once

#include <string>

#include "common/config.hpp"
#include "dataplane/config.hpp"

namespace relay::dpprocess {

dataplane::InterfaceConfig interface_config(const RelayConfig& config, const MacAddress& port_mac);

}  // namespace relay::dpprocess
