#include "tests/bench/dpdk_gen/traffic.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_memcpy.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "common/channel_data.hpp"
#include "dataplane/wire.hpp"
#include "tests/bench/turn_client/probe.hpp"

namespace relay::dpdkgen {

namespace {

namespace wire = dataplane::wire;

// One TX burst per loop turn and up to kRxBursts RX bursts: receiving
// first keeps the relay's TX ring (our RX) from filling, so a loss the
// relay counts as tx_refused is not the generator's doing.
constexpr uint16_t kBurst = 32;
constexpr int kRxBursts = 4;
constexpr uint16_t kFrameOffset = wire::kEthernetHeader + wire::kIpv4Header;  // the UDP header
constexpr uint16_t kPayloadOffset = kFrameOffset + wire::kUdpHeader + kChannelDataHeaderSize;
class Run {
 public:
  Run(const loadgen::Options& o, Link& link, std::span<const Client> clients, const SocketAddress& peer)
      : o_(o), link_(link), clients_(clients), peer_(peer), hz_(rte_get_tsc_hz()) {}

  Result<TrafficReport, std::string> go();

 private:
  Result<bool, std::string> build_templates();
  void send_due(uint64_t now);
  bool receive(uint64_t now);
  void on_datagram(rte_mbuf* m, const Datagram& d, uint64_t now);
  void record(const uint8_t* payload, size_t len, uint64_t now);
  void turn_around(rte_mbuf* m, const Datagram& d);

