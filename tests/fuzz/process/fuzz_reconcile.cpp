// The control plane's side of reconciliation (command_fanout.hpp) under any
// sequence of publishes, acknowledgements from "<prefix>acks" (right, late,
// duplicated, from another session or an unknown worker, with any result
// and digest), rings that refuse, time jumps, digest checks and restarts.
//
// Input: a sequence of 4-byte operations [op, a, b, c].
// Invariants checked: no crash or sanitizer report; each ring receives
// sequence numbers 1, 2, 3... without a gap or a repeat, and every group's
// group_rest counts down to 0 before the next message; once the rings have
// room, commands flow, every message is acknowledged Ok with the truth's
// digest and time moves on, every lane is in sync, nothing waits, and
// digest checks find no disagreement.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "controlplane/process/command_fanout.hpp"

namespace {

using namespace relay;
using namespace relay::process;
using ring_abi::CommandMessage;

constexpr uint16_t kSession = 0x5eed;
constexpr uint64_t kTruth = 0x7e57;

class Ring final : public CommandRing {
 public:
  bool try_enqueue(const CommandMessage& m) override {
    if (room == 0) return false;
    --room;
    take(m);
    return true;
  }
  bool try_enqueue_group(std::span<const CommandMessage> ms) override {
    if (room < ms.size()) return false;
    room -= ms.size();
    for (const auto& m : ms) take(m);
    return true;
  }
  void take(const CommandMessage& m) {
    const uint32_t expected = last_seq + 1 == 0 ? 1 : last_seq + 1;
    if (m.seq != expected || m.session != kSession) std::abort();
    if (group_left != 0 && m.group_rest != group_left - 1) std::abort();
    group_left = m.group_rest;
    last_seq = m.seq;
    taken.push_back(m.seq);
  }
  size_t room = 0;
  uint32_t last_seq = 0;
  uint16_t group_left = 0;
  std::vector<uint32_t> taken;
};

// Ports 100..103; port 101 holds an allocation with `channels` channels.
class Source final : public ReplicaSource {
 public:
  [[nodiscard]] uint16_t first_port() const override { return 100; }
  [[nodiscard]] uint16_t last_port() const override { return 103; }
  std::vector<CommandMessage> replica_of(uint16_t port, Instant) override {
    if (port != 101) return {ring_abi::make_free_allocation(AllocationPort{port})};
    std::vector<CommandMessage> group(1 + channels, ring_abi::make_free_allocation(AllocationPort{port}));
    group[0].kind = ring_abi::CommandKind::CreateAllocation;
    return group;
  }
  Digest digest() override { return {kTruth, 1 + channels}; }
  size_t channels = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Ring rings[2];
  Source source;
  CommandFanout fanout({rings[0], rings[1]}, 8, &source, kSession);
  Instant now = Instant::from_ns(1'000'000'000'000);
  for (size_t pos = 0; pos + 4 <= size; pos += 4) {
    const uint8_t op = data[pos], a = data[pos + 1], b = data[pos + 2], c = data[pos + 3];
    Ring& ring = rings[a & 1];
    switch (op % 8) {
      case 0: fanout.publish(ring_abi::make_free_allocation(AllocationPort{b})); break;
      case 1: ring.room = b; break;
      case 2: {  // an ack of something this ring took (or a made-up number)
        const uint32_t seq = ring.taken.empty() || (c & 0x80) ? b : ring.taken[b % ring.taken.size()];
        const uint16_t session = (c & 0x40) ? kSession + 1 : kSession;
        const uint8_t worker = (c & 0x20) ? 7 : (a & 1);
        fanout.take_ack({seq, session, worker, static_cast<ring_abi::AckResult>(c % 4), (c & 0x10) ? b : kTruth},
                        now);
        break;
      }
      case 3: now = now + std::chrono::milliseconds(b * 10); break;
      case 4: fanout.flush(now); break;
      case 5: fanout.reconcile(now, (b & 1) != 0); break;
      case 6: fanout.resync_all(Divergence::Restart); break;
      default: source.channels = b % 8 == 0 ? CommandFanout::kMaxGroup + b : b % 8; break;
    }
  }
  // Room, a command, acknowledgements in order with the truth's digest,
  // time: the lanes settle.
  for (int round = 0; round < 4; ++round) {
    for (Ring& r : rings) r.room = 1 << 20;
    fanout.flush(now);
    fanout.publish(ring_abi::make_free_allocation(AllocationPort{100}));
    for (uint8_t w = 0; w < 2; ++w)
      for (uint32_t seq : rings[w].taken) fanout.take_ack({seq, kSession, w, ring_abi::AckResult::Ok, kTruth}, now);
    now = now + std::chrono::seconds(2);
  }
  fanout.flush(now);
  const uint64_t mismatches = fanout.reconcile_stats().digest_mismatches;
  fanout.reconcile(now, true);
  if (!fanout.idle() || fanout.reconcile_stats().lanes_resyncing != 0) std::abort();
  if (fanout.reconcile_stats().digest_mismatches != mismatches) std::abort();
  return 0;
}
