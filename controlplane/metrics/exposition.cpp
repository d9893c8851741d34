#include "controlplane/metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace relay::metrics {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_double(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, r.ptr);
}

void Exposition::family(std::string_view name, MetricType type, std::string_view help) {
  static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += escape_help(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += kTypeNames[static_cast<size_t>(type)];
  text_ += '\n';
}

void Exposition::series(std::string_view name, std::initializer_list<Label> labels) {
  text_ += name;
  if (labels.size() != 0) {
    char sep = '{';
    for (const Label& l : labels) {
      text_ += sep;
      text_ += l.name;
      text_ += "=\"";
      text_ += escape_label_value(l.value);
      text_ += '"';
      sep = ',';
    }
    text_ += '}';
  }
  text_ += ' ';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
  series(name, labels);
  text_ += std::to_string(value);
  text_ += '\n';
}

void Exposition::sample(std::string_view name, std::initializer_list<Label> labels, double value) {
  series(name, labels);
  text_ += format_double(value);
  text_ += '\n';
}

}  // namespace relay::metrics
