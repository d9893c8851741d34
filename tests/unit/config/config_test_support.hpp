// What every config test (and the control plane's config translation test) needs: a TOML file on disk, an environment that is
// not the process's, and argv built from strings.
#pragma once

#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace relay::test {

class TempToml {
 public:
  explicit TempToml(const std::string& text) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr ? dir : "/tmp") + "/relay-config-XXXXXX.toml";
    int fd = mkstemps(path_.data(), 5);
    if (fd >= 0) {
      EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
      ::close(fd);
    }
  }
  ~TempToml() { std::remove(path_.c_str()); }
  TempToml(const TempToml&) = delete;
  TempToml& operator=(const TempToml&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

using Env = std::map<std::string, std::string>;

inline EnvLookup env_of(Env env) {
  return [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

inline Result<RelayConfig, ConfigError> load(std::vector<std::string> args, Env env = {}) {
  args.insert(args.begin(), "relay");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return load_config(static_cast<int>(argv.size()), argv.data(), "relay", env_of(std::move(env)));
}

// The one error line a failed load produces ("" when it did not fail).
inline std::string error_of(std::vector<std::string> args, Env env = {}) {
  auto r = load(std::move(args), std::move(env));
  if (r.ok()) return "";
  return r.error().message;
}

inline const std::vector<std::string> kMinimal = {"--ip4-addr", "198.51.100.1/24"};

}  // namespace relay::test
