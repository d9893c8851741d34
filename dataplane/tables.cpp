#include "dataplane/tables.hpp"

#include <rte_byteorder.h>

#include <algorithm>
#include <cstring>

namespace relay::dataplane {

using ring_abi::CommandKind;
using ring_abi::CommandMessage;
using ring_abi::WireSocketAddress;

namespace {
bool valid_socket(const WireSocketAddress& a) {
  return a.family == static_cast<uint8_t>(Family::V4) || a.family == static_cast<uint8_t>(Family::V6);
}
// A client address: a valid socket with a known transport.
bool valid_client(const WireSocketAddress& a) { return valid_socket(a) && ring_abi::transport_of(a).has_value(); }
// Only for addresses valid_client accepted.
Transport transport_or_udp(const WireSocketAddress& a) { return ring_abi::transport_of(a).value_or(Transport::Udp); }
bool stored(Upsert u) { return u == Upsert::Inserted || u == Upsert::Updated; }
Applied refusal(Upsert u) { return u == Upsert::ProbeLimit ? Applied::ProbeLimit : Applied::TableFull; }
}  // namespace

uint64_t TscClock::deadline(uint64_t expiry_ns) const {
  if (expiry_ns <= monotonic_now_ns) return 0;  // already expired: never usable
  // double keeps hours × GHz from overflowing; sub-ns precision is irrelevant.
  const double ticks = static_cast<double>(expiry_ns - monotonic_now_ns) * static_cast<double>(tsc_hz) / 1e9;
  const double max_ticks = static_cast<double>(UINT64_MAX - tsc_now);
  return ticks >= max_ticks ? UINT64_MAX : tsc_now + static_cast<uint64_t>(ticks);
}

uint64_t TscClock::expiry_ns(uint64_t deadline_tsc) const {
  if (deadline_tsc <= tsc_now) return 0;
  const double ns = static_cast<double>(deadline_tsc - tsc_now) * 1e9 / static_cast<double>(tsc_hz);
  const double max_ns = static_cast<double>(UINT64_MAX - monotonic_now_ns);
  return ns >= max_ns ? UINT64_MAX : monotonic_now_ns + static_cast<uint64_t>(ns);
}

ForwardingTables::ForwardingTables(const InterfaceConfig& config, const LocalIdentity& me, const HashSecret& secret)
    : me_(me),
      allocations_(size_t{config.allocation_ports.highest} - config.allocation_ports.lowest + 1),
      origins_(allocations_.size()),
      allocation_digests_(allocations_.size()),
      channels_(config.max_channels, secret),
      bindings_(config.max_channels, secret),
      permissions_(config.max_permissions, secret),
      sends_(config.max_permissions, secret),
      clients_(static_cast<uint32_t>(allocations_.size()), secret) {}

double ForwardingTables::bytes_per_channel() const {
  return static_cast<double>(channels_.memory_bytes() + bindings_.memory_bytes()) /
         static_cast<double>(channels_.max_entries());
}

uint64_t ForwardingTables::longest_probe() const {
  return std::max({channels_.longest_probe(), bindings_.longest_probe(), permissions_.longest_probe(),
                   sends_.longest_probe()});
}

AllocationEntry* ForwardingTables::allocation(uint16_t port) {
  if (!me_.is_allocation_port(port)) return nullptr;
  return &allocations_[port - me_.min_allocation_port];
}

bool ForwardingTables::is_our_relay(const WireSocketAddress& a) const {
  const auto family = static_cast<Family>(a.family);
  if (a.family != static_cast<uint8_t>(Family::V4) && a.family != static_cast<uint8_t>(Family::V6)) return false;
  return me_.has(family) && std::memcmp(a.ip, me_.address(family), family == Family::V4 ? 4 : 16) == 0;
}

Applied ForwardingTables::apply(const CommandMessage& m, const TscClock& clock) {
  switch (m.kind) {
    case CommandKind::CreateAllocation:
      return create_allocation(m, clock);
    case CommandKind::UpdateAllocation: {
      AllocationEntry* a = allocation(m.port);
      if (a == nullptr || !a->live) return Applied::Rejected;
      a->deadline_tsc = clock.deadline(m.expiry_ns);
      return Applied::Ok;
    }
    case CommandKind::FreeAllocation: {
      AllocationEntry* a = allocation(m.port);
      if (a == nullptr) return Applied::Rejected;
      if (a->live) {
        index_client(m.port, false);
        toggle_digest(m.port, allocation_digests_[m.port - me_.min_allocation_port]);
      }
      // The generation bump retires every channel of the allocation at once.
      a->live = false;
      ++a->generation;
      return Applied::Ok;
    }
    case CommandKind::InstallChannel:
      return install_channel(m, clock);
    case CommandKind::RemoveChannel:
      return remove_channel(m);
    case CommandKind::InstallPermission:
      return install_permission(m, clock);
    case CommandKind::RemovePermission:
      return remove_permission(m);
    case CommandKind::DumpState:  // the worker's business, not the tables'
    case CommandKind::DumpEnd:
      return Applied::Rejected;
  }
  return Applied::Rejected;
}

Applied ForwardingTables::create_allocation(const CommandMessage& m, const TscClock& clock) {
  AllocationEntry* a = allocation(m.port);
  if (a == nullptr) return Applied::Rejected;
  const bool v4 = m.relay_v4.family != 0;
  const bool v6 = m.relay_v6.family != 0;
  if (!v4 && !v6) return Applied::Rejected;
  if (m.client.family != 0 && !valid_client(m.client)) return Applied::Rejected;
  if (v4 && (m.relay_v4.family != static_cast<uint8_t>(Family::V4) || !is_our_relay(m.relay_v4) ||
             m.relay_v4.port != m.port))
    return Applied::Rejected;
  if (v6 && (m.relay_v6.family != static_cast<uint8_t>(Family::V6) || !is_our_relay(m.relay_v6) ||
             m.relay_v6.port != m.port))
    return Applied::Rejected;
  if (a->live) {
    index_client(m.port, false);
    toggle_digest(m.port, allocation_digests_[m.port - me_.min_allocation_port]);
  }
  ++a->generation;
  a->live = true;
  a->deadline_tsc = clock.deadline(m.expiry_ns);
  origins_[m.port - me_.min_allocation_port] = {m.client, m.listen, v4, v6, m.owner};
  index_client(m.port, true);
  toggle_digest(m.port, ring_abi::entry_digest(m));
  return Applied::Ok;
}

void ForwardingTables::toggle_digest(uint16_t allocation_port, uint64_t h) {
  allocation_digests_[allocation_port - me_.min_allocation_port] ^= h;
  digest_ ^= h;
}

bool ForwardingTables::counted(const ChannelEntry& e) const {
  if (!me_.is_allocation_port(e.allocation_port)) return false;
  const AllocationEntry& a = allocations_[e.allocation_port - me_.min_allocation_port];
  return a.live && a.generation == e.generation;
}

void ForwardingTables::index_client(uint16_t port, bool live) {
  const size_t index = port - me_.min_allocation_port;
  const ring_abi::WireSocketAddress& c = origins_[index].client;
  if (!valid_socket(c)) return;
  const ChannelKey k =
      make_channel_key(static_cast<Family>(c.family), c.ip, rte_cpu_to_be_16(c.port), 0, transport_or_udp(c));
  if (live) {
    // Sized by the port range: one client per allocation, so never full.
    clients_.upsert(k, AllocationRef{port, allocations_[index].generation, {}});
  } else if (const AllocationRef* r = clients_.find(k); r != nullptr && r->allocation_port == port) {
    clients_.erase(k);
  }
}

bool ForwardingTables::has_allocation(Family family, const uint8_t* ip, uint16_t port_be, uint64_t now_tsc,
                                      Transport transport) {
  const AllocationRef* r = clients_.find(make_channel_key(family, ip, port_be, 0, transport));
  if (r == nullptr) return false;
  const AllocationEntry& a = allocations_[r->allocation_port - me_.min_allocation_port];
  return a.live && a.generation == r->generation && a.deadline_tsc > now_tsc;
}

AllocationEntry* ForwardingTables::live_target(const CommandMessage& m) {
  if (!valid_client(m.client) || !valid_socket(m.peer)) return nullptr;
  // Listen socket must be ours: the worker only ever sends to UDP clients
  // from it. A stream client's (the listen port or a TLS port) never
  // leaves as a source port: its packets go to the control plane.
  const bool udp_client = m.client.transport == static_cast<uint8_t>(Transport::Udp);
  if (!is_our_relay(m.listen) || (udp_client && m.listen.port != me_.listen_port) ||
      m.listen.family != m.client.family)
    return nullptr;
  if (!is_our_relay(m.relay) || m.relay.family != m.peer.family || m.relay.port != m.port) return nullptr;
  AllocationEntry* a = allocation(m.port);
  return a != nullptr && a->live ? a : nullptr;
}

Applied ForwardingTables::install_channel(const CommandMessage& m, const TscClock& clock) {
  if (!is_valid_channel(m.channel)) return Applied::Rejected;
  AllocationEntry* a = live_target(m);
  if (a == nullptr) return Applied::Rejected;

  const auto client_family = static_cast<Family>(m.client.family);
  const auto peer_family = static_cast<Family>(m.peer.family);
  const uint64_t deadline = clock.deadline(m.expiry_ns);
  const ChannelKey ck = make_channel_key(client_family, m.client.ip, rte_cpu_to_be_16(m.client.port),
                                         rte_cpu_to_be_16(m.channel), transport_or_udp(m.client));
  ChannelEntry ce{};
  std::memcpy(ce.peer_ip, m.peer.ip, peer_family == Family::V4 ? 4 : 16);
  ce.peer_port_be = rte_cpu_to_be_16(m.peer.port);
  ce.allocation_port = m.port;
  ce.peer_family = m.peer.family;
  ce.generation = a->generation;
  ce.deadline_tsc = deadline;
  const BindingKey bk =
      make_binding_key(peer_family, m.peer.ip, rte_cpu_to_be_16(m.peer.port), rte_cpu_to_be_16(m.port));
  BindingEntry be{};
  std::memcpy(be.client_ip, m.client.ip, client_family == Family::V4 ? 4 : 16);
  be.client_port_be = rte_cpu_to_be_16(m.client.port);
  be.channel_be = rte_cpu_to_be_16(m.channel);
  be.client_family = m.client.family;
  be.client_transport = m.client.transport;
  be.generation = a->generation;
  be.deadline_tsc = deadline;

  if (channels_.size() >= channels_.max_entries() || bindings_.size() >= bindings_.max_entries())
    sweep(clock);
  // A refresh replaces the entry: the old one leaves the digest whatever
  // happens next (it is overwritten, or erased on failure).
  if (const ChannelEntry* old = channels_.find(ck); old != nullptr && counted(*old))
    toggle_digest(old->allocation_port, ring_abi::entry_digest(channel_identity(ck, *old)));
  if (const Upsert u = channels_.upsert(ck, ce); !stored(u)) return refusal(u);
  if (const Upsert u = bindings_.upsert(bk, be); !stored(u)) {
    channels_.erase(ck);  // keep the two directions consistent
    return refusal(u);
  }
  toggle_digest(m.port, ring_abi::entry_digest(m));
  return Applied::Ok;
}

Applied ForwardingTables::install_permission(const CommandMessage& m, const TscClock& clock) {
  AllocationEntry* a = live_target(m);
  if (a == nullptr) return Applied::Rejected;
  const auto client_family = static_cast<Family>(m.client.family);
  const auto peer_family = static_cast<Family>(m.peer.family);
  const uint64_t deadline = clock.deadline(m.expiry_ns);
  const SendKey sk = make_send_key(client_family, m.client.ip, rte_cpu_to_be_16(m.client.port), peer_family, m.peer.ip,
                                   transport_or_udp(m.client));
  const SendEntry se{m.port, a->generation, 0, deadline};
  const BindingKey pk = make_permission_key(peer_family, m.peer.ip, rte_cpu_to_be_16(m.port));
  BindingEntry pe{};
  std::memcpy(pe.client_ip, m.client.ip, client_family == Family::V4 ? 4 : 16);
  pe.client_port_be = rte_cpu_to_be_16(m.client.port);
  pe.client_family = m.client.family;
  pe.client_transport = m.client.transport;
  pe.generation = a->generation;
  pe.deadline_tsc = deadline;

  if (sends_.size() >= sends_.max_entries() || permissions_.size() >= permissions_.max_entries()) sweep(clock);
  if (const Upsert u = sends_.upsert(sk, se); !stored(u)) return refusal(u);
  if (const Upsert u = permissions_.upsert(pk, pe); !stored(u)) {
    sends_.erase(sk);  // keep the two directions consistent
    return refusal(u);
  }
  return Applied::Ok;
}

Applied ForwardingTables::remove_channel(const CommandMessage& m) {
  if (!valid_client(m.client) || !valid_socket(m.peer)) return Applied::Rejected;
  const auto client_family = static_cast<Family>(m.client.family);
  const auto peer_family = static_cast<Family>(m.peer.family);
  const ChannelKey ck = make_channel_key(client_family, m.client.ip, rte_cpu_to_be_16(m.client.port),
                                         rte_cpu_to_be_16(m.channel), transport_or_udp(m.client));
  if (const ChannelEntry* old = channels_.find(ck); old != nullptr && counted(*old))
    toggle_digest(old->allocation_port, ring_abi::entry_digest(channel_identity(ck, *old)));
  // Idempotent: a channel the worker swept at its expiry, or never got
  // because its table was full, is as removed as can be.
  channels_.erase(ck);
  bindings_.erase(make_binding_key(peer_family, m.peer.ip, rte_cpu_to_be_16(m.peer.port), rte_cpu_to_be_16(m.port)));
  return Applied::Ok;
}

Applied ForwardingTables::remove_permission(const CommandMessage& m) {
  if (!valid_client(m.client) || !valid_socket(m.peer)) return Applied::Rejected;
  const auto client_family = static_cast<Family>(m.client.family);
  const auto peer_family = static_cast<Family>(m.peer.family);
  // Idempotent like remove_channel: a worker that refused it has none.
  sends_.erase(make_send_key(client_family, m.client.ip, rte_cpu_to_be_16(m.client.port), peer_family, m.peer.ip,
                             transport_or_udp(m.client)));
  permissions_.erase(make_permission_key(peer_family, m.peer.ip, rte_cpu_to_be_16(m.port)));
  return Applied::Ok;
}

WireSocketAddress ForwardingTables::ours(Family f, uint16_t port) const {
  WireSocketAddress w;
  w.family = static_cast<uint8_t>(f);
  w.port = port;
  std::memcpy(w.ip, me_.address(f), f == Family::V4 ? 4 : 16);
  return w;
}

std::optional<CommandMessage> ForwardingTables::allocation_message(uint64_t index, const TscClock& clock) const {
  const AllocationEntry& a = allocations_[index];
  const uint64_t expiry = clock.expiry_ns(a.deadline_tsc);
  if (!a.live || expiry == 0) return std::nullopt;
  const AllocationOrigin& o = origins_[index];
  CommandMessage m;
  m.kind = CommandKind::CreateAllocation;
  m.port = static_cast<uint16_t>(me_.min_allocation_port + index);
  m.expiry_ns = expiry;
  if (o.relay_v4) m.relay_v4 = ours(Family::V4, m.port);
  if (o.relay_v6) m.relay_v6 = ours(Family::V6, m.port);
  m.client = o.client;
  m.listen = o.listen;
  m.owner = o.owner;
  return m;
}

CommandMessage ForwardingTables::channel_identity(const ChannelKey& k, const ChannelEntry& e) const {
  const auto client_family = static_cast<Family>(k.client_family);
  const auto peer_family = static_cast<Family>(e.peer_family);
  CommandMessage m;
  m.kind = CommandKind::InstallChannel;
  m.port = e.allocation_port;
  m.channel = rte_be_to_cpu_16(k.channel_be);
  m.client.family = k.client_family;
  m.client.transport = k.client_transport;
  m.client.port = rte_be_to_cpu_16(k.client_port_be);
  std::memcpy(m.client.ip, k.client_ip, client_family == Family::V4 ? 4 : 16);
  m.listen = ours(client_family, me_.listen_port);
  m.peer.family = e.peer_family;
  m.peer.port = rte_be_to_cpu_16(e.peer_port_be);
  std::memcpy(m.peer.ip, e.peer_ip, peer_family == Family::V4 ? 4 : 16);
  m.relay = ours(peer_family, e.allocation_port);
  return m;
}

std::optional<CommandMessage> ForwardingTables::channel_message(const ChannelKey& k, const ChannelEntry& e,
                                                                 const TscClock& clock) const {
  if (!live(e.allocation_port, e.generation, e.deadline_tsc, clock.tsc_now)) return std::nullopt;
  CommandMessage m = channel_identity(k, e);
  m.expiry_ns = clock.expiry_ns(e.deadline_tsc);
  return m;
}

std::optional<CommandMessage> ForwardingTables::permission_message(const BindingKey& k, const BindingEntry& e,
                                                                    const TscClock& clock) const {
  const uint16_t port = rte_be_to_cpu_16(k.allocation_port_be);
  if (!live(port, e.generation, e.deadline_tsc, clock.tsc_now)) return std::nullopt;
  const auto client_family = static_cast<Family>(e.client_family);
  const auto peer_family = static_cast<Family>(k.peer_family);
  CommandMessage m;
  m.kind = CommandKind::InstallPermission;
  m.port = port;
  m.expiry_ns = clock.expiry_ns(e.deadline_tsc);
  m.client.family = e.client_family;
  m.client.transport = e.client_transport;
  m.client.port = rte_be_to_cpu_16(e.client_port_be);
  std::memcpy(m.client.ip, e.client_ip, client_family == Family::V4 ? 4 : 16);
  m.listen = ours(client_family, me_.listen_port);
  m.peer.family = k.peer_family;
  std::memcpy(m.peer.ip, k.peer_ip, peer_family == Family::V4 ? 4 : 16);
  m.relay = ours(peer_family, port);
  return m;
}

size_t ForwardingTables::dump(DumpCursor& c, std::span<CommandMessage> out, uint64_t visits,
                              const TscClock& clock) const {
  using Phase = DumpCursor::Phase;
  size_t written = 0;
  // Each step visits one port or slot and writes at most one message.
  while (written < out.size() && c.active()) {
    std::optional<CommandMessage> m;
    if (c.phase_ == Phase::Allocations) {
      if (c.next_ >= allocations_.size()) {
        c.phase_ = Phase::Channels;
        c.next_ = 0;
        continue;
      }
      if (visits-- == 0) break;
      m = allocation_message(c.next_++, clock);
    } else if (c.phase_ == Phase::Channels) {
      if (c.next_ >= channels_.capacity()) {
        c.phase_ = Phase::Permissions;
        c.next_ = 0;
        continue;
      }
      if (visits-- == 0) break;
      channels_.for_each_in(c.next_, c.next_ + 1,
                            [&](const ChannelKey& k, const ChannelEntry& e) { m = channel_message(k, e, clock); });
      ++c.next_;
    } else if (c.phase_ == Phase::Permissions) {
      if (c.next_ >= permissions_.capacity()) {
        c.phase_ = Phase::End;
        continue;
      }
      if (visits-- == 0) break;
      permissions_.for_each_in(c.next_, c.next_ + 1, [&](const BindingKey& k, const BindingEntry& e) {
        m = permission_message(k, e, clock);
      });
      ++c.next_;
    } else {
      m = ring_abi::make_dump_end(c.id_);
      c.phase_ = Phase::Idle;
    }
    if (m) {
      m->dump_id = c.id_;
      out[written++] = *m;
    }
  }
  return written;
}

void ForwardingTables::sweep(const TscClock& clock) {
  if (last_sweep_tsc_ != 0 && clock.tsc_now - last_sweep_tsc_ < clock.tsc_hz) return;
  last_sweep_tsc_ = clock.tsc_now;
  const uint64_t now_tsc = clock.tsc_now;
  std::vector<ChannelKey> dead_channels;
  channels_.for_each([&](const ChannelKey& k, const ChannelEntry& e) {
    if (live(e.allocation_port, e.generation, e.deadline_tsc, now_tsc)) return;
    dead_channels.push_back(k);
    if (counted(e)) toggle_digest(e.allocation_port, ring_abi::entry_digest(channel_identity(k, e)));
  });
  for (const auto& k : dead_channels) channels_.erase(k);
  sweep_peer_side(bindings_, now_tsc);
  sweep_peer_side(permissions_, now_tsc);
  std::vector<SendKey> dead_sends;
  sends_.for_each([&](const SendKey& k, const SendEntry& e) {
    if (!live(e.allocation_port, e.generation, e.deadline_tsc, now_tsc)) dead_sends.push_back(k);
  });
  for (const auto& k : dead_sends) sends_.erase(k);
}

void ForwardingTables::sweep_peer_side(BindingTable& table, uint64_t now_tsc) {
  std::vector<BindingKey> dead;
  table.for_each([&](const BindingKey& k, const BindingEntry& e) {
    if (!live(rte_be_to_cpu_16(k.allocation_port_be), e.generation, e.deadline_tsc, now_tsc)) dead.push_back(k);
  });
  for (const auto& k : dead) table.erase(k);
}

}  // namespace relay::dataplane
