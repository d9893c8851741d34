// The portal's WebSocket address: parsing the configured ws:// or wss:// URL,
// building the upgrade target that identifies this relay, and printing URLs
// with their secrets taken out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/net_types.hpp"
#include "common/result.hpp"

namespace relay::portal {

enum class UrlError {
  Empty,
  UnknownScheme,      // neither ws:// nor wss://
  InsecureWsRefused,  // ws:// without --allow-insecure-ws
  MissingHost,
  BadHost,
  BadPort,
  UnsupportedPart,  // user info, query or fragment in the configured base URL
  BadPath,
};

// A sentence for the operator; it names the flag to use where one exists.
std::string_view describe(UrlError error);

struct PortalUrl {
  bool secure = true;     // wss
  std::string host;       // name or IP literal, IPv6 without brackets
  uint16_t port = 443;
  std::string base_path;  // "" or "/prefix", never a trailing slash

  // RFC 6455 §3: ws-URI and wss-URI. `ws://` sends the token in clear text,
  // so it is refused unless the operator explicitly allowed it.
  static Result<PortalUrl, UrlError> parse(std::string_view url, bool allow_insecure_ws);

  [[nodiscard]] std::string_view scheme() const { return secure ? "wss" : "ws"; }
  [[nodiscard]] bool host_is_ip_literal() const;
  // RFC 7230 §5.4: the port is written only when it is not the scheme's default.
  [[nodiscard]] std::string host_header() const;
};

// What the relay tells the portal about itself at login: the portal
// advertises exactly this address and port to clients, under this name.
struct RelayIdentity {
  std::optional<IpAddress> public_ip4;
  std::optional<IpAddress> public_ip6;
  uint16_t listen_port = 3478;
  std::string name;
};

// "<base path>/relay/websocket?token=..&ipv4=..&ipv6=..&port=..&name=..":
// the token (for portals that read it from the query; empty: left out), the
// addresses and the name only when set, each value percent-encoded.
std::string connect_target(const PortalUrl& url, std::string_view query_token, const RelayIdentity& relay);

// scheme://host[:port]<target>, for logs only after redacted_url().
std::string full_url(const PortalUrl& url, std::string_view target);

// RFC 3986 §2.3: everything but the unreserved characters becomes %XX.
std::string percent_encode(std::string_view text);

// The URL with the values of secret query parameters (token, stamp_secret,
// secret) and any user info replaced by REDACTED. Safe on any input.
std::string redacted_url(std::string_view url);

// The User-Agent header of the upgrade request: "relay/<version>".
std::string user_agent();

}  // namespace relay::portal