  const loadgen::Options& o_;
  Link& link_;
  std::span<const Client> clients_;
  SocketAddress peer_;
  uint64_t hz_;
  std::unique_ptr<TrafficReport> r_ = std::make_unique<TrafficReport>();
  // Every client's frame, back to back at a cache-line stride, so that
  // 512 clients' templates stay in L2.
  std::vector<uint8_t> templates_;
  uint16_t frame_len_ = 0;
  size_t stride_ = 0;
  uint64_t start_ = 0;
  uint64_t seq_ = 0;
  size_t cursor_ = 0;
  std::array<rte_mbuf*, kBurst> free_{};
  uint16_t free_count_ = 0;
  std::array<rte_mbuf*, kBurst> echo_{};
  uint16_t echo_count_ = 0;
};

// Each client's frame with a zero probe and its checksums, built once by
// the same code that frames the STUN exchange; send_due() copies it.
Result<bool, std::string> Run::build_templates() {
  std::vector<uint8_t> data(kChannelDataHeaderSize + o_.payload_bytes, 0);
  frame_len_ = static_cast<uint16_t>(kPayloadOffset + o_.payload_bytes);
  stride_ = RTE_ALIGN_CEIL(size_t{frame_len_}, RTE_CACHE_LINE_SIZE);
  templates_.resize(stride_ * clients_.size());
  for (size_t i = 0; i < clients_.size(); ++i) {
    write_channel_data_header(data.data(), clients_[i].session.channel, o_.payload_bytes);
    rte_mbuf* m = link_.udp_frame(clients_[i].local, link_.config().relay, data);
    if (m == nullptr) return Err{std::string("mbuf pool empty while building frame templates")};
    std::memcpy(&templates_[i * stride_], rte_pktmbuf_mtod(m, const uint8_t*), frame_len_);
    rte_pktmbuf_free(m);
  }
  return true;
}

Result<TrafficReport, std::string> Run::go() {
  if (auto built = build_templates(); !built) return Err{built.error()};
  start_ = rte_rdtsc();
  const uint64_t send_end = start_ + static_cast<uint64_t>(o_.duration.count()) * hz_ / 1000;
  const uint64_t hard_end = send_end + static_cast<uint64_t>(o_.drain.count()) * hz_ / 1000;
  for (uint64_t now = start_, previous = start_; now < hard_end; previous = now, now = rte_rdtsc()) {
    if (now < send_end) r_->longest_turn_cycles = std::max(r_->longest_turn_cycles, now - previous);
    const uint64_t offered_before = r_->offered;
    if (now < send_end) send_due(now);
    const bool received = receive(now);
    if (now < send_end && !received && r_->offered == offered_before) r_->idle_cycles += rte_rdtsc() - now;
  }
  r_->elapsed_cycles = send_end - start_;
  r_->phase_cycles = rte_rdtsc() - start_;
  return std::move(*r_);
}

// Catches up with the schedule: everything due since the start that was
// not offered yet, at most one burst per turn. A generator that stalled
// (preempted, or busy receiving) may catch up on a short stall but must not
// make up for a long one with a burst the relay would rightly drop: what
// is beyond 1 ms worth (at least two bursts) is written off as the
// generator's shortfall, as turn-loadgen does.
void Run::send_due(uint64_t now) {
  const auto due_total = static_cast<uint64_t>(static_cast<__uint128_t>(now - start_) * o_.rate_pps / hz_);
  uint64_t due = due_total - std::min(due_total, r_->offered);
  const uint64_t cap = std::max<uint64_t>(o_.rate_pps / 1000, 2 * kBurst);
  if (due > cap) {
    r_->behind += due - cap;
    r_->offered += due - cap;
    due = cap;
  }
  if (due == 0) return;
  const auto n = static_cast<uint16_t>(std::min<uint64_t>(due, kBurst));
  std::array<rte_mbuf*, kBurst> out{};
  if (rte_pktmbuf_alloc_bulk(link_.pool(), out.data(), n) != 0) [[unlikely]] {
    r_->behind += n;
    r_->offered += n;
    return;
  }
  for (uint16_t i = 0; i < n; ++i) {
    const auto index = static_cast<uint32_t>(cursor_);
    cursor_ = cursor_ + 1 == clients_.size() ? 0 : cursor_ + 1;
    auto* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(out[i], frame_len_));
    rte_memcpy(f, &templates_[index * stride_], frame_len_);
    uint8_t* probe = f + kPayloadOffset;
    loadgen::write_probe(probe, seq_++, now, index);
    // RFC 1624: the template's UDP checksum covers a zero probe; add the
    // probe's sum to its complement instead of summing the datagram again.
    uint16_t checksum = 0;
    std::memcpy(&checksum, f + kFrameOffset + 6, 2);
    const uint32_t sum = static_cast<uint16_t>(~checksum) + wire::sum_bytes(probe, loadgen::kProbeBytes);
    wire::store_checksum(f + kFrameOffset + 6, wire::finish_udp_checksum(sum));
  }
  r_->offered += n;
  const uint16_t sent = rte_eth_tx_burst(link_.port(), 0, out.data(), n);
  r_->sent += sent;
  r_->tx_full += n - sent;
  if (sent < n) rte_pktmbuf_free_bulk(out.data() + sent, n - sent);
}

bool Run::receive(uint64_t now) {
  bool any = false;
  for (int b = 0; b < kRxBursts; ++b) {
    std::array<rte_mbuf*, kBurst> in{};
    const uint16_t n = rte_eth_rx_burst(link_.port(), 0, in.data(), kBurst);
    if (n == 0) break;
    any = true;
    const uint64_t t = b == 0 ? now : rte_rdtsc();
    for (uint16_t i = 0; i < n; ++i) {
      if (i + 1 < n) rte_prefetch0(rte_pktmbuf_mtod(in[i + 1], void*));
      if (auto d = link_.classify(in[i], t)) on_datagram(in[i], *d, t);
    }
    if (free_count_ != 0) rte_pktmbuf_free_bulk(free_.data(), free_count_);
    free_count_ = 0;
    if (echo_count_ != 0) {
      const uint16_t echoed = rte_eth_tx_burst(link_.port(), 0, echo_.data(), echo_count_);
      r_->peer_echo_failed += echo_count_ - echoed;
      if (echoed < echo_count_) rte_pktmbuf_free_bulk(echo_.data() + echoed, echo_count_ - echoed);
      echo_count_ = 0;
    }
    if (n < kBurst) break;
  }
  return any;
}

void Run::on_datagram(rte_mbuf* m, const Datagram& d, uint64_t now) {
  const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
  if (d.to == Datagram::To::Peer && d.udp.dst_port == peer_.port) {
    ++r_->peer_received;
    if (o_.mode == loadgen::PeerMode::Count) {
      record(f + d.udp.payload, d.udp.payload_len, now);
    } else {
      turn_around(m, d);
      echo_[echo_count_++] = m;
      return;
    }
  } else if (auto cd = parse_channel_data({f + d.udp.payload, d.udp.payload_len});
             d.to == Datagram::To::Client && cd && o_.mode == loadgen::PeerMode::Echo) {
    ++r_->returned;
    record(cd->data.data(), cd->data.size(), now);
  } else {
    ++r_->malformed;
  }
  free_[free_count_++] = m;
}

void Run::record(const uint8_t* payload, size_t len, uint64_t now) {
  if (len < loadgen::kProbeBytes) {
    ++r_->malformed;
    return;
  }
  const uint64_t stamp = loadgen::probe_stamp(payload);
  if (stamp < start_ || stamp > now) {
    ++r_->malformed;
    return;
  }
  r_->latency.add(now - stamp);
}

// Back to whoever sent it (the client's relayed address), the same bytes:
// swapping source and destination leaves both checksums valid.
void Run::turn_around(rte_mbuf* m, const Datagram& d) {
  auto* f = rte_pktmbuf_mtod(m, uint8_t*);
  std::memcpy(f, f + 6, 6);
  std::memcpy(f + 6, link_.client_host().mac.data(), 6);
  uint8_t ip[4];
  std::memcpy(ip, f + d.frame.src_addr(), 4);
  std::memcpy(f + d.frame.src_addr(), f + d.frame.dst_addr(), 4);
  std::memcpy(f + d.frame.dst_addr(), ip, 4);
  uint8_t port[2];
  std::memcpy(port, f + d.frame.l4, 2);
  std::memcpy(f + d.frame.l4, f + d.frame.l4 + 2, 2);
  std::memcpy(f + d.frame.l4 + 2, port, 2);
}

}  // namespace

Result<TrafficReport, std::string> run_traffic(const loadgen::Options& o, Link& link, std::span<const Client> clients,
                                               const SocketAddress& peer) {
  return Run(o, link, clients, peer).go();
}

}  // namespace relay::dpdkgen
