#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/config.hpp"
#include "common/mix.hpp"

namespace relay {

Result<std::string, std::string> generate_auth_secret(std::optional<uint64_t> rng_seed) {
  std::array<uint8_t, 32> bytes{};
  if (rng_seed) {
    uint64_t state = *rng_seed ^ 0x61757468'73656372ull;  // "authsecr"
    for (size_t i = 0; i < bytes.size(); i += 8) {
      uint64_t v = splitmix64(state);
      for (size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<uint8_t>(v >> (8 * k));
    }
  } else {
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = getrandom(bytes.data() + got, bytes.size() - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Err{std::string("getrandom: ") + std::strerror(errno)};
      got += static_cast<size_t>(n);
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (auto b : bytes) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xF];
  }
  return hex;
}

}  // namespace relay
