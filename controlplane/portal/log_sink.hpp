// How the portal code logs without owning a logger: the process passes a
// sink (later wired to common/log.hpp), tests pass a recorder. Secrets never
// reach a sink; callers redact before they log.
#pragma once

#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace relay::portal {

enum class LogLevel { Debug, Info, Warn, Error };

inline std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
  }
  return "unknown";
}

struct LogField {
  std::string_view key;
  std::string value;
};

using LogSink = std::function<void(LogLevel, std::string_view message, std::span<const LogField> fields)>;

// Calls the sink when there is one; a default-constructed sink drops everything.
inline void emit(const LogSink& sink, LogLevel level, std::string_view message,
                 std::initializer_list<LogField> fields = {}) {
  if (sink) sink(level, message, std::span<const LogField>(fields.begin(), fields.size()));
}

}  // namespace relay::portal
