#include "controlplane/process/stamp_secret_zone.hpp"

#include <rte_atomic.h>
#include <rte_errno.h>
#include <rte_memory.h>
#include <rte_memzone.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace relay::process {
namespace {

// generate_auth_secret() makes 64 hex characters; room for a longer one.
constexpr size_t kMaxSecret = 248;
constexpr uint64_t kMagic = 0x7374616d70763031;  // "stampv01"

struct Slot {
  uint64_t magic;
  uint32_t length;
  std::array<char, kMaxSecret> bytes;
};

}  // namespace

std::string stamp_secret_zone_name(const std::string& ring_prefix) { return ring_prefix + "stamp_secret"; }

Result<KeptSecret, std::string> keep_stamp_secret(const std::string& zone_name, const std::string& generated) {
  if (generated.size() > kMaxSecret) return Err{std::string("the stamp secret is too long to keep across restarts")};
  const rte_memzone* zone = rte_memzone_lookup(zone_name.c_str());
  if (zone == nullptr) zone = rte_memzone_reserve(zone_name.c_str(), sizeof(Slot), SOCKET_ID_ANY, 0);
  if (zone == nullptr || zone->len < sizeof(Slot)) {
    return Err{"cannot reserve memzone " + zone_name + ": " + rte_strerror(rte_errno)};
  }
  auto* slot = static_cast<Slot*>(zone->addr);
  if (slot->magic == kMagic && slot->length > 0 && slot->length <= kMaxSecret) {
    return KeptSecret{std::string(slot->bytes.data(), slot->length), true};
  }
  std::memcpy(slot->bytes.data(), generated.data(), generated.size());
  slot->length = static_cast<uint32_t>(generated.size());
  rte_wmb();  // a reader that sees the magic sees the secret
  slot->magic = kMagic;
  return KeptSecret{generated, false};
}

}  // namespace relay::process
