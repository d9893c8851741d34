// The per-worker forwarding table: open addressing with linear probing in
// Robin Hood order, one 64-byte slot (a cache line) per entry, the 32-bit
// hash stored in the slot so a probe compares keys only on a tag match,
// backward-shift deletion (no tombstones, so probe chains never rot under
// churn).
//
// Keys come from the network (peer and client addresses and ports, channel
// numbers), so the hash is keyed with a per-table random secret: nobody
// outside can tell which keys share a home slot. CRC32-C, used before, is
// linear, so its collisions were the same for every seed and a client could
// install channels that piled thousands of entries onto one slot, which every
// lookup there (unauthenticated ChannelData included) then walked. Robin
// Hood order keeps every entry within a few slots of its home (the longest
// displacement at load 0.75 is ~25 even in 4M slots, simulated), so a hard
// limit of kMaxProbe slots is never reached by chance; an insert that would
// need more is refused (Upsert::ProbeLimit) instead of growing the chain.
//
// Why not rte_hash (bench-dataplane's lookup lines measure both on the same
// 64k keys, burst of 32, entry read included): lookup cost is on par
// (~45-55 cycles each on the 2-vCPU KVM dev box), but rte_hash keeps a
// pointer per key, so the entry is a second cache line after the bucket and
// key store, while here key and entry share one line; rte_hash memory comes
// from rte_malloc, which the fuzzer and the unit tests cannot use without
// EAL; and with one writer per replica none of its concurrency machinery
// is needed. The burst-wide hash-then-prefetch pass hides the one miss.
#pragma once

#include <sys/mman.h>
#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <random>
#include <type_traits>

namespace relay::dataplane {

// The secret of a table's keyed hash. Random (getrandom(2)) unless a test
// or the fuzzer injects one to be reproducible.
struct HashSecret {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
  static HashSecret random() {
    HashSecret s;
    if (getrandom(&s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
      std::random_device device;  // setup time only; getrandom cannot fail on Linux >= 3.17
      s.k0 = uint64_t{device()} << 32 | device();
      s.k1 = uint64_t{device()} << 32 | device();
    }
    return s;
  }
};

// 64x64 -> 128-bit multiply, halves folded (wyhash's and rapidhash's "mum").
inline uint64_t fold_multiply(uint64_t a, uint64_t b) {
#if defined(__x86_64__)
  // One mulq leaves the halves in rdx:rax. GCC 12 spills an unsigned
  // __int128 product through the stack when registers are scarce, as in
  // bench-dataplane's lookup loop (~+20 cycles per lookup there).
  uint64_t high;
  __asm__("mulq %[b]" : "+a"(a), "=d"(high) : [b] "rm"(b) : "cc");
  return a ^ high;
#else
  __extension__ using u128 = unsigned __int128;
  const u128 product = static_cast<u128>(a) * b;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
#endif
}

// Keys are compared and hashed as raw bytes, so they must have no padding
// holes and a size that is a multiple of 8. A keyed multiply-mix in
// rapidhash's shape: two key words per 128-bit multiply, each XORed with a
// secret word first and the running hash carried into the next multiply,
// so a 24-byte key costs two dependent multiplies (~10 cycles of latency,
// ~3.3 cycles per key over a burst against CRC32-C's ~2.6), a 40-byte one
// three. Not a cryptographic PRF (SipHash-1-3 would cost ~3x the cycles);
// its outputs never leave the worker, and kMaxProbe bounds what a
// collision could cost anyway. Only 32 bits are used (tag + index).
template <class Key>
inline uint64_t keyed_hash(const Key& key, const HashSecret& secret) {
  static_assert(std::has_unique_object_representations_v<Key> && sizeof(Key) % 8 == 0);
  // One 8-byte load per word, matching the 8-byte stores keys are built
  // with: a wider load spanning two of them would stall store forwarding.
  const auto* p = reinterpret_cast<const unsigned char*>(&key);
  const auto word = [p](size_t i) {
    uint64_t w;
    std::memcpy(&w, p + 8 * i, 8);
    return w;
  };
  constexpr size_t kWords = sizeof(Key) / 8;
  // Both operands of every multiply carry secret bits: a known operand of
  // zero would make the product ignore the other.
  uint64_t h = secret.k1;
  size_t i = 0;
  for (; i + 2 <= kWords; i += 2) h = fold_multiply(word(i) ^ secret.k0, word(i + 1) ^ h);
  if constexpr (kWords % 2 != 0) h = fold_multiply(word(i) ^ secret.k0, h);
  return h;
}

// Word-wise equality: inlined, no libc call, and each 8-byte load matches
// the 8-byte stores keys are built with (no store-forwarding stalls).
template <class Key>
inline bool same_key(const Key& a, const Key& b) {
  const auto* pa = reinterpret_cast<const unsigned char*>(&a);
  const auto* pb = reinterpret_cast<const unsigned char*>(&b);
  uint64_t diff = 0;
  for (size_t i = 0; i < sizeof(Key); i += 8) {
    uint64_t wa;
    uint64_t wb;
    std::memcpy(&wa, pa + i, 8);
    std::memcpy(&wb, pb + i, 8);
    diff |= wa ^ wb;
  }
  return diff == 0;
}

// ProbeLimit: the key would sit further than kMaxProbe slots from its home.
enum class Upsert : uint8_t { Inserted, Updated, Full, ProbeLimit };

template <class Key, class Value>
class FlatTable {
 public:
  struct Slot {
    uint32_t tag;  // 0 = empty; otherwise the key's hash (never 0)
    Key key;
    Value value;
  };
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>);

