#include "dataplane/process/bpf_log.hpp"

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <string_view>

#include "common/log.hpp"

namespace relay::dpprocess {

namespace {

constexpr std::string_view kTarget = "dataplane";

void forward(bool warning, std::string_view library, const char* format, va_list args) {
  char text[512];
  const int n = std::vsnprintf(text, sizeof text, format, args);
  if (n <= 0) return;
  std::string_view line(text, std::min(static_cast<size_t>(n), sizeof text - 1));
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  log::write(warning ? log::Level::Warn : log::Level::Debug, kTarget, line, {{"library", library}});
}

int from_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  forward(level == LIBBPF_WARN, "libbpf", format, args);
  return 0;
}

int from_libxdp(enum libxdp_print_level level, const char* format, va_list args) {
  forward(level == LIBXDP_WARN, "libxdp", format, args);
  return 0;
}

}  // namespace

void route_bpf_logs() {
  libbpf_set_print(from_libbpf);
  libxdp_set_print(from_libxdp);
}

}  // namespace relay::dpprocess
