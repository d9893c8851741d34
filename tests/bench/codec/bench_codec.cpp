// Codec costs on one core: parse, parse + MESSAGE-INTEGRITY check, and the
// build of an Allocate success response. Heap allocations per operation are
// counted (the parser and the HMAC path must not allocate).
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>

#include "controlplane/core/stun/credentials.hpp"
#include "controlplane/core/stun/stun.hpp"

// Every heap allocation of the process, libcrypto's included, goes through
// these (glibc lets the executable interpose malloc).
namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

extern "C" {
void* __libc_malloc(size_t n);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t n);
void* malloc(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(size_t n, size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
}

namespace {

using namespace relay;
using namespace relay::stun;

constexpr TransactionId kTransaction{0x5a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5};
const std::string kUsername = "1685984278:uvdgKvS9GXYZ_vmv";
const LongTermKey kKey =
    long_term_key(kUsername, kRealm, mint_password("1cab293a-4032-46f4-862a-40e5d174b0d2", 1685984278, "uvdgKvS9GXYZ_vmv"));
// As the Server caches it: with the HMAC pads already hashed.
const IntegrityKey kPreparedKey(kKey);

// What a Firezone client sends once it has a nonce.
struct AllocateRequest {
  std::array<uint8_t, 256> bytes{};
  size_t size = 0;
  AllocateRequest() {
    Builder b(bytes, Method::Allocate, MessageClass::Request, kTransaction);
    b.add_requested_transport(kTransportUdp)
        .add_username(kUsername)
        .add_realm(kRealm)
        .add_nonce("b3f5a2c1d4e6f7089a1b2c3d4e5f6071")
        .add_message_integrity(kKey)
        .add_fingerprint();
    size = b.finish().value();
  }
  std::span<const uint8_t> view() const { return {bytes.data(), size}; }
};

void counters(benchmark::State& state, uint64_t allocations_before) {
  state.counters["allocs_per_op"] = benchmark::Counter(
      static_cast<double>(g_allocations.load() - allocations_before) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_ParseAllocateRequest(benchmark::State& state) {
  const AllocateRequest request;
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    auto m = parse(request.view());
    benchmark::DoNotOptimize(m);
  }
  counters(state, before);
  state.counters["bytes"] = static_cast<double>(request.size);
}
BENCHMARK(BM_ParseAllocateRequest);

void BM_ParseAndVerifyAllocateRequest(benchmark::State& state) {
  const AllocateRequest request;
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    auto m = parse(request.view());
    if (!m.ok() || m->verify_message_integrity(kPreparedKey) != Integrity::Valid)
      state.SkipWithError("did not verify");
    benchmark::DoNotOptimize(m);
  }
  counters(state, before);
}
BENCHMARK(BM_ParseAndVerifyAllocateRequest);

void BM_BuildAllocateSuccess(benchmark::State& state) {
  const SocketAddress relayed = *SocketAddress::parse("192.0.2.1:50123");
  const SocketAddress mapped = *SocketAddress::parse("198.51.100.7:49152");
  std::array<uint8_t, 256> out{};
  const uint64_t before = g_allocations.load();
  for (auto _ : state) {
    Builder b(out, Method::Allocate, MessageClass::SuccessResponse, kTransaction);
    b.add_xor_relayed_address(relayed)
        .add_xor_mapped_address(mapped)
        .add_lifetime(std::chrono::seconds(600))
        .add_software("firezone-relay")
        .add_message_integrity(kPreparedKey)
        .add_fingerprint();
    auto size = b.finish();
    benchmark::DoNotOptimize(size);
    benchmark::DoNotOptimize(out.data());
  }
  counters(state, before);
}
BENCHMARK(BM_BuildAllocateSuccess);

}  // namespace

BENCHMARK_MAIN();
