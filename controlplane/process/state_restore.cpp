#include "controlplane/process/state_restore.hpp"

#include <array>

namespace relay::process {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;

namespace {

std::optional<ClientFiveTuple> client_of(const CommandMessage& m) {
  auto client = ring_abi::from_wire(m.client);
  auto listen = ring_abi::from_wire(m.listen);
  if (!client || !listen) return std::nullopt;
  return ClientFiveTuple{ClientSocket{*client}, ListenSocket{*listen}};
}

// The refusals that leave the data plane forwarding for a client this
// Server will not manage. Expired needs nothing; PortTaken means the port
// is already adopted (freeing it would cut the adopted allocation);
// PortOutOfRange cannot be freed by a port the data plane refuses anyway.
bool leaves_orphan(core::RestoreError e) {
  return e == core::RestoreError::ClientHasAllocation || e == core::RestoreError::RelayMismatch;
}

}  // namespace

bool StateRestore::take(const CommandMessage& m, Instant now) {
  if (m.dump_id != dump_id_) {
    ++report_.stale;
    return false;
  }
  switch (m.kind) {
    case CommandKind::CreateAllocation: adopt_allocation(m, now); return false;
    case CommandKind::InstallChannel: adopt_channel(m, now); return false;
    case CommandKind::InstallPermission: adopt_permission(m, now); return false;
    case CommandKind::DumpEnd: report_.complete = true; return true;
    default: ++report_.malformed; return false;
  }
}

void StateRestore::adopt_allocation(const CommandMessage& m, Instant now) {
  const auto client = client_of(m);
  const bool has_v4 = m.relay_v4.family != 0, has_v6 = m.relay_v6.family != 0;
  const auto relay_v4 = ring_abi::from_wire(m.relay_v4);
  const auto relay_v6 = ring_abi::from_wire(m.relay_v6);
  if (!client || has_v4 != relay_v4.has_value() || has_v6 != relay_v6.has_value()) {
    ++report_.malformed;
    return;
  }
  const core::CreateAllocation c{AllocationPort{m.port}, relay_v4, relay_v6, *client, Instant::from_ns(m.expiry_ns),
                                 core::OwnerId{m.owner}};
  if (const auto refused = server_.restore_allocation(c, now)) {
    ++report_.refused_allocations[*refused];
    if (leaves_orphan(*refused)) report_.orphans.push_back(c.port);
    return;
  }
  ++report_.allocations;
}

namespace {

// What every channel and permission message names: the client, the peer
// and the allocation's relay address of the peer's family.
struct PeerEntry {
  ClientFiveTuple client;
  SocketAddress peer;
  SocketAddress relay;
};
std::optional<PeerEntry> peer_entry_of(const CommandMessage& m) {
  const auto client = client_of(m);
  const auto peer = ring_abi::from_wire(m.peer);
  const auto relay = ring_abi::from_wire(m.relay);
  if (!client || !peer || !relay) return std::nullopt;
  return PeerEntry{*client, *peer, *relay};
}

}  // namespace

template <class Restore>
void StateRestore::adopt_peer_entry(const CommandMessage& m, Restore&& restore,
                                    std::map<core::RestoreError, uint64_t>& refused, uint64_t& adopted) {
  const auto entry = peer_entry_of(m);
  if (!entry) {
    ++report_.malformed;
    return;
  }
  if (const auto why = restore(*entry)) {
    ++refused[*why];
    return;
  }
  ++adopted;
}

void StateRestore::adopt_channel(const CommandMessage& m, Instant now) {
  adopt_peer_entry(m, [&](const PeerEntry& e) {
    return server_.restore_channel({e.client, ChannelNumber{m.channel}, PeerSocket{e.peer}, e.relay,
                                    Instant::from_ns(m.expiry_ns)}, now);
  }, report_.refused_channels, report_.channels);
}

void StateRestore::adopt_permission(const CommandMessage& m, Instant now) {
  adopt_peer_entry(m, [&](const PeerEntry& e) {
    return server_.restore_permission({e.client, e.peer.ip, e.relay, Instant::from_ns(m.expiry_ns)}, now);
  }, report_.refused_permissions, report_.permissions);
}

RestoreReport restore_from_data_plane(core::Server& server, CommandRing& first_worker, DumpRing& dump,
                                      uint16_t dump_id, const RestoreDriver& driver) {
  StateRestore restore(server, dump_id);
  std::array<CommandMessage, 64> batch;
  // Whatever a crashed control plane's dump left behind goes unread; the
  // dump_id check in take() catches what its worker still writes after this.
  uint64_t drained = 0;
  while (const size_t n = dump.take(batch)) drained += n;
  auto finish = [&] {
    RestoreReport report = restore.report();
    report.stale += drained;
    return report;
  };
  Instant last_progress = driver.now();
  while (!first_worker.try_enqueue(restore.request())) {
    if (driver.now() - last_progress > driver.silence_timeout) return finish();
    driver.wait();
  }
  last_progress = driver.now();
  for (;;) {
    const size_t n = dump.take(batch);
    const Instant now = driver.now();
    for (size_t i = 0; i < n; ++i) {
      if (restore.take(batch[i], now)) return finish();
    }
    if (n != 0) {
      last_progress = now;
    } else if (now - last_progress > driver.silence_timeout) {
      return finish();
    } else {
      driver.wait();
    }
  }
}

}  // namespace relay::process
