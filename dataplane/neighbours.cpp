#include "dataplane/neighbours.hpp"

namespace relay::dataplane {

namespace {
size_t addr_len(Family f) { return f == Family::V4 ? 4 : 16; }
}  // namespace

Neighbours::Neighbours(const InterfaceConfig& config, uint64_t tsc_hz, const HashSecret& secret)
    : lifetime_tsc_(kNeighbourLifetimeSeconds * tsc_hz), retry_tsc_(tsc_hz), table_(config.neighbour_capacity, secret) {
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

const uint8_t* Neighbours::resolve(Family f, const uint8_t* dst, uint64_t now_tsc, NextHop& hop, bool& routable) {
  Subnet& s = subnet(f);
  routable = true;
  hop.family = f;
  if (!on_link(f, dst)) {
    if (!s.has_gateway) [[unlikely]] {
      routable = false;
      return nullptr;
    }
    if (s.gateway_deadline_tsc > now_tsc) [[likely]]
      return s.gateway_mac.data();
    std::memcpy(hop.ip, s.gateway, addr_len(f));
  } else {
    std::memcpy(hop.ip, dst, addr_len(f));
  }
  const NeighbourEntry* e = table_.find(key(f, hop.ip));
  if (e != nullptr && e->resolved && e->deadline_tsc > now_tsc) return e->mac.data();
  return nullptr;
}

bool Neighbours::learn(Family f, const uint8_t* ip, const uint8_t* mac, uint64_t now_tsc) {
  Subnet& s = subnet(f);
  if (!on_link(f, ip)) return false;
  const uint64_t deadline = now_tsc + lifetime_tsc_;
  if (s.has_gateway && std::memcmp(ip, s.gateway, addr_len(f)) == 0) {
    std::memcpy(s.gateway_mac.data(), mac, 6);
    s.gateway_deadline_tsc = deadline;
  }
  const NeighbourKey k = key(f, ip);
  NeighbourEntry* e = table_.find(k);
  if (e != nullptr && e->resolved && std::memcmp(e->mac.data(), mac, 6) == 0) {
    e->deadline_tsc = deadline;
    return false;
  }
  NeighbourEntry fresh{};
  std::memcpy(fresh.mac.data(), mac, 6);
  fresh.resolved = true;
  fresh.deadline_tsc = deadline;
  // A full table keeps its old entries; those still resolve.
  return table_.upsert(k, fresh) != decltype(table_)::Upsert::Full;
}

bool Neighbours::may_solicit(const NextHop& hop, uint64_t now_tsc) {
  const NeighbourKey k = key(hop.family, hop.ip);
  NeighbourEntry* e = table_.find(k);
  if (e == nullptr) {
    NeighbourEntry pending{};
    pending.last_request_tsc = now_tsc;
    return table_.upsert(k, pending) != decltype(table_)::Upsert::Full;
  }
  if (e->last_request_tsc != 0 && now_tsc - e->last_request_tsc < retry_tsc_) return false;
  e->last_request_tsc = now_tsc;
  return true;
}

}  // namespace relay::dataplane
