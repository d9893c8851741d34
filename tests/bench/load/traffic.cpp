#include "tests/bench/load/traffic.hpp"

#include <sys/epoll.h>
#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/channel_data.hpp"
#include "tests/bench/turn_client/probe.hpp"

namespace relay::loadgen {

namespace {

// Per-syscall batch: big enough to amortise the syscall, small enough that
// one client's burst does not overrun a relay's 512-frame af_packet ring.
constexpr size_t kBatch = 64;
constexpr size_t kMaxDatagram = 2048;
// A stream client's own backlog on top of the kernel's send buffer: a few
// ticks of frames, so that a relay that stops reading shows as refused
// frames (TrafficReport::backpressured) rather than as growing latency.
constexpr size_t kMaxQueuedBytes = 64 << 10;
// A stream client writes at least this many frames at once: with 512
// clients a tick's share is one frame each, and a write (TLS: a record) per
// 104-byte frame made the generator, not the relay, the limit (3.6 s of
// CPU for 5 s at 50k/s over TLS). The aggregate rate stays smooth; each
// client sends its share in bursts of this size, as TCP would coalesce it.
constexpr uint64_t kStreamMinShare = 8;

// Scatter/gather state for one recvmmsg or sendmmsg call of up to kBatch.
struct Batch {
  std::array<std::array<uint8_t, kMaxDatagram>, kBatch> buf{};
  std::array<iovec, kBatch> iov{};
  std::array<mmsghdr, kBatch> msg{};
  std::array<sockaddr_storage, kBatch> name{};

