#include "common/build_info.hpp"

#include "build_revision.hpp"

namespace relay {

BuildInfo build_info(std::string_view dpdk_version) {
  constexpr std::string_view kPrefix = "DPDK ";
  if (dpdk_version.starts_with(kPrefix)) dpdk_version.remove_prefix(kPrefix.size());
  return {.version = RELAY_VERSION, .revision = RELAY_REVISION, .dpdk = std::string(dpdk_version)};
}

std::string version_line(std::string_view program, const BuildInfo& build) {
  return std::string(program) + " " + build.version + " (revision " + build.revision + ") DPDK " + build.dpdk;
}

}  // namespace relay
