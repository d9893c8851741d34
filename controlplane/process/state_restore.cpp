#include "controlplane/process/state_restore.hpp"

#include <array>

#include "controlplane/process/ring_codec.hpp"

namespace relay::process {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;

namespace {

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
  const auto installed = installed_allocation(m);
  if (!installed) {
    ++report_.malformed;
    return;
  }
  if (const auto refused = server_.restore_allocation(*installed, now)) {
    ++report_.refused_allocations[*refused];
    if (leaves_orphan(*refused)) report_.orphans.push_back(installed->port);
    return;
  }
  ++report_.allocations;
}

void StateRestore::count(bool decoded, std::optional<core::RestoreError> refused,
                         std::map<core::RestoreError, uint64_t>& refusals, uint64_t& adopted) {
  if (!decoded) {
    ++report_.malformed;
  } else if (refused) {
    ++refusals[*refused];
  } else {
    ++adopted;
  }
}

void StateRestore::adopt_channel(const CommandMessage& m, Instant now) {
  const auto installed = installed_channel(m);
  count(installed.has_value(), installed ? server_.restore_channel(*installed, now) : std::nullopt,
        report_.refused_channels, report_.channels);
}

void StateRestore::adopt_permission(const CommandMessage& m, Instant now) {
  const auto installed = installed_permission(m);
  count(installed.has_value(), installed ? server_.restore_permission(*installed, now) : std::nullopt,
        report_.refused_permissions, report_.permissions);
}

namespace {
// RFC 8656 §2: a TCP/TLS allocation lives and dies with its connection,
// which no process holds any more.
uint64_t end_stream_clients(core::Server& server, Instant now) {
  uint64_t ended = 0;
  for (const core::AllocationView& v : server.allocations())
    if (v.client.transport != Transport::Udp && server.end_client(v.client, now)) ++ended;
  return ended;
}
}  // namespace

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
    report.streams_lost = end_stream_clients(server, driver.now());
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
