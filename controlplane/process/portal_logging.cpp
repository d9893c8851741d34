#include "controlplane/process/portal_logging.hpp"

#include <string>
#include <vector>

namespace relay::process {

log::Level to_log_level(portal::LogLevel level) {
  switch (level) {
    case portal::LogLevel::Debug: return log::Level::Debug;
    case portal::LogLevel::Info: return log::Level::Info;
    case portal::LogLevel::Warn: return log::Level::Warn;
    case portal::LogLevel::Error: return log::Level::Error;
  }
  return log::Level::Error;
}

bool is_secret_field(std::string_view key) {
  return key == "token" || key == "secret" || key == "password" || key.ends_with("_token") ||
         key.ends_with("_secret");
}

void log_portal(portal::LogLevel level, std::string_view message, std::span<const portal::LogField> fields) {
  const log::Level to = to_log_level(level);
  if (!log::enabled(to)) return;
  // Redacted URLs live here until emit() has formatted the line; reserved so
  // the views handed to log::Value never dangle.
  std::vector<std::string> redacted;
  redacted.reserve(fields.size());
  std::vector<log::Field> out;
  out.reserve(fields.size());
  for (const auto& f : fields) {
    if (is_secret_field(f.key)) {
      out.push_back({f.key, log::Secret{f.value}});
    } else if (f.value.find("://") != std::string::npos) {
      out.push_back({f.key, std::string_view(redacted.emplace_back(log::redact_url(f.value)))});
    } else {
      out.push_back({f.key, std::string_view(f.value)});
    }
  }
  log::emit(to, kPortalTarget, message, out);
}

portal::LogSink portal_log_sink() { return &log_portal; }

}  // namespace relay::process