  using Upsert = dataplane::Upsert;
  // No entry sits further than this from its home slot, so a lookup reads
  // at most kMaxProbe + 1 slots whatever the keys (see the top of the file).
  static constexpr uint64_t kMaxProbe = 64;

  FlatTable() = default;
  // Capacity is the power of two above max_entries / 0.75, so probe chains
  // stay short even when the replica is full.
  explicit FlatTable(uint32_t max_entries, const HashSecret& secret = HashSecret::random())
      : secret_(secret),
        max_entries_(max_entries),
        mask_(std::bit_ceil(uint64_t{max_entries} + max_entries / 3 + 1) - 1) {
    const size_t bytes = (mask_ + 1) * sizeof(Slot);
    // Transparent huge pages, hence 2 MiB alignment: a 64k-entry table
    // spans 8 MiB, a 1M one 128 MiB, and 4 KiB pages would add a TLB miss
    // to every lookup.
    constexpr size_t kHugePage = 2u << 20;
    const size_t align = bytes >= kHugePage ? kHugePage : 64;
    slots_.reset(static_cast<Slot*>(std::aligned_alloc(align, (bytes + align - 1) / align * align)));
    if (!slots_) throw std::bad_alloc();  // setup time only, never per packet
    if (align == kHugePage) madvise(slots_.get(), bytes, MADV_HUGEPAGE);
    std::memset(static_cast<void*>(slots_.get()), 0, bytes);
  }

  static uint32_t tag_of(uint64_t hash) {
    auto t = static_cast<uint32_t>(hash);
    return t == 0 ? 1 : t;
  }

  // This table's hash of `key`: what prefetch() and find() take, so a
  // burst hashes each key once.
  [[nodiscard]] uint64_t hash(const Key& key) const { return keyed_hash(key, secret_); }