  void prepare(size_t n, size_t len, bool with_names) {
    for (size_t i = 0; i < n; ++i) {
      iov[i] = {buf[i].data(), len};
      msg[i] = {};
      msg[i].msg_hdr.msg_iov = &iov[i];
      msg[i].msg_hdr.msg_iovlen = 1;
      if (with_names) {
        msg[i].msg_hdr.msg_name = &name[i];
        msg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
    }
  }
};

// Sending tick: a client should get a few datagrams per sendmmsg, but the
// whole tick's burst must stay short (see kBatch).
uint64_t tick_for(const Options& o) {
  const uint64_t per_client_four = 4'000'000'000ULL * o.clients / o.rate_pps;
  return std::clamp<uint64_t>(per_client_four, 100'000, 2'000'000);
}

class Run {
 public:
  Run(const Options& o, std::span<TurnClient> clients, const OwnedFd& peer)
      : o_(o), clients_(clients), peer_(peer), closed_(clients.size(), false) {
    const uint64_t expected = o.rate_pps * static_cast<uint64_t>(o.duration.count()) / 1000;
    r_.latency_ns.reserve(std::min<uint64_t>(expected + expected / 8, 64ULL << 20));
    r_.tick_ns = tick_for(o);
  }

  TrafficReport go();

 private:
  void send_due(uint64_t now);
  void send_to(TurnClient& c, uint32_t index, size_t n, uint64_t now);
  void queue_on_stream(TurnClient& c, uint32_t index, size_t n, uint64_t now);
  void drain_peer();
  void drain_client(TurnClient& c);
  void on_stream_event(uint32_t index, uint32_t events);
  void read_stream(uint32_t index);
  void close_stream(uint32_t index);
  void record(const uint8_t* data, size_t len, uint64_t now);
  int make_epoll();

  const Options& o_;
  std::span<TurnClient> clients_;
  const OwnedFd& peer_;
  TrafficReport r_;
  Batch batch_;
  uint64_t start_ = 0;
  uint64_t seq_ = 0;
  size_t cursor_ = 0;
  std::vector<bool> closed_;  // streams that failed during the run
  int epoll_ = -1;
};

int Run::make_epoll() {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = clients_.size();  // the peer
  epoll_ctl(ep, EPOLL_CTL_ADD, peer_.fd(), &ev);
  for (size_t i = 0; i < clients_.size(); ++i) {
    ev.data.u64 = i;
    if (clients_[i].stream) {
      // Edge-triggered: a stream is read until it would block and written
      // on every tick anyway; EPOLLOUT only says the window opened again.
      // Registered in count mode too, for that EPOLLOUT.
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      epoll_ctl(ep, EPOLL_CTL_ADD, clients_[i].stream->fd(), &ev);
    } else if (o_.mode == PeerMode::Echo) {
      ev.events = EPOLLIN;
      epoll_ctl(ep, EPOLL_CTL_ADD, clients_[i].socket.fd(), &ev);
    }
  }
  return ep;
}

TrafficReport Run::go() {
  // The default 50 us timer slack would stretch every 100 us tick.
  prctl(PR_SET_TIMERSLACK, 1UL);
  const OwnedFd ep(make_epoll());
  epoll_ = ep.fd();
  std::array<epoll_event, 256> events{};
  start_ = monotonic_ns();
  const uint64_t send_end = start_ + static_cast<uint64_t>(o_.duration.count()) * 1'000'000ULL;
  const uint64_t hard_end = send_end + static_cast<uint64_t>(o_.drain.count()) * 1'000'000ULL;
  uint64_t next_tick = start_;
  for (uint64_t now = start_; now < hard_end; now = monotonic_ns()) {
    if (now < send_end && now >= next_tick) {
      send_due(now);
      next_tick = now + r_.tick_ns;
    }
    const uint64_t wake = now < send_end ? std::min(next_tick, send_end) : hard_end;
    const uint64_t wait = wake > now ? wake - now : 0;
    const timespec timeout{static_cast<time_t>(wait / 1'000'000'000ULL), static_cast<long>(wait % 1'000'000'000ULL)};
    const int n = epoll_pwait2(ep.fd(), events.data(), static_cast<int>(events.size()), &timeout, nullptr);
    for (int i = 0; i < n; ++i) {
      const epoll_event& e = events[static_cast<size_t>(i)];
      const uint64_t who = e.data.u64;
      if (who == clients_.size()) drain_peer();
      else if (clients_[who].stream) on_stream_event(static_cast<uint32_t>(who), e.events);
      else drain_client(clients_[who]);
    }
  }
  r_.elapsed_ns = send_end - start_;
  return std::move(r_);
}

// Catches up with the schedule: everything due since the start that was not
// offered yet, spread over the clients round-robin.
void Run::send_due(uint64_t now) {
  const uint64_t due_total = static_cast<uint64_t>(static_cast<__uint128_t>(now - start_) * o_.rate_pps / 1'000'000'000ULL);
  uint64_t due = due_total - std::min(due_total, r_.offered);
  // A generator that stalled (preempted on a shared core, or busy
  // receiving) may catch up on a short stall, but must not make up for a
  // long one with a burst the relay would rightly drop: what is beyond two
  // ticks' (at least 5 ms) worth is written off as the generator's shortfall.
  const uint64_t two_ticks = 2 * r_.tick_ns * o_.rate_pps / 1'000'000'000ULL;
  const uint64_t cap = std::max<uint64_t>({two_ticks, o_.rate_pps / 200, kBatch});
  if (due > cap) {
    r_.behind += due - cap;
    r_.offered += due - cap;
    due = cap;
  }
  const uint64_t fewest = clients_.front().stream ? kStreamMinShare : 1;
  const uint64_t share = std::clamp<uint64_t>(due / clients_.size(), fewest, kBatch);
  while (due > 0) {
    const auto index = static_cast<uint32_t>(cursor_);
    cursor_ = (cursor_ + 1) % clients_.size();
    const size_t n = std::min(due, share);
    send_to(clients_[index], index, n, now);
    due -= n;
  }
}

void Run::send_to(TurnClient& c, uint32_t index, size_t n, uint64_t now) {
  if (c.stream) return queue_on_stream(c, index, n, now);
  const size_t len = kChannelDataHeaderSize + o_.payload_bytes;
  batch_.prepare(n, len, false);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* p = batch_.buf[i].data();
    std::memset(p, 0, len);
    write_channel_data_header(p, c.session.channel, o_.payload_bytes);
    write_probe(p + kChannelDataHeaderSize, seq_++, now, index);
  }
  r_.offered += n;
  const int sent = sendmmsg(c.socket.fd(), batch_.msg.data(), static_cast<unsigned>(n), 0);
  const size_t ok = sent > 0 ? static_cast<size_t>(sent) : 0;
  r_.sent += ok;
  r_.send_failed += n - ok;
}

// Appends up to n frames to the client's queue (what the queue has no room
// for is refused: back-pressure) and writes the queue out in one call.
void Run::queue_on_stream(TurnClient& c, uint32_t index, size_t n, uint64_t now) {
  r_.offered += n;
  if (closed_[index]) {
    r_.send_failed += n;
    return;
  }
  Stream& s = *c.stream;
  const size_t frame = (kChannelDataHeaderSize + o_.payload_bytes + 3) & ~size_t{3};  // RFC 8656 §12.5
  const size_t room = s.queued_bytes() < kMaxQueuedBytes ? (kMaxQueuedBytes - s.queued_bytes()) / frame : 0;
  const size_t taken = std::min(n, room);
  r_.backpressured += n - taken;
  r_.sent += taken;
  auto& q = s.queue();
  const size_t at = q.size();
  q.resize(at + taken * frame);  // zeroes the payload and the padding
  for (size_t i = 0; i < taken; ++i) {
    uint8_t* p = q.data() + at + i * frame;
    write_channel_data_header(p, c.session.channel, o_.payload_bytes);
    write_probe(p + kChannelDataHeaderSize, seq_++, now, index);
  }
  if (s.flush() == IoStatus::Closed) close_stream(index);
}

void Run::on_stream_event(uint32_t index, uint32_t events) {
  if (closed_[index]) return;
  if (events & EPOLLOUT && clients_[index].stream->flush() == IoStatus::Closed) return close_stream(index);
  // EPOLLRDHUP and EPOLLERR: read what is left, the read then reports the end.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) read_stream(index);
}

// Reads until the socket would block (edge-triggered), cutting frames out
// after every read: any number of frames per read, and a frame split over
// reads waits in the stream's buffer for its rest.
void Run::read_stream(uint32_t index) {
  TurnClient& c = clients_[index];
  Stream& s = *c.stream;
  for (;;) {
    const IoStatus status = s.read_some();
    const uint64_t now = monotonic_ns();
    for (auto frame = s.next_frame(); !frame.empty(); frame = s.next_frame()) {
      if ((frame[0] & 0xC0) == 0) continue;  // STUN (none expected now): not ours to count
      auto cd = parse_channel_data(frame);
      if (!cd || cd->channel != c.session.channel) {
        ++r_.malformed;
        continue;
      }
      ++r_.returned;
      record(cd->data.data(), cd->data.size(), now);
    }
    if (s.desynced()) {
      ++r_.malformed;
      return close_stream(index);
    }
    if (status == IoStatus::Closed) return close_stream(index);
    if (status == IoStatus::WouldBlock || s.drained()) return;
  }
}

void Run::close_stream(uint32_t index) {
  closed_[index] = true;
  ++r_.stream_errors;
  epoll_ctl(epoll_, EPOLL_CTL_DEL, clients_[index].stream->fd(), nullptr);
}

void Run::record(const uint8_t* data, size_t len, uint64_t now) {
  if (len < kProbeBytes) {
    ++r_.malformed;
    return;
  }
  const uint64_t stamp = probe_stamp(data);
  if (stamp < start_ || stamp > now) {
    ++r_.malformed;
    return;
  }
  r_.latency_ns.push_back(static_cast<uint32_t>(std::min<uint64_t>(now - stamp, UINT32_MAX)));
}

void Run::drain_peer() {
  for (;;) {
    batch_.prepare(kBatch, kMaxDatagram, true);
    const int n = recvmmsg(peer_.fd(), batch_.msg.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const uint64_t now = monotonic_ns();
    const auto count = static_cast<size_t>(n);
    r_.peer_received += count;
    if (o_.mode == PeerMode::Count) {
      for (size_t i = 0; i < count; ++i) record(batch_.buf[i].data(), batch_.msg[i].msg_len, now);
      continue;
    }
    // Back to whoever sent it (the relayed address), the same bytes.
    for (size_t i = 0; i < count; ++i) batch_.iov[i].iov_len = batch_.msg[i].msg_len;
    const int echoed = sendmmsg(peer_.fd(), batch_.msg.data(), static_cast<unsigned>(count), 0);
    r_.peer_echo_failed += count - (echoed > 0 ? static_cast<size_t>(echoed) : 0);
  }
}

void Run::drain_client(TurnClient& c) {
  for (;;) {
    batch_.prepare(kBatch, kMaxDatagram, false);
    const int n = recvmmsg(c.socket.fd(), batch_.msg.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    const uint64_t now = monotonic_ns();
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      auto cd = parse_channel_data(std::span<const uint8_t>(batch_.buf[i].data(), batch_.msg[i].msg_len));
      if (!cd || cd->channel != c.session.channel) {
        ++r_.malformed;
        continue;
      }
      ++r_.returned;
      record(cd->data.data(), cd->data.size(), now);
    }
  }
}

}  // namespace

TrafficReport run_traffic(const Options& o, std::span<TurnClient> clients, const OwnedFd& peer) {
  return Run(o, clients, peer).go();
}

}  // namespace relay::loadgen
