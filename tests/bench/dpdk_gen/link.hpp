// The generator's end of the link to the relay: one DPDK port (net_memif
// in scripts/bench-ceiling, net_af_packet or net_af_xdp on a veth in
// scripts/bench-vs-coturn), the two hosts the generator plays
// on it (the clients' address and the peer's), and the UDP frames between
// them and the relay. ARP is answered and learnt with the data plane's own
// host_services, so the relay meets the same neighbour logic it speaks.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/net_types.hpp"
#include "common/result.hpp"
#include "dataplane/config.hpp"
#include "dataplane/host_services.hpp"
#include "dataplane/neighbours.hpp"
#include "dataplane/parse.hpp"
#include "tests/bench/turn_client/session.hpp"

namespace relay::dpdkgen {

struct LinkConfig {
  IpAddress client_ip;  // every client, on its own UDP port
  IpAddress peer_ip;    // the peer sink
  SocketAddress relay;  // the relay's listen socket, on the same /24
};

// What a received frame turned out to be, for the caller that wants UDP.
struct Datagram {
  enum class To : uint8_t { Client, Peer } to;
  dataplane::ParsedFrame frame;
  dataplane::UdpView udp;
};

class Link {
 public:
  // Starts `port` (one RX and one TX queue) on `pool`.
  static Result<std::unique_ptr<Link>, std::string> open(uint16_t port, rte_mempool* pool, const LinkConfig& c);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Waits for the link (a memif client: its server accepted it; a veth: up) and then
  // for the relay's MAC, asking by ARP. Err: what did not happen in time.
  Result<bool, std::string> wait_for_relay(std::chrono::milliseconds limit);

  // Sorts one received frame: ARP for our addresses is answered (or
  // learnt) and consumed, as is anything not for us (nullopt, mbuf freed or
  // sent); UDP to the clients' or the peer's address comes back verified
  // (IPv4 and UDP checksums) and the caller owns the mbuf.
  std::optional<Datagram> classify(rte_mbuf* m, uint64_t now_tsc);

  // A frame from `from` (one of our sockets) to `to` carrying `payload`,
  // addressed to the relay's MAC; nullptr when the pool is empty.
  rte_mbuf* udp_frame(const SocketAddress& from, const SocketAddress& to, std::span<const uint8_t> payload);
  // Sends one frame; false (and freed) when the TX ring refused it.
  bool send(rte_mbuf* m);

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] rte_mempool* pool() const { return pool_; }
  [[nodiscard]] const dataplane::LocalIdentity& client_host() const { return client_; }
  [[nodiscard]] const uint8_t* relay_mac() const { return relay_mac_.data(); }
  [[nodiscard]] const LinkConfig& config() const { return config_; }
  [[nodiscard]] uint64_t arp_replies() const { return arp_replies_; }
  [[nodiscard]] uint64_t ignored() const { return ignored_; }

 private:
  Link(uint16_t port, rte_mempool* pool, const LinkConfig& c);
  const dataplane::LocalIdentity* owner(const uint8_t* ip) const;

  uint16_t port_;
  rte_mempool* pool_;
  LinkConfig config_;
  dataplane::LocalIdentity client_;
  dataplane::LocalIdentity peer_;
  dataplane::Neighbours neighbours_;
  dataplane::TokenBucket echo_limiter_;
  MacAddress relay_mac_{};
  bool started_ = false;
  uint64_t arp_replies_ = 0;
  uint64_t ignored_ = 0;
};

// One client's STUN datagrams over the link: from `local` (the client
// address and its port) to the relay's listen socket. Frames for other
// sockets that arrive meanwhile are handled (ARP) or dropped.
class FramePath final : public loadgen::StunPath {
 public:
  FramePath(Link& link, SocketAddress local) : link_(link), local_(local) {}
  bool send(std::span<const uint8_t> datagram) override;
  size_t receive(std::span<uint8_t> into, Deadline deadline) override;

 private:
  Link& link_;
  SocketAddress local_;
};

}  // namespace relay::dpdkgen
