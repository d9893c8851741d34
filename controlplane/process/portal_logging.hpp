// The portal library logs (its connection attempts and session events too)
// through a LogSink; here its lines become common/log events under target
// "portal". The portal code redacts before it logs; this adapter redacts
// again (secret-named fields, URLs) so a slip there never puts the token in
// a log line.
#pragma once

#include <span>
#include <string_view>

#include "common/log.hpp"
#include "controlplane/portal/log_sink.hpp"

namespace relay::process {

inline constexpr std::string_view kPortalTarget = "portal";

log::Level to_log_level(portal::LogLevel level);
// token, secret, password, and names ending in _token or _secret.
bool is_secret_field(std::string_view key);

// Writes one portal log line through common/log.
void log_portal(portal::LogLevel level, std::string_view message, std::span<const portal::LogField> fields);
portal::LogSink portal_log_sink();

}  // namespace relay::process
