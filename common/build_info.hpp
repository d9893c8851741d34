// What a binary is: the project's version, the git revision it was built
// from and the DPDK it runs on. `--version` prints it and /metrics carries
// it (relay_build_info), so an operator matches a running relay to a
// release without asking the package manager.
#pragma once

#include <string>
#include <string_view>

namespace relay {

struct BuildInfo {
  std::string version;   // meson's project version
  std::string revision;  // `git describe --always --dirty` at build time; "unknown" outside git
  std::string dpdk;      // e.g. "22.11.11"
};

// `dpdk_version` is what rte_version() says ("DPDK 22.11.11"): the DPDK
// libraries loaded at run time, not the headers compiled against. The
// caller passes it, since common/ does not link DPDK.
BuildInfo build_info(std::string_view dpdk_version);

// "relay-dataplane 0.1.0 (revision 6d25b31) DPDK 22.11.11"
std::string version_line(std::string_view program, const BuildInfo& build);

}  // namespace relay
