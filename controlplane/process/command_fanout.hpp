// Table commands from the Server to every worker: each "cmd.<lcore>" ring
// gets every command (RSS may put the two directions of one channel on
// different workers, ring_abi.hpp), in the order the Server emitted them.
// A worker that falls behind gets its own waiting queue, so one slow ring
// neither blocks nor reorders the others.
//
// Reconciliation (ARCHITECTURE.md): the control plane holds the truth and
// each ring is a lane that knows how far its worker's replica follows it.
// Messages are numbered as they enter a ring; the worker acknowledges each
// one with how it applied it and its replica digest. A lane diverges when
// it had to drop a command (its queue overflowed, or its worker stalled
// longer than kStallTimeout), when an acknowledgement is missing (a gap in
// the numbers, or none for kAckTimeout), when its worker rejected a command,
// or when its digest disagrees with the Server's twice in a row. A diverged
// lane is resynchronised from the Server, port by port, while its worker
// keeps forwarding: each port's CreateAllocation with its channels and
// permissions (or a FreeAllocation) goes as one group the worker applies
// between two packet bursts, which retires whatever the replica had for the
// port and installs what the Server has.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/ring_abi.hpp"
#include "common/time.hpp"
#include "controlplane/process/outbox.hpp"

namespace relay::process {

// One "cmd.<lcore>" ring, as the fan-out sees it (rte_ring in the process,
// a fake in tests).
class CommandRing {
 public:
  virtual ~CommandRing() = default;
  // False when the ring is full; the message was not taken.
  virtual bool try_enqueue(const ring_abi::CommandMessage& message) = 0;
  // All or nothing: false when the ring has no room for every message.
  virtual bool try_enqueue_group(std::span<const ring_abi::CommandMessage> messages) = 0;
};

// What a lane is resynchronised from and compared with: the Server in the
// process (ServerReplica), a fake in tests.
class ReplicaSource {
 public:
  virtual ~ReplicaSource() = default;
  [[nodiscard]] virtual uint16_t first_port() const = 0;
  [[nodiscard]] virtual uint16_t last_port() const = 0;
  // What a replica must hold for `port` (core::Server::replica_of).
  virtual std::vector<ring_abi::CommandMessage> replica_of(uint16_t port, Instant now) = 0;
  // The replica digest of the truth (ring_abi::entry_digest) and how many
  // entries it covers (what computing it cost).
  struct Digest {
    uint64_t value = 0;
    uint64_t entries = 0;
  };
  virtual Digest digest() = 0;
};

enum class Divergence : uint8_t { Overflow, Stalled, Gap, Unacknowledged, Rejected, Digest, Restart, Count_ };
constexpr size_t kDivergenceCount = static_cast<size_t>(Divergence::Count_);
constexpr std::array<std::string_view, kDivergenceCount> kDivergenceNames = {
    "overflow", "stalled", "gap", "unacknowledged", "rejected", "digest", "restart"};
constexpr std::string_view to_string(Divergence d) { return kDivergenceNames[static_cast<size_t>(d)]; }

struct ReconcileStats {
  std::array<uint64_t, kDivergenceCount> divergences{};
  uint64_t resyncs_completed = 0;
  uint64_t resync_messages = 0;
  uint64_t digest_checks = 0;
  uint64_t digest_mismatches = 0;
  uint64_t install_refused = 0;  // the worker's table was full (TableFull, ProbeLimit)
  uint64_t acks = 0;
  uint64_t stale_acks = 0;  // another session's, a duplicate, or an unknown worker's
  size_t lanes_resyncing = 0;
};

// One lane as an operator sees it (/metrics, the control plane's log).
struct LaneStatus {
  uint32_t sent = 0;   // the last number that entered the ring
  uint32_t acked = 0;  // the last number the worker acknowledged
  uint64_t digest = 0;  // the worker's digest with that acknowledgement
  bool resyncing = false;
};

class CommandFanout {
 public:
  // Sized for a burst of installs while a worker is stalled: 16 Ki messages
  // of 152 bytes is ~2.5 MiB per ring, the same as ring_abi::kCommandRingSize.
  static constexpr size_t kDefaultWaitingCapacity = 16384;
  // A worker applies its ring within microseconds; one that leaves commands
  // waiting this long is stalled, and answers stop waiting for it.
  static constexpr Duration kStallTimeout = std::chrono::milliseconds(100);
  // A numbered command still unacknowledged after this was lost.
  static constexpr Duration kAckTimeout = std::chrono::seconds(1);
  // Digests are compared every kDigestInterval, or less often when the
  // Server is large: computing the truth's digest visits every allocation
  // and channel (~100 ns each), which must stay under ~1% of the loop.
  static constexpr Duration kDigestInterval = std::chrono::seconds(1);
  static constexpr Duration kDigestIntervalPerEntry = std::chrono::microseconds(10);
  // A group larger than this goes as several (only an allocation with
  // more channels and permissions than this can see a burst between them).
  static constexpr size_t kMaxGroup = 1024;
  // Ports resynchronised per flush: bounds the work one loop turn does.
  static constexpr size_t kResyncPortsPerFlush = 256;

