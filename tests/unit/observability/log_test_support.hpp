// The logger is process-wide; each test captures it into a string at a
// pinned wall-clock time and puts everything back afterwards.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/log.hpp"

namespace relay::test {

// 2026-11-26T09:51:02.123456Z
inline std::chrono::system_clock::time_point pinned_time() {
  return std::chrono::system_clock::time_point{std::chrono::seconds{1795686662} +
                                               std::chrono::microseconds{123456}};
}

class CapturedLog : public ::testing::Test {
 protected:
  void SetUp() override {
    log::set_output(&lines_);
    log::set_wall_clock(&pinned_time);
    log::set_level(log::Level::Trace);
    log::set_format(log::Format::Text);
  }
  void TearDown() override {
    log::set_output(stderr);
    log::set_wall_clock(nullptr);
    log::set_level(log::Level::Info);
    log::set_format(log::Format::Text);
  }
  [[nodiscard]] std::vector<std::string> lines() const {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t nl = lines_.find('\n'); nl != std::string::npos; nl = lines_.find('\n', start)) {
      out.push_back(lines_.substr(start, nl - start));
      start = nl + 1;
    }
    return out;
  }
  std::string lines_;
};

}  // namespace relay::test
