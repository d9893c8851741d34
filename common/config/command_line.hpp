// The command line: every key is a flag; CLI11 only collects the text and
// prints --help, the values go through the same checks as the file's.
// Internal to the loader (common/config/): the public API is common/config.hpp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"
#include "common/config/schema.hpp"

namespace relay::config_detail {

struct CommandLine {
  bool version = false;
  bool check = false;
  std::optional<std::string> config;
  std::map<const Key*, std::vector<std::string>> values;
};

Result<CommandLine, ConfigError> parse_command_line(int argc, const char* const* argv,
                                                    std::string_view program);

}  // namespace relay::config_detail
