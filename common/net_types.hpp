// Addresses and the strong identity types both processes agree on.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace relay {

// Values are the STUN address family codes (RFC 8489 §14.1), so they go on
// the wire as they are.
enum class Family : uint8_t { V4 = 0x01, V6 = 0x02 };

std::string_view to_string(Family f);

// An IPv4 or IPv6 address in network byte order. IPv4 uses bytes[0..3]; the
// rest stays zero so comparison and hashing can look at all 16 bytes.
struct IpAddress {
  Family family = Family::V4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress v4(std::array<uint8_t, 4> b);
  static IpAddress v4(uint32_t host_order);
  static IpAddress v6(const std::array<uint8_t, 16>& b);
  // Accepts dotted quad or RFC 4291 text (no brackets, no zone).
  static std::optional<IpAddress> parse(std::string_view text);

  [[nodiscard]] bool is_v4() const { return family == Family::V4; }
  [[nodiscard]] bool is_v6() const { return family == Family::V6; }
  [[nodiscard]] size_t size() const { return is_v4() ? 4 : 16; }
  [[nodiscard]] std::string to_string() const;

  auto operator<=>(const IpAddress&) const = default;
};

// An IP address and UDP port ("198.51.100.1:3478", "[2001:db8::1]:3478").
struct SocketAddress {
  IpAddress ip;
  uint16_t port = 0;

  static std::optional<SocketAddress> parse(std::string_view text);
  [[nodiscard]] Family family() const { return ip.family; }
  [[nodiscard]] std::string to_string() const;

  auto operator<=>(const SocketAddress&) const = default;
};

// A network prefix such as 10.0.0.0/8 or fc00::/7.
struct Cidr {
  IpAddress base;  // host bits cleared
  uint8_t prefix_len = 0;

  static std::optional<Cidr> parse(std::string_view text);
  [[nodiscard]] bool contains(const IpAddress& ip) const;
  [[nodiscard]] std::string to_string() const;

  auto operator<=>(const Cidr&) const = default;
};

// Strong types keep a peer from being passed where a client is expected.
template <class Tag, class T>
struct Strong {
  T value{};
  auto operator<=>(const Strong&) const = default;
};

struct ClientSocketTag {};
struct PeerSocketTag {};
struct ListenSocketTag {};
struct AllocationPortTag {};
struct ChannelNumberTag {};

using ClientSocket = Strong<ClientSocketTag, SocketAddress>;  // the client's public address as seen by us
using PeerSocket = Strong<PeerSocketTag, SocketAddress>;      // a peer of an allocation
using ListenSocket = Strong<ListenSocketTag, SocketAddress>;  // our address:3478 the client spoke to
using AllocationPort = Strong<AllocationPortTag, uint16_t>;
using ChannelNumber = Strong<ChannelNumberTag, uint16_t>;

// RFC 8656 §12: channel numbers 0x4000-0x7FFF; the two top bits 01 are what
// tell ChannelData from STUN on the wire.
constexpr uint16_t kMinChannel = 0x4000;
constexpr uint16_t kMaxChannel = 0x7FFF;
constexpr bool is_valid_channel(uint16_t n) { return n >= kMinChannel && n <= kMaxChannel; }

// How a client reaches the relay (RFC 8656 §3.1): UDP datagrams through the
// data plane, or a TCP / TLS-over-TCP stream the control plane terminates
// (ARCHITECTURE.md, "Streams"). The relay talks UDP to peers either way.
// The values travel on the rings (ring_abi::WireSocketAddress::transport).
enum class Transport : uint8_t { Udp = 0, Tcp = 1, Tls = 2 };
std::string_view to_string(Transport t);

// The client 5-tuple: who spoke to which of our listen sockets, over what.
// A TCP client and a UDP client with the same address and port are two
// clients (RFC 8656 §2).
struct ClientFiveTuple {
  ClientSocket client;
  ListenSocket listen;
  Transport transport = Transport::Udp;
  auto operator<=>(const ClientFiveTuple&) const = default;
};

size_t hash_bytes(const void* data, size_t len, size_t seed = 0);

// The relayed-address ports, both ends included: the configuration's
// relay.lowest_port..relay.highest_port, what the Server allocates from and
// what the data plane forwards to. RFC 8656 §7.2 suggests the dynamic range.
struct PortRange {
  uint16_t lowest = 49152;
  uint16_t highest = 65535;

  [[nodiscard]] bool contains(uint16_t port) const { return port >= lowest && port <= highest; }
  auto operator<=>(const PortRange&) const = default;
};

// An Ethernet address: the configured dataplane.mac_address and what the
// data plane writes in frames.
using MacAddress = std::array<uint8_t, 6>;
std::string mac_text(const MacAddress& mac);  // "02:00:00:00:00:01"

}  // namespace relay

template <>
struct std::hash<relay::IpAddress> {
  size_t operator()(const relay::IpAddress& a) const noexcept {
    return relay::hash_bytes(a.bytes.data(), a.bytes.size(), static_cast<size_t>(a.family));
  }
};
template <>
struct std::hash<relay::SocketAddress> {
  size_t operator()(const relay::SocketAddress& a) const noexcept {
    return std::hash<relay::IpAddress>{}(a.ip) * 31 + a.port;
  }
};
template <class Tag, class T>
struct std::hash<relay::Strong<Tag, T>> {
  size_t operator()(const relay::Strong<Tag, T>& s) const noexcept { return std::hash<T>{}(s.value); }
};
template <>
struct std::hash<relay::ClientFiveTuple> {
  size_t operator()(const relay::ClientFiveTuple& t) const noexcept {
    return (std::hash<relay::SocketAddress>{}(t.client.value) * 1000003u ^
            std::hash<relay::SocketAddress>{}(t.listen.value)) +
           static_cast<size_t>(t.transport);
  }
};
