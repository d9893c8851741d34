// The structured logger both processes use: one event per line, as JSON for
// collectors or as key=value text for people. An event is a level, a target
// (the subsystem, e.g. "portal"), a message and typed fields:
//
//   log::info("alloc", "allocation created", {{"client", client}, {"port", port.value}});
//
// Fields only point at their values (strings, addresses) until the event is
// formatted, so a disabled level costs one relaxed load and a branch.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "common/net_types.hpp"
#include "common/time.hpp"

namespace relay::log {

enum class Level : uint8_t { Trace, Debug, Info, Warn, Error };
enum class Format : uint8_t { Text, Json };

std::string_view to_string(Level level);    // "trace" ... "error"
std::string_view to_string(Format format);  // "text" | "json"
std::optional<Level> parse_level(std::string_view text);
std::optional<Format> parse_format(std::string_view text);

// A value that must never reach a log line: it prints as "<redacted>".
struct Secret {
  std::string_view text;
};

// One typed field value. Strings and addresses are borrowed: a Field lives
// only for the full expression of the log call that builds it.
class Value {
 public:
  enum class Kind : uint8_t { String, Int, Uint, Double, Bool, Ip, Socket, Secret };

  Value(std::string_view s)
      : kind_(Kind::String), str_(s) {}                   // NOLINT(google-explicit-constructor)
  Value(const char* s) : kind_(Kind::String), str_(s) {}  // NOLINT
  Value(const std::string& s) : kind_(Kind::String), str_(s) {}  // NOLINT
  Value(bool b) : kind_(Kind::Bool), u_(b ? 1 : 0) {}            // NOLINT
  Value(double d) : kind_(Kind::Double), d_(d) {}                // NOLINT
  Value(float d) : kind_(Kind::Double), d_(d) {}                 // NOLINT
  template <class I>
  requires(std::is_integral_v<I>&& std::is_signed_v<I> && !std::is_same_v<I, char>) Value(I i)
      : kind_(Kind::Int), i_(static_cast<int64_t>(i)) {}  // NOLINT
  template <class U>
  requires(std::is_integral_v<U>&& std::is_unsigned_v<U> && !std::is_same_v<U, bool>) Value(U u)
      : kind_(Kind::Uint), u_(static_cast<uint64_t>(u)) {}             // NOLINT
  Value(const IpAddress& ip) : kind_(Kind::Ip), ip_(&ip) {}            // NOLINT
  Value(const SocketAddress& s) : kind_(Kind::Socket), socket_(&s) {}  // NOLINT
  template <class Tag, class T>
  Value(const Strong<Tag, T>& s) : Value(s.value) {}  // NOLINT
  Value(Secret) : kind_(Kind::Secret) {}              // NOLINT

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] std::string_view string() const { return str_; }
  [[nodiscard]] int64_t int_value() const { return i_; }
  [[nodiscard]] uint64_t uint_value() const { return u_; }
  [[nodiscard]] double double_value() const { return d_; }
  [[nodiscard]] bool bool_value() const { return u_ != 0; }
  [[nodiscard]] const IpAddress& ip() const { return *ip_; }
  [[nodiscard]] const SocketAddress& socket() const { return *socket_; }

 private:
  Kind kind_;
  std::string_view str_{};
  union {
    int64_t i_;
    uint64_t u_;
    double d_;
    const IpAddress* ip_;
    const SocketAddress* socket_ = nullptr;
  };
};

struct Field {
  std::string_view key;
  Value value;
};
using Fields = std::initializer_list<Field>;

// The process-wide minimum level; events below it are dropped before any
// formatting.
namespace detail {
inline std::atomic<Level> g_min_level{Level::Info};
}
inline bool enabled(Level level) {
  return level >= detail::g_min_level.load(std::memory_order_relaxed);
}

void set_level(Level level);
void set_format(Format format);
Level level();
Format format();

// Where formatted lines go (each ends in '\n'). The default is stderr.
void set_output(std::FILE* file);
void set_output(std::string* buffer);  // tests; the caller keeps it alive
// Wall-clock source for "ts"; tests pin it. nullptr restores the real clock.
using WallClock = std::chrono::system_clock::time_point (*)();
void set_wall_clock(WallClock clock);

// Formats and writes one event regardless of the level; the helpers below
// filter first.
void emit(Level level, std::string_view target, std::string_view message,
          std::span<const Field> fields);

inline void write(Level level, std::string_view target, std::string_view message,
                  Fields fields = {}) {
  if (enabled(level)) emit(level, target, message, {fields.begin(), fields.size()});
}
inline void trace(std::string_view target, std::string_view message, Fields fields = {}) {
  write(Level::Trace, target, message, fields);
}
inline void debug(std::string_view target, std::string_view message, Fields fields = {}) {
  write(Level::Debug, target, message, fields);
}
inline void info(std::string_view target, std::string_view message, Fields fields = {}) {
  write(Level::Info, target, message, fields);
}
inline void warn(std::string_view target, std::string_view message, Fields fields = {}) {
  write(Level::Warn, target, message, fields);
}
inline void error(std::string_view target, std::string_view message, Fields fields = {}) {
  write(Level::Error, target, message, fields);
}

// The pure formatters behind emit(), exposed so tests check exact lines.
std::string format_json(std::chrono::system_clock::time_point ts, Level level,
                        std::string_view target, std::string_view message,
                        std::span<const Field> fields);
std::string format_text(std::chrono::system_clock::time_point ts, Level level,
                        std::string_view target, std::string_view message,
                        std::span<const Field> fields);
// RFC 3339 in UTC with microseconds: 2026-11-26T09:51:02.123456Z.
std::string format_timestamp(std::chrono::system_clock::time_point ts);
// The body of a JSON string: quote, backslash and control characters
// escaped (\u00XX), invalid UTF-8 replaced by U+FFFD.
void append_json_escaped(std::string& out, std::string_view text);

// Secrets never appear in logs, help or errors; this is what shows instead.
inline constexpr std::string_view kRedacted = "<redacted>";
// The URL with user info and the values of secret query parameters (token,
// secret, password and names ending in _token or _secret) replaced by
// <redacted>. Safe on any input.
std::string redact_url(std::string_view url);

// Lets `burst` events per key through in each `interval`, then holds the
// rest back and reports them as one "suppressed N similar messages" event
// when the key's interval has ended (on its next event or on flush()).
// Time is injected so the decision is testable; the key set is bounded so a
// key derived from traffic cannot grow memory without limit.
class RateLimiter {
 public:
  RateLimiter(uint32_t burst, Duration interval, size_t max_keys = 1024);

  void write(Instant now, std::string_view key, Level level, std::string_view target,
             std::string_view message, Fields fields = {});
  void warn(Instant now, std::string_view key, std::string_view target, std::string_view message,
            Fields fields = {}) {
    write(now, key, Level::Warn, target, message, fields);
  }
  // Reports every key whose interval has ended with events held back.
  void flush(Instant now);

  // The decision alone: whether this event may be logged, and how many were
  // held back in the key's previous interval (0 if none).
  struct Admission {
    bool pass = false;
    uint64_t suppressed_before = 0;
  };
  Admission admit(Instant now, std::string_view key);

 private:
  struct Window {
    std::string key;
    Instant start;
    uint32_t admitted = 0;
    uint64_t suppressed = 0;
    Level level = Level::Warn;
    std::string target;
  };
  Window& window_for(Instant now, std::string_view key);
  Admission admit(Window& w, Instant now);
  static void report(const Window& w, uint64_t suppressed);

  uint32_t burst_;
  Duration interval_;
  size_t max_keys_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace relay::log
