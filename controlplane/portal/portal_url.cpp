#include "controlplane/portal/portal_url.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace relay::portal {
namespace {

constexpr std::string_view kRedacted = "REDACTED";
constexpr std::array<std::string_view, 3> kSecretParameters = {"token", "stamp_secret", "secret"};

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool is_unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
}

// RFC 3986 §3.2.2 reg-name without percent-encoding: DNS names need no more.
bool is_valid_reg_name(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

bool is_valid_path(std::string_view path) {
  if (!path.empty() && path.front() != '/') return false;
  return std::all_of(path.begin(), path.end(), [](char c) {
    return c > ' ' && c < 0x7f && c != '\\';
  });
}

Result<uint16_t, UrlError> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535) {
    return Err{UrlError::BadPort};
  }
  return static_cast<uint16_t>(value);
}

struct HostPort {
  std::string host;
  std::optional<uint16_t> port;
};

Result<HostPort, UrlError> parse_authority(std::string_view authority) {
  if (authority.empty()) return Err{UrlError::MissingHost};
  if (authority.find('@') != std::string_view::npos) return Err{UrlError::UnsupportedPart};
  HostPort out;
  std::string_view rest;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Err{UrlError::BadHost};
    const auto literal = authority.substr(1, close - 1);
    const auto ip = IpAddress::parse(literal);
    if (!ip || !ip->is_v6()) return Err{UrlError::BadHost};
    out.host = std::string(literal);
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return Err{UrlError::BadHost};
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (out.host.empty()) return Err{UrlError::MissingHost};
    if (!is_valid_reg_name(out.host)) return Err{UrlError::BadHost};
    if (colon != std::string_view::npos) rest = authority.substr(colon);
  }
  if (!rest.empty()) {
    auto port = parse_port(rest.substr(1));
    if (!port) return Err{port.error()};
    out.port = *port;
  }
  return out;
}

void redact_query(std::string& out, std::string_view query) {
  bool first = true;
  while (true) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const auto eq = pair.find('=');
    const auto key = pair.substr(0, eq);
    const bool secret = std::any_of(kSecretParameters.begin(), kSecretParameters.end(),
                                    [&](std::string_view s) { return iequals(key, s); });
    if (secret && eq != std::string_view::npos) {
      out.append(key).append("=").append(kRedacted);
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace

std::string_view describe(UrlError error) {
  switch (error) {
    case UrlError::Empty: return "the portal URL is empty";
    case UrlError::UnknownScheme: return "the portal URL must start with wss:// (or ws://)";
    case UrlError::InsecureWsRefused:
      return "refusing ws:// (the portal token would travel in clear text); use wss:// or pass --allow-insecure-ws";
    case UrlError::MissingHost: return "the portal URL has no host";
    case UrlError::BadHost: return "the portal URL's host is not a valid name or bracketed IPv6 literal";
    case UrlError::BadPort: return "the portal URL's port is not a number in 1-65535";
    case UrlError::UnsupportedPart: return "the portal URL may not carry user info, a query or a fragment";
    case UrlError::BadPath: return "the portal URL's path contains invalid characters";
  }
  return "invalid portal URL";
}

Result<PortalUrl, UrlError> PortalUrl::parse(std::string_view url, bool allow_insecure_ws) {
  if (url.empty()) return Err{UrlError::Empty};
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return Err{UrlError::UnknownScheme};
  PortalUrl out;
  const auto scheme = url.substr(0, sep);
  if (iequals(scheme, "wss")) {
    out.secure = true;
  } else if (iequals(scheme, "ws")) {
    if (!allow_insecure_ws) return Err{UrlError::InsecureWsRefused};
    out.secure = false;
  } else {
    return Err{UrlError::UnknownScheme};
  }
  auto rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) return Err{UrlError::UnsupportedPart};
  const auto slash = rest.find('/');
  auto authority = parse_authority(rest.substr(0, slash));
  if (!authority) return Err{authority.error()};
  out.host = std::move(authority->host);
  // RFC 6455 §3: default ports 80 for ws and 443 for wss.
  out.port = authority->port.value_or(out.secure ? 443 : 80);
  auto path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (!is_valid_path(path)) return Err{UrlError::BadPath};
  out.base_path = std::string(path);
  return out;
}

bool PortalUrl::host_is_ip_literal() const { return IpAddress::parse(host).has_value(); }

std::string PortalUrl::host_header() const {
  // Appends only: GCC 12 -O3 reports a bogus -Wrestrict for "[" + host (PR 105329).
  const bool v6 = host.find(':') != std::string::npos;
  std::string out;
  if (v6) out += '[';
  out += host;
  if (v6) out += ']';
  if (port != (secure ? 443 : 80)) out.append(":").append(std::to_string(port));
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  return out;
}

std::string connect_target(const PortalUrl& url, std::string_view query_token, const RelayIdentity& relay) {
  std::string target = url.base_path + "/relay/websocket";
  char sep = '?';
  auto add = [&](std::string_view key, std::string_view value) {
    target.append(1, sep).append(key).append("=").append(percent_encode(value));
    sep = '&';
  };
  if (!query_token.empty()) add("token", query_token);
  if (relay.public_ip4) add("ipv4", relay.public_ip4->to_string());
  if (relay.public_ip6) add("ipv6", relay.public_ip6->to_string());
  add("port", std::to_string(relay.listen_port));
  if (!relay.name.empty()) add("name", relay.name);
  return target;
}

std::string full_url(const PortalUrl& url, std::string_view target) {
  std::string out(url.scheme());
  return out.append("://").append(url.host_header()).append(target);
}

std::string redacted_url(std::string_view url) {
  std::string out;
  out.reserve(url.size());
  const auto fragment = url.find('#');
  auto body = url.substr(0, fragment);
  const auto query_at = body.find('?');
  auto head = body.substr(0, query_at);
  // User info ("user:password@") sits between "://" and the first '/'.
  const auto sep = head.find("://");
  const auto authority_from = sep == std::string_view::npos ? 0 : sep + 3;
  const auto authority_to = head.find('/', authority_from);
  const auto at = head.substr(0, authority_to).rfind('@');
  if (at != std::string_view::npos && at >= authority_from) {
    out.append(head.substr(0, authority_from)).append(kRedacted).append(head.substr(at));
  } else {
    out.append(head);
  }
  if (query_at != std::string_view::npos) {
    out += '?';
    redact_query(out, body.substr(query_at + 1));
  }
  if (fragment != std::string_view::npos) out.append(url.substr(fragment));
  return out;
}

std::string user_agent() {
#ifdef RELAY_VERSION
  return std::string("relay/") + RELAY_VERSION;
#else
  return "relay/unknown";
#endif
}

}  // namespace relay::portal