  // `session` numbers this control plane's messages (non-zero; acks of
  // another session are ignored). Without `source` nothing is resynchronised
  // or compared; divergences are still counted.
  CommandFanout(std::vector<std::reference_wrapper<CommandRing>> rings, size_t waiting_capacity = kDefaultWaitingCapacity,
                ReplicaSource* source = nullptr, uint16_t session = 1);

  // `ticket` (non-zero) marks an install whose response waits for its
  // acknowledgements (awaiting, take_refusal).
  void publish(const ring_abi::CommandMessage& message, uint64_t ticket = 0);
  // Retries what waits, finds stalled lanes and streams resynchronisation.
  // Returns how many ring entries left a waiting queue or were streamed.
  size_t flush(Instant now);
  // One acknowledgement from "<prefix>acks".
  void take_ack(const ring_abi::AckMessage& ack, Instant now);
  // Compares caught-up lanes' digests with the source's, every
  // kDigestInterval; `force` compares now.
  void reconcile(Instant now, bool force = false);
  // Marks every lane diverged (a restarted control plane trusts no replica).
  void resync_all(Divergence why);
  // Whether an install of `ticket` (or an earlier one) still waits for a
  // worker's acknowledgement; a stalled or given-up worker is not waited for.
  [[nodiscard]] bool awaiting(uint64_t ticket) const;
  // Whether a worker refused an install of `ticket` for a full table
  // (TableFull, ProbeLimit); answers true once.
  bool take_refusal(uint64_t ticket);

  // Nothing waits for any ring: every published command is on every ring
  // whose worker is not stalled.
  [[nodiscard]] bool idle() const;
  [[nodiscard]] size_t waiting() const;       // summed over the rings
  [[nodiscard]] uint64_t overflowed() const;  // lost ring entries, summed
  [[nodiscard]] size_t ring_count() const { return lanes_.size(); }
  [[nodiscard]] ReconcileStats reconcile_stats() const;
  [[nodiscard]] LaneStatus lane_status(size_t lane) const;

 private:
  struct Outgoing {
    ring_abi::CommandMessage message;
    uint64_t ticket = 0;
  };
  struct Install {
    uint32_t seq;
    uint64_t ticket;
  };
  struct Lane {
    Lane(CommandRing& r, size_t capacity) : ring(r), waiting(capacity) {}
    std::reference_wrapper<CommandRing> ring;
    Outbox<Outgoing> waiting;
    std::deque<Install> installs;  // delivered, not acknowledged yet, in order
    uint32_t next_seq = 1;
    uint32_t acked = 0;
    uint64_t acked_digest = 0;
    Instant last_progress{};  // an ack arrived, or nothing was in flight
    std::optional<Instant> waiting_since;
    uint64_t overflows_seen = 0;
    bool resyncing = false;
    uint32_t resync_port = 0;  // the next port to stream
    // The first number sent after the last resynchronisation ended: a
    // rejection of anything older may be the divergence it repaired.
    uint32_t trusted_from = 1;
    unsigned digest_mismatches = 0;
  };
  Delivery deliver(Lane& lane, const Outgoing& o);
  void diverge(Lane& lane, Divergence why);
  void watch(Lane& lane, Instant now);
  size_t stream_resync(Lane& lane, Instant now);
  bool send_group(Lane& lane, std::span<ring_abi::CommandMessage> group);
  [[nodiscard]] bool in_flight(const Lane& lane) const { return lane.acked + 1 != lane.next_seq; }

  std::vector<Lane> lanes_;
  ReplicaSource* source_;
  uint16_t session_;
  ReconcileStats stats_;
  Instant next_digest_check_{};
  std::vector<uint64_t> refused_;  // tickets with a refused install, not taken yet
};

}  // namespace relay::process
