#include "common/log.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <ctime>

namespace relay::log {

namespace {

struct Output {
  std::mutex mutex;
  std::FILE* file = stderr;
  std::string* buffer = nullptr;
  Format format = Format::Text;
  WallClock clock = nullptr;
};

Output& output() {
  static Output o;
  return o;
}

constexpr std::array<std::string_view, 5> kLevelNames = {"trace", "debug", "info", "warn", "error"};

// Fields named like the envelope keys would make duplicate JSON keys, which
// parsers resolve differently; they get a leading underscore instead.
bool is_envelope_key(std::string_view key) {
  return key == "ts" || key == "level" || key == "target" || key == "message";
}

void append_hex_escape(std::string& out, unsigned byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u00";
  out += kHex[(byte >> 4) & 0xF];
  out += kHex[byte & 0xF];
}

// Unicode 15 §3.9 table 3-7: the well-formed byte sequences. Returns how many
// bytes starting at `i` form one valid code point, or 0 with `bad` set to the
// length of the maximal ill-formed subpart (which becomes one U+FFFD).
size_t utf8_sequence(std::string_view s, size_t i, size_t& bad) {
  auto b0 = static_cast<uint8_t>(s[i]);
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    bad = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) {
      bad = k;
      return 0;
    }
    auto b = static_cast<uint8_t>(s[i + k]);
    uint8_t first_lo = k == 1 ? lo : 0x80, first_hi = k == 1 ? hi : 0xBF;
    if (b < first_lo || b > first_hi) {
      bad = k;
      return 0;
    }
  }
  return need + 1;
}

void append_number(std::string& out, auto value) {
  std::array<char, 32> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), ec == std::errc{} ? end : buf.data());
}

void append_double(std::string& out, double d, bool json) {
  // JSON has no NaN or infinity (RFC 8259 §6).
  if (!std::isfinite(d)) {
    out += json ? "null" : (std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf"));
    return;
  }
  append_number(out, d);
}

// A field's value as it prints unquoted (numbers, booleans) or the text
// that still needs quoting (`quote` set).
std::string render(const Value& v, bool json, bool& quote) {
  std::string s;
  quote = false;
  switch (v.kind()) {
    case Value::Kind::String:
      quote = true;
      s = v.string();
      break;
    case Value::Kind::Int:
      append_number(s, v.int_value());
      break;
    case Value::Kind::Uint:
      append_number(s, v.uint_value());
      break;
    case Value::Kind::Double:
      append_double(s, v.double_value(), json);
      break;
    case Value::Kind::Bool:
      s = v.bool_value() ? "true" : "false";
      break;
    case Value::Kind::Ip:
      quote = true;
      s = v.ip().to_string();
      break;
    case Value::Kind::Socket:
      quote = true;
      s = v.socket().to_string();
      break;
    case Value::Kind::Secret:
      quote = true;
      s = kRedacted;
      break;
  }
  return s;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  append_json_escaped(out, text);
  out += '"';
}

// Text values stay bare when that is unambiguous for a reader and for
// `key=value` splitting; anything else is quoted with JSON escapes.
bool needs_text_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    auto b = static_cast<uint8_t>(c);
    if (b <= 0x20 || b >= 0x7F || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

void append_text_value(std::string& out, std::string_view s) {
  if (needs_text_quotes(s)) {
    append_json_string(out, s);
  } else {
    out += s;
  }
}

std::chrono::system_clock::time_point now_wall() {
  auto clock = output().clock;
  return clock != nullptr ? clock() : std::chrono::system_clock::now();
}

}  // namespace

std::string_view to_string(Level level) { return kLevelNames.at(static_cast<size_t>(level)); }
std::string_view to_string(Format format) { return format == Format::Json ? "json" : "text"; }

std::optional<Level> parse_level(std::string_view text) {
  for (size_t i = 0; i < kLevelNames.size(); ++i)
    if (kLevelNames[i] == text) return static_cast<Level>(i);
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) {
  if (text == "text" || text == "human") return Format::Text;  // "human": Firezone's name
  if (text == "json") return Format::Json;
  return std::nullopt;
}

void set_level(Level level) { detail::g_min_level.store(level, std::memory_order_relaxed); }
Level level() { return detail::g_min_level.load(std::memory_order_relaxed); }

void set_format(Format format) {
  std::lock_guard lock(output().mutex);
  output().format = format;
}
Format format() {
  std::lock_guard lock(output().mutex);
  return output().format;
}

void set_output(std::FILE* file) {
  std::lock_guard lock(output().mutex);
  output().file = file;
  output().buffer = nullptr;
}
void set_output(std::string* buffer) {
  std::lock_guard lock(output().mutex);
  output().buffer = buffer;
}
void set_wall_clock(WallClock clock) {
  std::lock_guard lock(output().mutex);
  output().clock = clock;
}

void append_json_escaped(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    auto b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      if (b == '"' || b == '\\') {
        out += '\\';
        out += static_cast<char>(b);
      } else if (b < 0x20 || b == 0x7F) {
        append_hex_escape(out, b);
      } else {
        out += static_cast<char>(b);
      }
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t len = utf8_sequence(text, i, bad);
    if (len > 0) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      i += bad;
    }
  }
}

