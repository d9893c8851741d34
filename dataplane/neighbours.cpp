#include "dataplane/neighbours.hpp"

#include <algorithm>

namespace relay::dataplane {

namespace {
size_t addr_len(Family f) { return f == Family::V4 ? 4 : 16; }
// A MAC a host may have: not a group address, not all zeros.
bool unicast_mac(const uint8_t* mac) {
  static constexpr uint8_t kZero[6] = {};
  return (mac[0] & 0x01) == 0 && std::memcmp(mac, kZero, 6) != 0;
}
}  // namespace

Neighbours::Neighbours(const InterfaceConfig& config, uint64_t tsc_hz, const HashSecret& secret)
    : lifetime_tsc_(kNeighbourLifetimeSeconds * tsc_hz),
      pending_lifetime_tsc_(kPendingLifetimeSeconds * tsc_hz),
      retry_tsc_(tsc_hz),
      max_pending_(std::max<uint32_t>(1, config.neighbour_capacity / 4)),
      table_(config.neighbour_capacity, secret) {
  for (const auto* a : {&config.ipv4, &config.ipv6}) {
    if (!*a) continue;
    Subnet& s = subnet((*a)->address.family);
    s.present = true;
    std::memcpy(s.ip, (*a)->address.bytes.data(), 16);
    for (unsigned bit = 0; bit < (*a)->prefix_len; ++bit) s.mask[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
    if ((*a)->gateway) {
      s.has_gateway = true;
      std::memcpy(s.gateway, (*a)->gateway->bytes.data(), 16);
    }
  }
}

NeighbourKey Neighbours::key(Family f, const uint8_t* ip) {
  NeighbourKey k{};
  std::memcpy(k.ip, ip, addr_len(f));
  k.family = static_cast<uint8_t>(f);
  return k;
}

bool Neighbours::on_link(Family f, const uint8_t* ip) const {
  const Subnet& s = subnet(f);
  if (!s.present) return false;
  for (size_t i = 0; i < addr_len(f); ++i)
    if (((ip[i] ^ s.ip[i]) & s.mask[i]) != 0) return false;
  return true;
}

Resolution Neighbours::resolve(Family f, const uint8_t* dst, uint64_t now_tsc) {
  const Subnet& s = subnet(f);
  const uint8_t* next = dst;
  if (!on_link(f, dst)) {
    if (!s.has_gateway) [[unlikely]]
      return {};
    if (s.gateway_deadline_tsc > now_tsc) [[likely]]
      return {s.gateway_mac.data(), std::nullopt};
    next = s.gateway;
  }
  NextHop hop{.family = f};
  std::memcpy(hop.ip, next, addr_len(f));
  const NeighbourEntry* e = table_.find(key(f, hop.ip));
  if (e != nullptr && e->resolved && e->deadline_tsc > now_tsc) return {e->mac.data(), std::nullopt};
  return {nullptr, hop};
}

bool Neighbours::is_gateway(Family f, const uint8_t* ip) const {
  const Subnet& s = subnet(f);
  return s.has_gateway && std::memcmp(ip, s.gateway, addr_len(f)) == 0;
}

bool Neighbours::learn(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc) {
  if (!on_link(f, ip) || !unicast_mac(mac)) return false;
  const uint64_t deadline = now_tsc + lifetime_tsc_;
  if (is_gateway(f, ip)) {
    Subnet& s = subnet(f);
    std::memcpy(s.gateway_mac.data(), mac, 6);
    s.gateway_deadline_tsc = deadline;
  }
  const NeighbourKey k = key(f, ip);
  if (NeighbourEntry* e = table_.find(k); e != nullptr) {
    const bool changed = !e->resolved || std::memcmp(e->mac.data(), mac, 6) != 0;
    if (!e->resolved) --pending_;
    std::memcpy(e->mac.data(), mac, 6);
    e->resolved = true;
    e->deadline_tsc = deadline;
    return changed;
  }
  NeighbourEntry fresh{};
  std::memcpy(fresh.mac.data(), mac, 6);
  fresh.resolved = true;
  fresh.deadline_tsc = deadline;
  // A table full of live entries keeps them; those still resolve.
  return insert(k, fresh, now_tsc);
}

bool Neighbours::learn_from_reply(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc) {
  if (!on_link(f, ip) || (!is_gateway(f, ip) && table_.find(key(f, ip)) == nullptr)) return false;
  return learn(f, ip, mac, now_tsc);
}

void Neighbours::confirm(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc) {
  const uint64_t deadline = now_tsc + lifetime_tsc_;
  if (Subnet& s = subnet(f); is_gateway(f, ip) && std::memcmp(s.gateway_mac.data(), mac, 6) == 0 &&
                             s.gateway_deadline_tsc != 0)
    s.gateway_deadline_tsc = deadline;
  NeighbourEntry* e = table_.find(key(f, ip));
  if (e != nullptr && e->resolved && std::memcmp(e->mac.data(), mac, 6) == 0) e->deadline_tsc = deadline;
}

bool Neighbours::may_solicit(const NextHop& hop, uint64_t now_tsc) {
  const NeighbourKey k = key(hop.family, hop.ip);
  NeighbourEntry* e = table_.find(k);
  if (e == nullptr) {
    if (pending_ >= max_pending_) sweep(now_tsc);
    if (pending_ >= max_pending_) return false;
    NeighbourEntry pending{};
    pending.deadline_tsc = now_tsc + pending_lifetime_tsc_;
    pending.last_request_tsc = now_tsc;
    if (!insert(k, pending, now_tsc)) return false;
    ++pending_;
    return true;
  }
  if (e->last_request_tsc != 0 && now_tsc - e->last_request_tsc < retry_tsc_) return false;
  e->last_request_tsc = now_tsc;
  if (e->resolved && e->deadline_tsc <= now_tsc) {  // expired: asked again, so pending again
    e->resolved = false;
    ++pending_;
  }
  if (!e->resolved) e->deadline_tsc = now_tsc + pending_lifetime_tsc_;
  return true;
}

bool Neighbours::insert(const NeighbourKey& k, const NeighbourEntry& e, uint64_t now_tsc) {
  Upsert u = table_.upsert(k, e);
  if (u == Upsert::Full || u == Upsert::ProbeLimit) {
    sweep(now_tsc);
    u = table_.upsert(k, e);
  }
  return u == Upsert::Inserted || u == Upsert::Updated;
}

void Neighbours::sweep(uint64_t now_tsc) {
  if (last_sweep_tsc_ != 0 && now_tsc - last_sweep_tsc_ < retry_tsc_) return;
  last_sweep_tsc_ = now_tsc;
  table_.erase_if([&](const NeighbourKey&, const NeighbourEntry& e) {
    if (e.deadline_tsc > now_tsc) return false;
    if (!e.resolved) --pending_;
    return true;
  });
}

}  // namespace relay::dataplane
