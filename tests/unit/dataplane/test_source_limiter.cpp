// The token bucket (token_bucket.hpp), then the per-source STUN rate limit
// of the exception path on its own (TSC ticks are nanoseconds: 1 GHz), then
// inside a worker.
#include <gtest/gtest.h>

#include "dataplane/source_limiter.hpp"
#include "dataplane/token_bucket.hpp"
#include "tests/unit/dataplane/fixture.hpp"

namespace relay::dataplane::testing {
namespace {

constexpr uint64_t kHz = 1'000'000'000;
constexpr uint64_t kStart = 5'000'000'000;
constexpr uint64_t kInterval = kHz / 200;  // 200/s: one token every 5 ms

// How many of `n` datagrams from `source`, all at `now`, are let through.
unsigned passed(SourceRateLimiter& limiter, const char* source, unsigned n, uint64_t now) {
  const IpAddress a = ip(source);
  unsigned allowed = 0;
  for (unsigned i = 0; i < n; ++i) allowed += limiter.allow(a.family, a.bytes.data(), now) ? 1 : 0;
  return allowed;
}

TEST(TokenBucket, StartsFullThenRefillsAtItsRateUpToItsBurst) {
  TokenBucket bucket(200, 3, kHz);
  unsigned allowed = 0;
  for (int i = 0; i < 5; ++i) allowed += bucket.allow(kStart) ? 1 : 0;
  EXPECT_EQ(allowed, 3u);
  EXPECT_FALSE(bucket.allow(kStart + kInterval - 1));
  EXPECT_TRUE(bucket.allow(kStart + kInterval));
  allowed = 0;
  for (int i = 0; i < 5; ++i) allowed += bucket.allow(kStart + 100 * kInterval) ? 1 : 0;
  EXPECT_EQ(allowed, 3u);
}

TEST(TokenBucket, RateZeroLetsNothingThrough) {
  TokenBucket bucket(0, 0, kHz);
  EXPECT_FALSE(bucket.allow(kStart));
  EXPECT_FALSE(bucket.allow(kStart + 10 * kHz));
}

TEST(SourceRateLimiter, AQuietSourceMaySendItsBurstAtOnceAndNoMore) {
  SourceRateLimiter limiter(200, 100, kHz);
  EXPECT_EQ(passed(limiter, "192.0.2.7", 150, kStart), 100u);
  EXPECT_EQ(passed(limiter, "192.0.2.7", 1, kStart + kInterval - 1), 0u);
}

TEST(SourceRateLimiter, TokensComeBackAtTheRateAndSaveUpToOneBurst) {
  SourceRateLimiter limiter(200, 100, kHz);
  ASSERT_EQ(passed(limiter, "192.0.2.7", 100, kStart), 100u);
  EXPECT_EQ(passed(limiter, "192.0.2.7", 5, kStart + kInterval), 1u);
  EXPECT_EQ(passed(limiter, "192.0.2.7", 15, kStart + 11 * kInterval), 10u);
  // Ten seconds of silence earn 2000 tokens, but only a burst is kept.
  EXPECT_EQ(passed(limiter, "192.0.2.7", 500, kStart + 10 * kHz), 100u);
}

TEST(SourceRateLimiter, AStreamAtTheRateIsNeverDropped) {
  SourceRateLimiter limiter(200, 1, kHz);
  for (uint64_t i = 0; i < 1000; ++i) EXPECT_EQ(passed(limiter, "192.0.2.7", 1, kStart + i * kInterval), 1u) << i;
}

TEST(SourceRateLimiter, AllAddressesOfOneIpv6Slash64ShareABucket) {
  SourceRateLimiter limiter(200, 100, kHz);
  EXPECT_EQ(passed(limiter, "2001:db8:5:6::1", 60, kStart), 60u);
  EXPECT_EQ(passed(limiter, "2001:db8:5:6:ffff:ffff:ffff:ffff", 60, kStart), 40u);
  EXPECT_EQ(passed(limiter, "2001:db8:5:7::1", 60, kStart), 60u);
}

TEST(SourceRateLimiter, OneSourcesFloodDoesNotLimitAnother) {
  SourceRateLimiter limiter(200, 100, kHz);
  EXPECT_EQ(passed(limiter, "192.0.2.66", 10'000, kStart), 100u);
  EXPECT_EQ(passed(limiter, "192.0.2.67", 100, kStart), 100u);
  EXPECT_EQ(passed(limiter, "2001:db8::66", 100, kStart), 100u);
  EXPECT_EQ(passed(limiter, "192.0.2.66", 1, kStart), 0u);
}

TEST(SourceRateLimiter, ANewSourceReplacesTheFullestBucketNotTheFlooder) {
  SourceRateLimiter limiter(200, 100, kHz, /*sets=*/1);
  ASSERT_EQ(passed(limiter, "192.0.2.66", 1000, kStart), 100u);  // empty now
  ASSERT_EQ(passed(limiter, "192.0.2.1", 1, kStart), 1u);        // 99 left
  ASSERT_EQ(passed(limiter, "192.0.2.2", 1, kStart), 1u);        // replaces .1
  EXPECT_EQ(passed(limiter, "192.0.2.66", 1, kStart), 0u);
}

TEST(SourceRateLimiter, RateZeroLetsEverythingThrough) {
  SourceRateLimiter limiter(0, 1, kHz);
  EXPECT_EQ(passed(limiter, "192.0.2.7", 100'000, kStart), 100'000u);
}

// RFC 8489 §5: type Binding request, length 0, magic cookie, transaction id.
std::vector<uint8_t> binding_request() {
  return {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 0x5A, 0x5A,
          0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A};
}

class StunRateLimit : public WorkerTest {
 protected:
  void SetUp() override {
    InterfaceConfig c = test_config();
    c.stun_rate_per_source = 200;
    c.stun_burst_per_source = 3;
    make_worker(c);
  }
  const SocketAddress kListen = sock("203.0.113.1:3478");
};

TEST_F(StunRateLimit, StunBeyondTheBurstIsDroppedAndCountedWhileChannelDataStillFlows) {
  const SocketAddress flooder = sock("198.51.100.10:40000");
  allocate(50000, flooder);
  bind(50000, flooder, 0x4001, sock("192.0.2.20:5000"));
  for (int i = 0; i < 3; ++i) {
    FakeMbuf m(udp_frame(from_gateway(Family::V4), flooder, kListen, binding_request()));
    EXPECT_EQ(run(m), Next::ToControlPlane) << i;
  }
  for (int i = 0; i < 2; ++i) {
    FakeMbuf m(udp_frame(from_gateway(Family::V4), flooder, kListen, binding_request()));
    EXPECT_EQ(run(m), Next::Free) << i;
  }
  FakeMbuf data(udp_frame(from_gateway(Family::V4), flooder, kListen, channel_data(0x4001, bytes_of("media"))));
  EXPECT_EQ(run(data), Next::Tx);
  FakeMbuf other(udp_frame(from_gateway(Family::V4), sock("198.51.100.11:40000"), kListen, binding_request()));
  EXPECT_EQ(run(other), Next::ToControlPlane);

  // ToControlPlane is counted when the ring takes the mbuf, not here.
  EXPECT_EQ(count(Counter::DropStunRateLimited), 2u);
  EXPECT_EQ(count(Counter::ClientToPeer), 1u);
}

TEST_F(StunRateLimit, ASourceIsLetThroughAgainOnceTheTscHasAdvanced) {
  const SocketAddress flooder = sock("[2001:db8:2::10]:40000");
  const SocketAddress listen6 = sock("[2001:db8:1::1]:3478");
  for (int i = 0; i < 4; ++i) {
    FakeMbuf m(udp_frame(from_gateway(Family::V6), flooder, listen6, binding_request()));
    run(m);
  }
  ASSERT_EQ(count(Counter::DropStunRateLimited), 1u);
  now += kInterval;
  FakeMbuf later(udp_frame(from_gateway(Family::V6), sock("[2001:db8:2::99]:1"), listen6, binding_request()));
  EXPECT_EQ(run(later), Next::ToControlPlane);
  EXPECT_EQ(count(Counter::DropStunRateLimited), 1u);
}

TEST(InterfaceConfigValidation, AStunBurstOfZeroIsRejected) {
  InterfaceConfig c = test_config();
  c.stun_burst_per_source = 0;
  EXPECT_FALSE(validate(c).ok());
}

}  // namespace
}  // namespace relay::dataplane::testing
