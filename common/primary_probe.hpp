// Is a data plane running for this --file-prefix? Asked before rte_eal_init,
// because a secondary EAL without its primary fails with a page of EAL
// messages (or maps a dead primary's stale files) instead of one clear line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace relay {

// Where a primary with `file_prefix` keeps its runtime config, as DPDK's
// eal_create_runtime_dir() puts it: /var/run/dpdk/<prefix>/config for root,
// else under $XDG_RUNTIME_DIR (or /tmp).
std::string runtime_config_path(std::string_view file_prefix, bool is_root,
                                const std::optional<std::string>& xdg_runtime_dir);
std::string runtime_config_path(std::string_view file_prefix);  // this process's uid and environment

enum class PrimaryState : uint8_t {
  Running,
  NoRuntimeConfig,  // never started with this prefix (or ran --in-memory)
  Exited,           // the file is there but nobody holds its lock any more
};

// A live primary holds a write lock on its runtime config for as long as it
// runs (rte_eal_config_create); a crashed one leaves the file unlocked.
PrimaryState probe_primary(const std::string& config_path);

// The one line the operator sees when there is no data plane to attach to.
std::string describe(PrimaryState state, std::string_view file_prefix, std::string_view path);

}  // namespace relay
