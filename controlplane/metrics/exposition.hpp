// The Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one
// "# HELP" and one "# TYPE" line per family, then its samples. Label values
// and help text are escaped here, so no caller can break a line.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace relay::metrics {

enum class MetricType : uint8_t { Counter, Gauge, Histogram };

struct Label {
  std::string_view name;
  std::string_view value;
};

// The content type Prometheus expects for this format.
constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

class Exposition {
 public:
  // Starts a family; its samples follow. Counter names end in _total, which
  // the TYPE line carries too (as the 0.0.4 format does).
  void family(std::string_view name, MetricType type, std::string_view help);
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value);

  [[nodiscard]] const std::string& text() const { return text_; }
  std::string take() && { return std::move(text_); }

 private:
  void series(std::string_view name, std::initializer_list<Label> labels);
  std::string text_;
};

// Escapes \, " and newline (label values) or \ and newline (help text).
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
// Shortest text that reads back as the same double; NaN and infinities as
// Prometheus spells them.
std::string format_double(double value);

}  // namespace relay::metrics
