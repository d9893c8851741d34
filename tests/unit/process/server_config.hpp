// The Server of the process and reconciliation tests: both relay families
// on the documentation addresses the data-plane fixture uses, no portal.
#pragma once

#include <string>
#include <string_view>

#include "controlplane/core/server_config.hpp"

namespace relay::process::testing {

constexpr std::string_view kTestSecret = "0123456789abcdef-tests";

inline core::ServerConfig two_family_server_config() {
  core::ServerConfig config;
  config.relay_v4 = IpAddress::parse("203.0.113.1");
  config.relay_v6 = IpAddress::parse("2001:db8:1::1");
  config.auth_secrets = {std::string(kTestSecret)};
  config.has_portal = false;
  return config;
}

}  // namespace relay::process::testing
