#include "controlplane/process/command_fanout.hpp"

#include <algorithm>

namespace relay::process {

namespace {
// Sequence numbers skip 0 (= not acknowledged) when they wrap.
uint32_t after(uint32_t seq) { return seq + 1 == 0 ? 1 : seq + 1; }
// Serial-number order (RFC 1982): a after b, across a wrap.
bool newer(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) > 0; }
}  // namespace

CommandFanout::CommandFanout(std::vector<std::reference_wrapper<CommandRing>> rings, size_t waiting_capacity,
                             ReplicaSource* source, uint16_t session)
    : source_(source), session_(session) {
  lanes_.reserve(rings.size());
  for (auto ring : rings) lanes_.emplace_back(ring, waiting_capacity);
}

Delivery CommandFanout::deliver(Lane& lane, const Outgoing& o) {
  ring_abi::CommandMessage numbered = o.message;
  numbered.seq = lane.next_seq;
  numbered.session = session_;
  if (!lane.ring.get().try_enqueue(numbered)) return Delivery::Busy;
  if (o.ticket != 0) lane.installs.push_back({numbered.seq, o.ticket});
  lane.next_seq = after(lane.next_seq);
  return Delivery::Accepted;
}

void CommandFanout::publish(const ring_abi::CommandMessage& message, uint64_t ticket) {
  for (Lane& lane : lanes_) {
    lane.waiting.offer(Outgoing{message, ticket}, [&](const Outgoing& o) { return deliver(lane, o); });
    if (const uint64_t lost = lane.waiting.stats().overflowed; lost != lane.overflows_seen) {
      lane.overflows_seen = lost;
      diverge(lane, Divergence::Overflow);
    }
  }
}

size_t CommandFanout::flush(Instant now) {
  size_t done = 0;
  for (Lane& lane : lanes_) {
    done += lane.waiting.flush([&](const Outgoing& o) { return deliver(lane, o); });
    watch(lane, now);
    done += stream_resync(lane, now);
  }
  return done;
}

// Whatever waits is superseded by the resynchronisation: each port is
// streamed as the Server holds it when its turn comes, after everything
// already on the ring.
void CommandFanout::diverge(Lane& lane, Divergence why) {
  const bool restarts_nothing = lane.resyncing && source_ != nullptr && lane.resync_port == source_->first_port() &&
                                lane.waiting.empty();
  if (!restarts_nothing) ++stats_.divergences[static_cast<size_t>(why)];
  if (source_ == nullptr) return;  // nothing to repair it from: keep what waits
  lane.waiting.clear();
  lane.waiting_since.reset();
  lane.digest_mismatches = 0;
  lane.resyncing = true;
  lane.resync_port = source_->first_port();
}

void CommandFanout::watch(Lane& lane, Instant now) {
  if (lane.waiting.empty()) {
    lane.waiting_since.reset();
  } else if (!lane.waiting_since) {
    lane.waiting_since = now;
  } else if (now - *lane.waiting_since > kStallTimeout) {
    // Answers stop waiting for this worker, with or without a source to
    // repair it from.
    lane.waiting.clear();
    lane.waiting_since.reset();
    lane.installs.clear();
    diverge(lane, Divergence::Stalled);
  }
  if (!in_flight(lane) || lane.last_progress == Instant{}) {
    lane.last_progress = now;
  } else if (now - lane.last_progress > kAckTimeout) {
    // What is still unacknowledged is given up for lost: the
    // resynchronisation covers it, and its late acks count as stale.
    lane.acked = lane.next_seq - 1 == 0 ? UINT32_MAX : lane.next_seq - 1;
    lane.installs.clear();
    lane.last_progress = now;
    diverge(lane, Divergence::Unacknowledged);
  }
}

size_t CommandFanout::stream_resync(Lane& lane, Instant now) {
  if (!lane.resyncing || source_ == nullptr || !lane.waiting.empty()) return 0;
  size_t sent = 0;
  for (size_t i = 0; i < kResyncPortsPerFlush && lane.resync_port <= source_->last_port(); ++i) {
    std::vector<ring_abi::CommandMessage> group = source_->replica_of(static_cast<uint16_t>(lane.resync_port), now);
    if (!send_group(lane, group)) break;  // the ring is full: the next turn resends the port
    sent += group.size();
    ++lane.resync_port;
  }
  stats_.resync_messages += sent;
  if (lane.resync_port > source_->last_port()) {
    lane.resyncing = false;
    lane.trusted_from = lane.next_seq;
    ++stats_.resyncs_completed;
  }
  return sent;
}

