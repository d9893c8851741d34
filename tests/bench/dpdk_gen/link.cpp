#include "tests/bench/dpdk_gen/link.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "dataplane/frame_builder.hpp"
#include "dataplane/process/port.hpp"
#include "dataplane/setup.hpp"

namespace relay::dpdkgen {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint16_t kRxBurst = 32;
// The relay answers ARP from its worker in microseconds; a retry interval
// this long only matters when the link came up a moment ago.
constexpr auto kArpRetry = 100ms;

dataplane::InterfaceConfig host_config(const MacAddress& mac, const IpAddress& ip) {
  dataplane::InterfaceConfig ic;
  ic.mac = mac;
  ic.ipv4 = dataplane::InterfaceAddress{ip, 24, std::nullopt};
  return ic;
}

}  // namespace

Link::Link(uint16_t port, rte_mempool* pool, const LinkConfig& c)
    : port_(port),
      pool_(pool),
      config_(c),
      client_(dataplane::LocalIdentity::from(host_config(dpprocess::port_mac(port), c.client_ip))),
      peer_(dataplane::LocalIdentity::from(host_config(dpprocess::port_mac(port), c.peer_ip))),
      neighbours_(host_config(dpprocess::port_mac(port), c.client_ip), rte_get_tsc_hz()),
      echo_limiter_(0, 0, rte_get_tsc_hz()) {}

Result<std::unique_ptr<Link>, std::string> Link::open(uint16_t port, rte_mempool* pool, const LinkConfig& c) {
  if (!c.client_ip.is_v4() || !c.peer_ip.is_v4() || !c.relay.ip.is_v4())
    return Err{std::string("turn-dpdk-gen speaks IPv4 only")};
  std::unique_ptr<Link> link(new Link(port, pool, c));
  auto started = dataplane::start_port(port, pool, {.rx_queues = 1, .tx_queues = 1, .want_tx_checksum_offload = false});
  if (!started) return Err{started.error()};
  link->started_ = true;
  return link;
}

Link::~Link() {
  if (started_) rte_eth_dev_stop(port_);
  rte_eth_dev_close(port_);
}

const dataplane::LocalIdentity* Link::owner(const uint8_t* ip) const {
  if (std::memcmp(ip, client_.v4, 4) == 0) return &client_;
  if (std::memcmp(ip, peer_.v4, 4) == 0) return &peer_;
  return nullptr;
}

Result<bool, std::string> Link::wait_for_relay(std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (rte_eth_link l{}; rte_eth_link_get_nowait(port_, &l) != 0 || l.link_status != RTE_ETH_LINK_UP;) {
    if (Clock::now() > deadline)
      return Err{std::string("the link did not come up (a memif client: is the relay's data plane serving its socket? a veth: is it up?)")};
    std::this_thread::sleep_for(10ms);
  }
  dataplane::NextHop hop{.family = Family::V4};
  std::memcpy(hop.ip, config_.relay.ip.bytes.data(), 4);
  auto last_request = Clock::time_point{};
  while (Clock::now() < deadline) {
    if (const uint8_t* mac = neighbours_.resolve(Family::V4, hop.ip, rte_rdtsc()).mac) {
      std::memcpy(relay_mac_.data(), mac, 6);
      return true;
    }
    if (Clock::now() - last_request > kArpRetry) {
      last_request = Clock::now();
      // Leaves the pending entry the relay's reply fills: an ARP reply
      // nobody asked for is not learnt (dataplane/neighbours.hpp).
      neighbours_.may_solicit(hop, rte_rdtsc());
      if (rte_mbuf* m = rte_pktmbuf_alloc(pool_); m != nullptr && dataplane::build_solicitation(m, client_, hop)) {
        send(m);
      } else {
        rte_pktmbuf_free(m);
      }
    }
    rte_mbuf* burst[kRxBurst];
    const uint16_t n = rte_eth_rx_burst(port_, 0, burst, kRxBurst);
    for (uint16_t i = 0; i < n; ++i)
      if (classify(burst[i], rte_rdtsc())) rte_pktmbuf_free(burst[i]);
  }
  return Err{"the relay did not answer ARP for " + config_.relay.ip.to_string()};
}