  void prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[tag_of(hash) & mask_]); }

  // Reads one or a few consecutive slots, never more than kMaxProbe + 1.
  // ~5 ns when prefetched.
  [[nodiscard]] Value* find(const Key& key, uint64_t hash) {
    Slot* s = locate(key, tag_of(hash));
    return s == nullptr ? nullptr : &s->value;
  }
  [[nodiscard]] Value* find(const Key& key) { return find(key, hash(key)); }

  // Robin Hood insertion: the key takes the first slot whose entry sits
  // closer to its own home than the key would, and the entries from there
  // to the next empty slot move one slot on. Refused, with nothing moved,
  // when that would put any entry more than kMaxProbe from its home.
  Upsert upsert(const Key& key, const Value& value) {
    const uint32_t tag = tag_of(hash(key));
    if (Slot* s = locate(key, tag); s != nullptr) {
      s->value = value;
      return Upsert::Updated;
    }
    if (size_ >= max_entries_) return Upsert::Full;
    const uint64_t home = tag & mask_;
    uint64_t at = home;
    uint64_t distance = 0;
    for (; slots_[at].tag != 0 && displacement(at) >= distance; at = (at + 1) & mask_)
      if (++distance > kMaxProbe) return Upsert::ProbeLimit;
    uint64_t longest = distance;
    uint64_t end = at;  // the empty slot that ends the run
    for (; slots_[end].tag != 0; end = (end + 1) & mask_) {
      const uint64_t moved = displacement(end) + 1;
      if (moved > kMaxProbe) return Upsert::ProbeLimit;
      longest = std::max(longest, moved);
    }
    for (uint64_t j = end; j != at; j = (j - 1) & mask_) slots_[j] = slots_[(j - 1) & mask_];
    slots_[at].tag = tag;
    slots_[at].key = key;
    slots_[at].value = value;
    ++size_;
    longest_probe_ = std::max(longest_probe_, longest);
    return Upsert::Inserted;
  }

  bool erase(const Key& key) {
    const Slot* s = locate(key, tag_of(hash(key)));
    if (s == nullptr) return false;
    erase_at(static_cast<uint64_t>(s - slots_.get()));
    return true;
  }

  // Erases every entry `dead(key, value)` says so, in one pass over the
  // slots without allocating (the worker's own sweeps). Returns how many.
  template <class F>
  uint32_t erase_if(F&& dead) {
    // Start after an empty slot (there is one: the load stays below 1), so
    // no run of entries wraps around the scan's start and the backward
    // shift only ever pulls entries the scan has yet to visit.
    uint64_t start = 0;
    while (slots_[start].tag != 0) ++start;
    uint32_t erased = 0;
    for (uint64_t visited = 0, i = (start + 1) & mask_; visited < mask_;) {
      if (slots_[i].tag != 0 && dead(slots_[i].key, slots_[i].value)) {
        erase_at(i);  // slot i now holds the next entry of the run, or nothing
        ++erased;
        continue;
      }
      ++visited;
      i = (i + 1) & mask_;
    }
    return erased;
  }

  // Visits every entry; used by the control path (expiry sweeps), never per packet.
  template <class F>
  void for_each(F&& f) {
    for (uint64_t i = 0; i <= mask_; ++i)
      if (slots_[i].tag != 0) f(slots_[i].key, slots_[i].value);
  }

  // Visits the entries in slots [first, last): a scan spread over many
  // worker iterations (the restart dump) instead of one long stall.
  template <class F>
  void for_each_in(uint64_t first, uint64_t last, F&& f) const {
    for (uint64_t i = first; i < last && i <= mask_; ++i)
      if (slots_[i].tag != 0) f(slots_[i].key, slots_[i].value);
  }

  [[nodiscard]] uint32_t size() const { return size_; }
  [[nodiscard]] uint64_t capacity() const { return mask_ + 1; }
  [[nodiscard]] uint32_t max_entries() const { return max_entries_; }
  [[nodiscard]] size_t memory_bytes() const { return capacity() * sizeof(Slot); }
  // The furthest any entry has sat from its home slot since the table was
  // made (a high-water mark, ≤ kMaxProbe): what a lookup may have to walk.
  [[nodiscard]] uint64_t longest_probe() const { return longest_probe_; }

 private:
  // How far slot i's entry sits from its home.
  [[nodiscard]] uint64_t displacement(uint64_t i) const { return (i - (slots_[i].tag & mask_)) & mask_; }

  // The slot holding `key`, or nullptr. In Robin Hood order an empty slot,
  // or an entry nearer its home than the key would be, ends the search.
  [[nodiscard]] Slot* locate(const Key& key, uint32_t tag) {
    const uint64_t home = tag & mask_;
    for (uint64_t distance = 0;; ++distance) {
      Slot& s = slots_[(home + distance) & mask_];
      if (s.tag == tag && same_key(s.key, key)) [[likely]]
        return &s;
      if (s.tag == 0 || ((home + distance - s.tag) & mask_) < distance || distance == kMaxProbe) return nullptr;
    }
  }

  // Backward shift: the entries after the hole that are not at home move
  // one slot back, which keeps the Robin Hood order (and only shortens
  // displacements).
  void erase_at(uint64_t hole) {
    for (uint64_t j = (hole + 1) & mask_; slots_[j].tag != 0 && displacement(j) != 0; j = (j + 1) & mask_) {
      slots_[hole] = slots_[j];
      hole = j;
    }
    slots_[hole].tag = 0;
    --size_;
  }

  struct Free {
    void operator()(Slot* p) const { std::free(p); }
  };
  std::unique_ptr<Slot[], Free> slots_;
  HashSecret secret_;
  uint32_t max_entries_ = 0;
  uint32_t size_ = 0;
  uint64_t mask_ = 0;
  uint64_t longest_probe_ = 0;
};

}  // namespace relay::dataplane