bool CommandFanout::send_group(Lane& lane, std::span<ring_abi::CommandMessage> group) {
  for (size_t first = 0; first < group.size(); first += kMaxGroup) {
    const auto chunk = group.subspan(first, std::min(kMaxGroup, group.size() - first));
    uint32_t seq = lane.next_seq;
    for (size_t i = 0; i < chunk.size(); ++i) {
      chunk[i].seq = seq;
      chunk[i].session = session_;
      chunk[i].group_rest = static_cast<uint16_t>(chunk.size() - 1 - i);
      seq = after(seq);
    }
    if (!lane.ring.get().try_enqueue_group(chunk)) return false;
    lane.next_seq = seq;
  }
  return true;
}

void CommandFanout::take_ack(const ring_abi::AckMessage& ack, Instant now) {
  if (ack.session != session_ || ack.worker >= lanes_.size()) {
    ++stats_.stale_acks;
    return;
  }
  Lane& lane = lanes_[ack.worker];
  if (!newer(ack.seq, lane.acked) || !newer(lane.next_seq, ack.seq)) {
    ++stats_.stale_acks;
    return;
  }
  ++stats_.acks;
  const bool refused = ack.result == ring_abi::AckResult::TableFull || ack.result == ring_abi::AckResult::ProbeLimit;
  // Installs numbered up to this ack are settled (those skipped by a gap
  // were lost, and the resynchronisation takes care of them).
  while (!lane.installs.empty() && !newer(lane.installs.front().seq, ack.seq)) {
    if (refused && lane.installs.front().seq == ack.seq) refused_.push_back(lane.installs.front().ticket);
    lane.installs.pop_front();
  }
  const bool gap = ack.seq != after(lane.acked);
  lane.acked = ack.seq;
  lane.acked_digest = ack.digest;
  lane.last_progress = now;
  if (gap) {
    diverge(lane, Divergence::Gap);
    return;
  }
  switch (ack.result) {
    case ring_abi::AckResult::Ok:
      break;
    case ring_abi::AckResult::TableFull:
    case ring_abi::AckResult::ProbeLimit:
      ++stats_.install_refused;
      break;
    case ring_abi::AckResult::Rejected:
      // Expected while resynchronising (a command for a port not streamed
      // yet may find nothing to act on) and for what was sent before.
      if (!lane.resyncing && !newer(lane.trusted_from, ack.seq)) diverge(lane, Divergence::Rejected);
      break;
  }
}

void CommandFanout::reconcile(Instant now, bool force) {
  if (source_ == nullptr || (!force && now < next_digest_check_)) return;
  next_digest_check_ = now + kDigestInterval;
  std::optional<ReplicaSource::Digest> truth;
  for (Lane& lane : lanes_) {
    // Only a caught-up lane's last digest describes the Server's state now.
    if (lane.resyncing || !lane.waiting.empty() || in_flight(lane) || lane.acked == 0) continue;
    if (!truth) {
      truth = source_->digest();
      next_digest_check_ =
          now + std::max<Duration>(kDigestInterval, kDigestIntervalPerEntry * static_cast<int64_t>(truth->entries));
    }
    ++stats_.digest_checks;
    if (lane.acked_digest == truth->value) {
      lane.digest_mismatches = 0;
      continue;
    }
    ++stats_.digest_mismatches;
    // Once may be a channel the worker swept at its expiry an instant
    // before our RemoveChannel reached it; twice is a disagreement.
    if (++lane.digest_mismatches >= 2) diverge(lane, Divergence::Digest);
  }
}

void CommandFanout::resync_all(Divergence why) {
  for (Lane& lane : lanes_) diverge(lane, why);
}

bool CommandFanout::awaiting(uint64_t ticket) const {
  for (const Lane& lane : lanes_) {
    if (!lane.installs.empty() && lane.installs.front().ticket <= ticket) return true;
  }
  return false;
}

bool CommandFanout::take_refusal(uint64_t ticket) {
  // Several workers may refuse one ticket: every copy goes.
  return std::erase(refused_, ticket) != 0;
}

bool CommandFanout::idle() const {
  for (const Lane& lane : lanes_) {
    if (!lane.waiting.empty()) return false;
  }
  return true;
}

size_t CommandFanout::waiting() const {
  size_t n = 0;
  for (const Lane& lane : lanes_) n += lane.waiting.waiting();
  return n;
}

uint64_t CommandFanout::overflowed() const {
  uint64_t n = 0;
  for (const Lane& lane : lanes_) n += lane.waiting.stats().overflowed;
  return n;
}

ReconcileStats CommandFanout::reconcile_stats() const {
  ReconcileStats s = stats_;
  for (const Lane& lane : lanes_) s.lanes_resyncing += lane.resyncing ? 1 : 0;
  return s;
}

LaneStatus CommandFanout::lane_status(size_t lane) const {
  const Lane& l = lanes_.at(lane);
  return LaneStatus{l.next_seq - 1, l.acked, l.acked_digest, l.resyncing};
}

}  // namespace relay::process
