// The relay ports of the allocation range (RFC 8656 §7.2): which are free,
// drawn uniformly at random so an off-path attacker cannot predict the next
// allocation's port. It knows only "free" and "not free"; why a port is taken
// (live allocation, EVEN-PORT reservation, hold after channels) is the
// Server's business.
//
// All operations are O(1) except acquire_even's fallback scan: the free
// ports live in a vector (random pick = random index, removal = swap with
// the last) and each port remembers its index in that vector.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/net_types.hpp"
#include "controlplane/core/rng.hpp"

namespace relay::core {

class PortAllocator {
 public:
  PortAllocator(uint16_t min, uint16_t max);

  std::optional<AllocationPort> acquire(Rng& rng);
  // An even port; with `and_next`, port+1 is free too and is taken with it
  // (RFC 8656 §7.2 EVEN-PORT with the R bit).
  std::optional<AllocationPort> acquire_even(Rng& rng, bool and_next);
  // Takes a specific port (state rebuild); false if outside the range or taken.
  bool take(AllocationPort port);
  void release(AllocationPort port);

  [[nodiscard]] bool in_range(uint16_t port) const { return port >= min_ && port <= max_; }
  [[nodiscard]] bool is_free(uint16_t port) const;
  [[nodiscard]] size_t free_count() const { return free_.size(); }

 private:
  static constexpr uint32_t kNotFree = UINT32_MAX;
  [[nodiscard]] bool even_fits(uint16_t port, bool and_next) const;
  void remove_from_free(uint16_t port);

  uint16_t min_, max_;
  std::vector<uint16_t> free_;
  std::vector<uint32_t> index_;  // port - min_ -> position in free_, or kNotFree
};

}  // namespace relay::core
