// relayctl's human output: the admin socket's JSON answers
// (controlplane/process/admin_commands.hpp) as aligned tables and
// "key: value" lines.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace relay::relayctl {

// The text for a successful answer to `command`.
std::string render(std::string_view command, const nlohmann::json& answer);

// Whether the answer is what the operator asked for: false when kill ended
// nothing or reload refused a key (relayctl then exits 1).
bool succeeded(std::string_view command, const nlohmann::json& answer);

// Columns padded to their widest cell, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows);

}  // namespace relay::relayctl