std::optional<Datagram> Link::classify(rte_mbuf* m, uint64_t now_tsc) {
  const std::span<const uint8_t> f{rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
  // Which of our two hosts the frame is for: the IPv4 destination, or the
  // ARP target; parse_frame_into then checks it like the relay would.
  const dataplane::LocalIdentity* me = &client_;
  if (f.size() >= dataplane::wire::kEthernetHeader + dataplane::wire::kArpPacket) {
    const uint16_t ethertype = load_be16(f.data() + 12);
    const size_t at = ethertype == dataplane::wire::kEtherTypeIpv4  ? dataplane::wire::kEthernetHeader + 16
                      : ethertype == dataplane::wire::kEtherTypeArp ? dataplane::wire::kEthernetHeader + 24
                                                                     : 0;
    if (const auto* o = at != 0 ? owner(f.data() + at) : nullptr) me = o;
  }
  Datagram d{me == &peer_ ? Datagram::To::Peer : Datagram::To::Client, {}, {}};
  const dataplane::ParseOutcome parsed = dataplane::parse_frame_into(f, *me, m->ol_flags, d.frame);
  if (parsed.accepted() && d.frame.l3_kind == dataplane::L3::Arp) {
    dataplane::HostContext host{*me, neighbours_, echo_limiter_, now_tsc};
    if (dataplane::handle_arp(m, d.frame, host).next == dataplane::Next::Tx) {
      arp_replies_ += send(m) ? 1 : 0;
    } else {
      rte_pktmbuf_free(m);
    }
    return std::nullopt;
  }
  if (!parsed.accepted() || d.frame.protocol != dataplane::wire::kProtoUdp ||
      !dataplane::parse_udp_into(f, d.frame, m->ol_flags, d.udp).accepted()) [[unlikely]] {
    ++ignored_;
    rte_pktmbuf_free(m);
    return std::nullopt;
  }
  return d;
}

rte_mbuf* Link::udp_frame(const SocketAddress& from, const SocketAddress& to, std::span<const uint8_t> payload) {
  namespace wire = dataplane::wire;
  constexpr uint16_t kHeaders = wire::kEthernetHeader + wire::kIpv4Header + wire::kUdpHeader;
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) return nullptr;
  auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(kHeaders + payload.size())));
  if (f == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(f + kHeaders, payload.data(), payload.size());
  const dataplane::UdpAddressing a{Family::V4, from.ip.bytes.data(), rte_cpu_to_be_16(from.port), to.ip.bytes.data(),
                                   rte_cpu_to_be_16(to.port)};
  dataplane::write_udp_frame<false>(m, f, client_, relay_mac_.data(), a, static_cast<uint16_t>(payload.size()));
  return m;
}

bool Link::send(rte_mbuf* m) {
  if (rte_eth_tx_burst(port_, 0, &m, 1) == 1) return true;
  rte_pktmbuf_free(m);
  return false;
}

bool FramePath::send(std::span<const uint8_t> datagram) {
  rte_mbuf* m = link_.udp_frame(local_, link_.config().relay, datagram);
  return m != nullptr && link_.send(m);
}

size_t FramePath::receive(std::span<uint8_t> into, Deadline deadline) {
  const SocketAddress& relay = link_.config().relay;
  rte_mbuf* burst[kRxBurst];
  while (Clock::now() < deadline) {
    const uint16_t n = rte_eth_rx_burst(link_.port(), 0, burst, kRxBurst);
    size_t got = 0;
    for (uint16_t i = 0; i < n; ++i) {
      auto d = link_.classify(burst[i], rte_rdtsc());
      if (!d) continue;
      const uint8_t* f = rte_pktmbuf_mtod(burst[i], const uint8_t*);
      const bool ours = d->to == Datagram::To::Client && d->udp.dst_port == local_.port &&
                        d->udp.src_port == relay.port &&
                        std::memcmp(f + d->frame.src_addr(), relay.ip.bytes.data(), 4) == 0;
      if (ours && got == 0) {
        got = std::min<size_t>(d->udp.payload_len, into.size());
        std::memcpy(into.data(), f + d->udp.payload, got);
      }
      rte_pktmbuf_free(burst[i]);
    }
    if (got != 0) return got;
  }
  return 0;
}

}  // namespace relay::dpdkgen
