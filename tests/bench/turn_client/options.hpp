// The load generators' common command line (turn-loadgen over kernel
// sockets, turn-dpdk-gen over a DPDK port): what to offer, to whom, for how
// long, with which credentials.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay::loadgen {

// Which credential scheme the relay under test speaks.
enum class AuthScheme : uint8_t {
  Firezone,  // username "<expiry>:<salt>", password from SHA-256 (controlplane/core/stun/credentials.hpp)
  RestApi,   // coturn use-auth-secret: username "<expiry>:<user>", password base64(HMAC-SHA1)
};

// Echo: the peer sends every datagram back through the relay, so both
// forwarding directions are loaded and latency is a round trip. Count: the
// peer only counts, latency is one way (client -> relay -> peer).
enum class PeerMode : uint8_t { Echo, Count };

struct Options {
  SocketAddress relay;                 // the relay's listen socket
  IpAddress client_ip;                 // clients bind here, ephemeral ports
  SocketAddress peer;                  // the sink; port 0 picks one
  uint32_t clients = 8;
  uint64_t rate_pps = 50'000;          // total offered ChannelData per second
  std::chrono::milliseconds duration{5'000};
  std::chrono::milliseconds drain{500};  // keep receiving after the last send
  uint16_t payload_bytes = 100;        // ChannelData data length
  AuthScheme auth = AuthScheme::Firezone;
  std::string secret;
  std::string realm = "firezone";
  std::string rest_user = "loadgen";
  PeerMode mode = PeerMode::Echo;
  std::string label;                   // copied into the JSON line
};

// Hard bounds: a run never lasts longer than this, whatever the flags say.
constexpr std::chrono::seconds kMaxDuration{600};

// A generator's own flags beyond the common ones: `usage` is appended to
// the usage text; `parse` is asked about every flag the common parser does
// not know and answers nullopt (not mine either), true (taken) or false
// (bad value).
struct ExtraFlags {
  std::string_view usage;
  std::function<std::optional<bool>(std::string_view flag, std::string_view value)> parse;
};

// The whole of `text` as a decimal number (a flag's value).
template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

// Err holds a one-line message (or the usage text for --help).
Result<Options, std::string> parse_options(int argc, char** argv, std::string_view program = "turn-loadgen",
                                           const ExtraFlags& extra = {});

}  // namespace relay::loadgen
