#include "controlplane/core/port_allocator.hpp"

#include <cassert>

namespace relay::core {

namespace {
// Random probes before falling back to a scan: with half the range free an
// even port is found in 2 probes on average, so 64 fails only when nearly full.
constexpr int kEvenProbes = 64;
}  // namespace

PortAllocator::PortAllocator(uint16_t min, uint16_t max) : min_(min), max_(max) {
  assert(min <= max);
  size_t n = size_t{max} - min + 1;
  free_.reserve(n);
  index_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    free_.push_back(static_cast<uint16_t>(min + i));
    index_[i] = static_cast<uint32_t>(i);
  }
}

bool PortAllocator::is_free(uint16_t port) const { return in_range(port) && index_[port - min_] != kNotFree; }

void PortAllocator::remove_from_free(uint16_t port) {
  uint32_t pos = index_[port - min_];
  uint16_t last = free_.back();
  free_[pos] = last;
  index_[last - min_] = pos;
  free_.pop_back();
  index_[port - min_] = kNotFree;
}

std::optional<AllocationPort> PortAllocator::acquire(Rng& rng) {
  if (free_.empty()) return std::nullopt;
  uint16_t port = free_[rng.below(free_.size())];
  remove_from_free(port);
  return AllocationPort{port};
}

bool PortAllocator::even_fits(uint16_t port, bool and_next) const {
  return port % 2 == 0 && (!and_next || (port < max_ && is_free(static_cast<uint16_t>(port + 1))));
}

std::optional<AllocationPort> PortAllocator::acquire_even(Rng& rng, bool and_next) {
  if (free_.empty()) return std::nullopt;
  std::optional<uint16_t> found;
  for (int i = 0; i < kEvenProbes && !found; ++i) {
    uint16_t port = free_[rng.below(free_.size())];
    if (even_fits(port, and_next)) found = port;
  }
  for (size_t i = 0; i < free_.size() && !found; ++i)
    if (even_fits(free_[i], and_next)) found = free_[i];
  if (!found) return std::nullopt;
  remove_from_free(*found);
  if (and_next) remove_from_free(static_cast<uint16_t>(*found + 1));
  return AllocationPort{*found};
}

bool PortAllocator::take(AllocationPort port) {
  if (!is_free(port.value)) return false;
  remove_from_free(port.value);
  return true;
}

void PortAllocator::release(AllocationPort port) {
  if (!in_range(port.value) || is_free(port.value)) return;
  index_[port.value - min_] = static_cast<uint32_t>(free_.size());
  free_.push_back(port.value);
}

}  // namespace relay::core