std::string format_timestamp(std::chrono::system_clock::time_point ts) {
  using namespace std::chrono;
  auto micros = duration_cast<microseconds>(ts.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(micros / 1'000'000);
  auto frac = micros % 1'000'000;
  if (frac < 0) {  // before 1970: floor, so the fraction stays positive
    frac += 1'000'000;
    --secs;
  }
  std::tm utc{};
  gmtime_r(&secs, &utc);
  std::array<char, 128> buf{};  // room for any int year, so no truncation warning
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<long long>(frac));
  return buf.data();
}

std::string format_json(std::chrono::system_clock::time_point ts, Level level,
                        std::string_view target, std::string_view message,
                        std::span<const Field> fields) {
  std::string out = "{\"ts\":\"" + format_timestamp(ts) + "\",\"level\":\"";
  out += to_string(level);
  out += "\",\"target\":";
  append_json_string(out, target);
  out += ",\"message\":";
  append_json_string(out, message);
  for (const auto& f : fields) {
    out += ',';
    out += '"';
    if (is_envelope_key(f.key)) out += '_';
    append_json_escaped(out, f.key);
    out += '"';
    out += ':';
    bool quote = false;
    auto value = render(f.value, true, quote);
    if (quote) {
      append_json_string(out, value);
    } else {
      out += value;
    }
  }
  out += "}\n";
  return out;
}

std::string format_text(std::chrono::system_clock::time_point ts, Level level,
                        std::string_view target, std::string_view message,
                        std::span<const Field> fields) {
  std::string out = format_timestamp(ts);
  std::string level_name(to_string(level));
  for (auto& c : level_name) c = static_cast<char>(c - 'a' + 'A');
  level_name.resize(5, ' ');
  out += ' ';
  out += level_name;
  out += ' ';
  append_json_escaped(out, target);  // no quotes, but no raw control bytes either
  out += ": ";
  append_json_escaped(out, message);
  for (const auto& f : fields) {
    out += ' ';
    append_json_escaped(out, f.key);
    out += '=';
    bool quote = false;
    auto value = render(f.value, false, quote);
    if (quote) {
      append_text_value(out, value);
    } else {
      out += value;
    }
  }
  out += '\n';
  return out;
}

void emit(Level level, std::string_view target, std::string_view message,
          std::span<const Field> fields) {
  auto ts = now_wall();
  auto& o = output();
  Format fmt{};
  {
    std::lock_guard lock(o.mutex);
    fmt = o.format;
  }
  auto line = fmt == Format::Json ? format_json(ts, level, target, message, fields)
                                  : format_text(ts, level, target, message, fields);
  std::lock_guard lock(o.mutex);
  if (o.buffer != nullptr) {
    *o.buffer += line;
  } else if (o.file != nullptr) {
    std::fwrite(line.data(), 1, line.size(), o.file);
    std::fflush(o.file);
  }
}

namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  auto tail = s.substr(s.size() - suffix.size());
  for (size_t i = 0; i < suffix.size(); ++i)
    if (ascii_lower(tail[i]) != suffix[i]) return false;
  return true;
}

