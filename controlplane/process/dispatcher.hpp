// Carries out the Server's commands in the order next_command() yields them:
// table commands to every "cmd.<lcore>" ring (CommandFanout), datagrams to
// "from_cp". command.hpp promises that the commands of a request come before
// the response announcing them, so a response is held back while any table
// command before it still waits for a ring: the client never learns of a
// channel the data plane does not have yet. A response that announces
// installs (SendMessage::if_refused set) also waits for every worker's
// acknowledgement of them; if one refused an install for a full table, the
// client gets the 508 instead and `on_refused_install` undoes each install
// in the Server (which removes it from the workers that took it). A
// stalled worker holds answers back for at most CommandFanout::kStallTimeout;
// then its lane is resynchronised instead (command_fanout.hpp). A response
// to a TCP/TLS client takes the same path and goes to its stream instead of
// from_cp at the end (StreamResponses).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "controlplane/core/command.hpp"
#include "controlplane/process/command_fanout.hpp"
#include "controlplane/process/outbox.hpp"

namespace relay::process {

// The "from_cp" ring with the mempool behind it (DPDK in the process, a fake
// in tests): copies `payload` into an mbuf with `meta` in its private area.
// Busy when the ring is full or no mbuf is free, Refused when the datagram
// can never fit one mbuf.
class DatagramRing {
 public:
  virtual ~DatagramRing() = default;
  virtual Delivery try_send(std::span<const uint8_t> payload, const ring_abi::PacketMeta& meta) = 0;
};

// Where a response to a TCP/TLS client goes (the stream server): Accepted
// once queued on its connection, Refused when the connection is gone.
class StreamResponses {
 public:
  virtual ~StreamResponses() = default;
  virtual Delivery send_response(const ClientFiveTuple& to, std::span<const uint8_t> bytes) = 0;
};

struct DispatchStats {
  OutboxStats datagrams;     // delivered / refused / gone (a closed stream) / overflowed
  ReconcileStats reconcile;
  uint64_t commands = 0;     // table commands published
  uint64_t refusals_answered = 0;  // 508s sent because a worker refused an install
  uint64_t command_overflows = 0;  // ring entries lost, summed over the rings
  size_t commands_waiting = 0;
  size_t datagrams_waiting = 0;
};

class Dispatcher {
 public:
  // A STUN response is at most 1280 bytes (core::kMaxResponseSize), so
  // 4096 waiting datagrams hold ~5 MiB at worst: one ring's worth
  // (kPacketRingSize).
  static constexpr size_t kDefaultDatagramCapacity = 4096;

  using RefusedInstall = std::function<void(const core::Command& install)>;

  Dispatcher(DatagramRing& datagrams, std::vector<std::reference_wrapper<CommandRing>> command_rings,
             size_t datagram_capacity = kDefaultDatagramCapacity,
             size_t command_capacity = CommandFanout::kDefaultWaitingCapacity, ReplicaSource* replicas = nullptr,
             uint16_t session = 1, RefusedInstall on_refused_install = {});

  void perform(core::Command command);
  // Retries what waits (commands first, then datagrams once no command waits).
  // Returns how many items left a waiting queue: 0 means no progress.
  size_t flush(Instant now);
  // Reconciliation, passed to the fan-out (command_fanout.hpp).
  void take_ack(const ring_abi::AckMessage& ack, Instant now) { fanout_.take_ack(ack, now); }
  void reconcile(Instant now, bool force = false) { fanout_.reconcile(now, force); }
  void resync_all(Divergence why) { fanout_.resync_all(why); }
  [[nodiscard]] const CommandFanout& fanout() const { return fanout_; }
  [[nodiscard]] bool idle() const { return fanout_.idle() && datagrams_.empty(); }
  [[nodiscard]] DispatchStats stats() const;
  // Responses whose SendMessage::transport is not UDP go to `streams`
  // (null: refused, as to a connection that is gone), in the same order
  // and behind the same table commands as every other response.
  void set_streams(StreamResponses* streams) { streams_ = streams; }

 private:
  // A response on its way, with the installs it announces (ticket != 0).
  struct Outgoing {
    core::SendMessage message;
    uint64_t ticket = 0;
    std::vector<core::Command> installs;
  };
  Delivery send(const Outgoing& o);
  Delivery deliver(const core::SendMessage& m, std::span<const uint8_t> bytes);

  std::reference_wrapper<DatagramRing> ring_;
  StreamResponses* streams_ = nullptr;
  CommandFanout fanout_;
  Outbox<Outgoing> datagrams_;
  RefusedInstall on_refused_install_;
  std::vector<core::Command> installs_;  // announced since the last response
  uint64_t next_ticket_ = 1;
  std::vector<uint64_t> refused_;  // tickets whose 508 is decided, not sent yet
  uint64_t commands_ = 0;
  uint64_t refusals_answered_ = 0;
};

}  // namespace relay::process