bool is_secret_parameter(std::string_view name) {
  return ends_with_ci(name, "token") || ends_with_ci(name, "secret") ||
         ends_with_ci(name, "password");
}

// RFC 3986 §3.2.1: user info precedes '@' in the authority; it may carry a
// password, so all of it goes.
std::string redact_authority(std::string_view authority) {
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(authority);
  return std::string(kRedacted) + std::string(authority.substr(at));
}

std::string redact_query(std::string_view query) {
  std::string out;
  while (true) {
    auto amp = query.find_first_of("&;");
    auto param = query.substr(0, amp);
    auto eq = param.find('=');
    if (eq != std::string_view::npos && is_secret_parameter(param.substr(0, eq))) {
      out += param.substr(0, eq + 1);
      out += kRedacted;
    } else {
      out += param;
    }
    if (amp == std::string_view::npos) break;
    out += query[amp];
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

std::string redact_url(std::string_view url) {
  std::string out;
  auto scheme_end = url.find("://");
  if (scheme_end != std::string_view::npos) {
    auto authority_start = scheme_end + 3;
    auto authority_end = url.find_first_of("/?#", authority_start);
    out += url.substr(0, authority_start);
    out += redact_authority(url.substr(authority_start, authority_end - authority_start));
    url = authority_end == std::string_view::npos ? std::string_view{} : url.substr(authority_end);
  }
  auto q = url.find('?');
  if (q == std::string_view::npos) {
    out += url;
    return out;
  }
  out += url.substr(0, q + 1);
  auto rest = url.substr(q + 1);
  auto hash = rest.find('#');
  out += redact_query(rest.substr(0, hash));
  if (hash != std::string_view::npos) out += rest.substr(hash);
  return out;
}

RateLimiter::RateLimiter(uint32_t burst, Duration interval, size_t max_keys)
    : burst_(burst), interval_(interval), max_keys_(max_keys == 0 ? 1 : max_keys) {}

RateLimiter::Window& RateLimiter::window_for(Instant now, std::string_view key) {
  std::string k(key);
  if (auto it = windows_.find(k); it != windows_.end()) return it->second;
  if (windows_.size() >= max_keys_) {
    flush(now);
    std::erase_if(windows_, [&](const auto& kv) { return now - kv.second.start >= interval_; });
  }
  // Still full: new keys share one window, so a flood of distinct keys is
  // limited as a whole rather than growing the map.
  if (windows_.size() >= max_keys_) k = "<overflow>";
  auto [it, inserted] = windows_.try_emplace(k);
  if (inserted) {
    it->second.key = k;
    it->second.start = now;
  }
  return it->second;
}

RateLimiter::Admission RateLimiter::admit(Window& w, Instant now) {
  Admission a;
  if (now - w.start >= interval_) {
    a.suppressed_before = w.suppressed;
    w.start = now;
    w.admitted = 0;
    w.suppressed = 0;
  }
  if (w.admitted < burst_) {
    ++w.admitted;
    a.pass = true;
  } else {
    ++w.suppressed;
  }
  return a;
}

RateLimiter::Admission RateLimiter::admit(Instant now, std::string_view key) {
  return admit(window_for(now, key), now);
}

void RateLimiter::report(const Window& w, uint64_t suppressed) {
  std::string message = "suppressed ";
  message += std::to_string(suppressed);
  message += " similar messages";
  log::write(w.level, w.target, message, {{"key", w.key}, {"suppressed", suppressed}});
}

void RateLimiter::write(Instant now, std::string_view key, Level level, std::string_view target,
                        std::string_view message, Fields fields) {
  if (!enabled(level)) return;
  auto& w = window_for(now, key);
  auto admission = admit(w, now);
  if (admission.suppressed_before > 0) report(w, admission.suppressed_before);
  w.level = level;
  w.target = std::string(target);
  if (admission.pass) log::write(level, target, message, fields);
}

void RateLimiter::flush(Instant now) {
  for (auto& [key, w] : windows_) {
    if (w.suppressed == 0 || now - w.start < interval_) continue;
    report(w, w.suppressed);
    w.suppressed = 0;
  }
}

}  // namespace relay::log
