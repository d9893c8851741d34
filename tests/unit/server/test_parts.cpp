// The Server's building blocks on their own: ports, nonces, peer policy,
// randomness, the key cache, stats names, owner ids, configuration checks.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "controlplane/core/allocation.hpp"
#include "controlplane/core/key_cache.hpp"
#include "controlplane/core/nonce_store.hpp"
#include "controlplane/core/peer_policy.hpp"
#include "controlplane/core/port_allocator.hpp"
#include "controlplane/core/response_cache.hpp"
#include "controlplane/core/rng.hpp"
#include "controlplane/core/server_config.hpp"
#include "controlplane/core/stats.hpp"
#include "controlplane/core/timer_queue.hpp"

namespace relay::core {
namespace {

TEST(PortAllocator, HandsOutEveryPortOfTheRangeOnceThenNothing) {
  Rng rng(1);
  PortAllocator ports(60000, 60099);
  std::set<uint16_t> seen;
  for (int i = 0; i < 100; ++i) {
    auto p = ports.acquire(rng);
    ASSERT_TRUE(p);
    EXPECT_TRUE(p->value >= 60000 && p->value <= 60099);
    EXPECT_TRUE(seen.insert(p->value).second);
  }
  EXPECT_FALSE(ports.acquire(rng));
  ports.release(AllocationPort{60042});
  ports.release(AllocationPort{60042});  // twice is harmless
  EXPECT_EQ(ports.free_count(), 1u);
  EXPECT_EQ(ports.acquire(rng)->value, 60042);
}

TEST(PortAllocator, EvenPortWithNextTakesBothAndFailsWhenNoPairIsLeft) {
  Rng rng(2);
  PortAllocator ports(60000, 60003);
  ASSERT_TRUE(ports.take(AllocationPort{60001}));
  auto p = ports.acquire_even(rng, true);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->value, 60002);
  EXPECT_FALSE(ports.is_free(60003));
  EXPECT_FALSE(ports.acquire_even(rng, true));  // 60000 is free but 60001 is not
  EXPECT_EQ(ports.acquire_even(rng, false)->value, 60000);
}

TEST(PortAllocator, ARangeEndingOnAnEvenPortCannotReserveBeyondIt) {
  Rng rng(3);
  PortAllocator ports(60000, 60000);
  EXPECT_FALSE(ports.acquire_even(rng, true));
  EXPECT_TRUE(ports.acquire_even(rng, false));
}

TEST(PortAllocator, DrawsAreSpreadOverTheRange) {
  Rng rng(4);
  PortAllocator ports(49152, 65535);
  std::set<uint16_t> firsts;
  for (int i = 0; i < 64; ++i) firsts.insert(ports.acquire(rng)->value);
  uint16_t lo = *firsts.begin(), hi = *firsts.rbegin();
  EXPECT_GT(hi - lo, 8000);  // not sequential
}

TEST(NonceStore, ANonceIsGoodForItsConfiguredUsesThenUnknown) {
  Rng rng(5);
  NonceStore store(8, 10);
  NonceText n = store.mint(rng);
  for (int i = 0; i < 10; ++i) {
    auto slot = store.find(n.view());
    ASSERT_TRUE(slot) << i;
    store.use(*slot);
  }
  EXPECT_FALSE(store.find(n.view()));
}

TEST(NonceStore, MintingBeyondCapacityEvictsTheOldest) {
  Rng rng(6);
  NonceStore store(2, 10);
  NonceText a = store.mint(rng), b = store.mint(rng), c = store.mint(rng);
  EXPECT_FALSE(store.find(a.view()));
  EXPECT_TRUE(store.find(b.view()));
  EXPECT_TRUE(store.find(c.view()));
}

TEST(NonceStore, GarbageAndForgedNoncesAreUnknown) {
  Rng rng(7);
  NonceStore store(4, 10);
  NonceText n = store.mint(rng);
  std::string forged(n.view());
  forged[35] = forged[35] == '0' ? '1' : '0';
  EXPECT_FALSE(store.find(forged));
  EXPECT_FALSE(store.find(""));
  EXPECT_FALSE(store.find("ffffffff-ffff-4fff-bfff-ffffffffffff"));  // slot out of range
  EXPECT_FALSE(store.find(std::string(36, '-')));
  std::string upper(n.view());
  for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
  EXPECT_EQ(store.find(upper).has_value(), upper == n.view());
}

TEST(Rng, ASeedReplaysTheSameStreamAndBelowStaysBelow) {
  Rng a(99), b(99), c(100);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  for (uint64_t bound : {1ull, 2ull, 3ull, 16384ull, 1ull << 63}) EXPECT_LT(a.below(bound), bound);
}

TEST(Rng, UnseededDrawsFromOpenSsl) {
  Rng a(std::nullopt), b(std::nullopt);
  std::array<uint8_t, 32> x{}, y{};
  a.fill(x);
  b.fill(y);
  EXPECT_NE(x, y);
}

TEST(PeerPolicy, MostSpecificRuleWinsAndConfigBeatsBuiltinOnTies) {
  auto ip = [](const char* t) { return *SocketAddress::parse(t); };
  PeerPolicy p({*IpAddress::parse("203.0.113.1")}, PortRange{49152, 65535}, {*Cidr::parse("10.0.0.0/8")},
               {*Cidr::parse("10.9.0.0/16"), *Cidr::parse("2001:db8:bad::/48")});
  EXPECT_EQ(p.check(ip("10.1.1.1:1")), PeerVerdict::Allow);
  EXPECT_EQ(p.check(ip("10.9.1.1:1")), PeerVerdict::Deny);
  EXPECT_EQ(p.check(ip("[2001:db8:bad::1]:1")), PeerVerdict::Deny);
  EXPECT_EQ(p.check(ip("[2001:db8:600d::1]:1")), PeerVerdict::Allow);
  EXPECT_EQ(p.check(ip("[::ffff:10.1.1.1]:1")), PeerVerdict::Allow);  // judged as the IPv4 it carries
  EXPECT_EQ(p.check(ip("203.0.113.1:49152")), PeerVerdict::Allow);
  EXPECT_EQ(p.check(ip("203.0.113.1:49151")), PeerVerdict::Deny);
  // The same prefix allowed and denied: the deny wins.
  PeerPolicy both({}, PortRange{49152, 65535}, {*Cidr::parse("192.0.2.0/24")}, {*Cidr::parse("192.0.2.0/24")});
  EXPECT_EQ(both.check(ip("192.0.2.33:1")), PeerVerdict::Deny);
}

// One vector per translation form: the IPv4 it embeds denied (10.0.0.1 or
// 127.0.0.1), the same form around a public IPv4 (192.0.2.33) denied too
// (the prefix itself is built in), and allowed once a configured allow
// re-opens the prefix, unless its IPv4 is denied or is the relay's own on
// a port that is not an allocation port.
TEST(PeerPolicy, TranslationPrefixesAreDeniedAndJudgedByTheIPv4TheyEmbedWhenReOpened) {
  auto peer = [](const char* t) { return *SocketAddress::parse(t); };
  const std::vector<Cidr> translations = {*Cidr::parse("64:ff9b::/96"), *Cidr::parse("2002::/16"),
                                          *Cidr::parse("2001::/32"), *Cidr::parse("::ffff:0:0:0/96")};
  PeerPolicy closed({*IpAddress::parse("203.0.113.1")}, PortRange{49152, 65535}, {}, {});
  PeerPolicy reopened({*IpAddress::parse("203.0.113.1")}, PortRange{49152, 65535}, translations, {});
  struct Vector {
    const char* internal;  // embeds a denied IPv4
    const char* outside;   // embeds 192.0.2.33
  };
  for (const Vector& v : {
           // NAT64, RFC 6052 §2.1 well-known prefix: the last 32 bits.
           Vector{"[64:ff9b::a00:1]:1", "[64:ff9b::c000:221]:1"},
           Vector{"[64:ff9b::7f00:1]:1", "[64:ff9b::c000:221]:1"},
           // 6to4, RFC 3056 §2: 2002:V4ADDR::/48.
           Vector{"[2002:a00:1::1]:1", "[2002:c000:221::1]:1"},
           // Teredo, RFC 4380 §4: the server (bits 32..63) public, the
           // client (the last 32 bits, inverted) f5ff:fffe = 10.0.0.1.
           Vector{"[2001:0:c000:221:0:0:f5ff:fffe]:1", "[2001:0:c000:221:0:0:3fff:fdde]:1"},
           // ... and a Teredo server in a denied range.
           Vector{"[2001:0:a00:1:0:0:3fff:fdde]:1", "[2001:0:c000:221:0:0:3fff:fdde]:1"},
           // IPv4-translated, RFC 2765 §2.1: ::ffff:0:a.b.c.d.
           Vector{"[::ffff:0:a00:1]:1", "[::ffff:0:c000:221]:1"},
       }) {
    EXPECT_EQ(closed.check(peer(v.internal)), PeerVerdict::Deny) << v.internal;
    EXPECT_EQ(closed.check(peer(v.outside)), PeerVerdict::Deny) << v.outside;
    EXPECT_EQ(reopened.check(peer(v.internal)), PeerVerdict::Deny) << v.internal;
    EXPECT_EQ(reopened.check(peer(v.outside)), PeerVerdict::Allow) << v.outside;
  }
  // The relay's own IPv4 through a translator: an allocation port only.
  EXPECT_EQ(reopened.check(peer("[64:ff9b::cb00:7101]:50000")), PeerVerdict::Allow);
  EXPECT_EQ(reopened.check(peer("[64:ff9b::cb00:7101]:3478")), PeerVerdict::Deny);
  EXPECT_EQ(reopened.check(peer("[2002:cb00:7101::1]:22")), PeerVerdict::Deny);
  // A configured deny of the IPv4 reaches through the translation too.
  PeerPolicy deny_v4({}, PortRange{49152, 65535}, translations, {*Cidr::parse("192.0.2.0/24")});
  EXPECT_EQ(deny_v4.check(peer("[64:ff9b::c000:221]:1")), PeerVerdict::Deny);
  EXPECT_EQ(deny_v4.check(peer("[2002:c000:221::1]:1")), PeerVerdict::Deny);
}

// RFC 8215's local-use prefix 64:ff9b:1::/48 holds NAT64 prefixes of the
// operator's length; RFC 6052 §2.2 puts the IPv4 where that length says.
// Re-opening a prefix of length L judges every layout from L to /96.
TEST(PeerPolicy, LocalUseNat64IsJudgedUnderEveryLayoutTheReOpenedPrefixMayUse) {
  auto peer = [](const char* t) { return *SocketAddress::parse(t); };
  auto reopened = [](const char* prefix) { return PeerPolicy({}, PortRange{}, {*Cidr::parse(prefix)}, {}); };
  EXPECT_EQ(reopened("64:ff9b::/96").check(peer("[64:ff9b:1:ab::c000:221]:1")), PeerVerdict::Deny);  // still built in

  const PeerPolicy nsp96 = reopened("64:ff9b:1:ab::/96");  // the IPv4 in bits 96..127
  EXPECT_EQ(nsp96.check(peer("[64:ff9b:1:ab::c000:221]:1")), PeerVerdict::Allow);
  EXPECT_EQ(nsp96.check(peer("[64:ff9b:1:ab::a00:1]:1")), PeerVerdict::Deny);
  EXPECT_EQ(nsp96.check(peer("[64:ff9b:1:ab::7f00:1]:1")), PeerVerdict::Deny);

  const PeerPolicy nsp64 = reopened("64:ff9b:1:ab::/64");  // bits 72..103, after the u octet
  EXPECT_EQ(nsp64.check(peer("[64:ff9b:1:ab:c0:2:2100:0]:1")), PeerVerdict::Allow);
  EXPECT_EQ(nsp64.check(peer("[64:ff9b:1:ab:a:0:100:0]:1")), PeerVerdict::Deny);  // 10.0.0.1
  EXPECT_EQ(nsp64.check(peer("[64:ff9b:1:ab::a00:1]:1")), PeerVerdict::Deny);     // read as a /96 inside it

  const PeerPolicy nsp48 = reopened("64:ff9b:1::/48");  // bits 48..63 and 72..87
  EXPECT_EQ(nsp48.check(peer("[64:ff9b:1:a00:0:100::]:1")), PeerVerdict::Deny);  // 10.0.0.1 as a /48
  EXPECT_EQ(nsp48.check(peer("[64:ff9b:1:c000:2:2100::]:1")),
            PeerVerdict::Deny);  // 192.0.2.33 as a /48, but 0.2.33.0 as a /56: more than the NSP costs reach
  EXPECT_EQ(nsp48.check(peer("[64:ff9b:1:ab::a00:1]:1")), PeerVerdict::Deny);  // a /96 inside the /48
}

TEST(PeerPolicy, MoreSpecialPurposeRangesAreDenied) {
  auto peer = [](const char* t) { return *SocketAddress::parse(t); };
  PeerPolicy p({}, PortRange{49152, 65535}, {}, {});
  for (const char* denied : {"192.0.0.1:1", "192.0.0.170:1", "198.18.0.1:1", "198.19.255.254:1", "[fec0::1]:1",
                             "[100::1]:1", "[2001:2::1]:1"})
    EXPECT_EQ(p.check(peer(denied)), PeerVerdict::Deny) << denied;
  for (const char* allowed : {"192.0.1.1:1", "198.17.255.255:1", "198.20.0.1:1", "[2001:db8::1]:1", "[2001:1::1]:1"})
    EXPECT_EQ(p.check(peer(allowed)), PeerVerdict::Allow) << allowed;
}

TEST(PeerPolicy, LocalNetworksAreDeniedButTheRelaysOwnAddressStaysOpenOnAllocationPorts) {
  auto peer = [](const char* t) { return *SocketAddress::parse(t); };
  const std::vector<Cidr> local = {*Cidr::parse("203.0.113.0/24"), *Cidr::parse("203.0.113.254/32"),
                                   *Cidr::parse("2001:db8:300::/64")};
  PeerPolicy p({*IpAddress::parse("203.0.113.1"), *IpAddress::parse("2001:db8:300::1")}, PortRange{49152, 65535},
               {*Cidr::parse("2002::/16")}, {}, local);
  EXPECT_EQ(p.check(peer("203.0.113.254:1")), PeerVerdict::Deny);  // the gateway
  EXPECT_EQ(p.check(peer("203.0.113.7:1")), PeerVerdict::Deny);    // a neighbour on the link
  EXPECT_EQ(p.check(peer("[2001:db8:300::7]:1")), PeerVerdict::Deny);
  EXPECT_EQ(p.check(peer("[::ffff:203.0.113.7]:1")), PeerVerdict::Deny);
  EXPECT_EQ(p.check(peer("[2002:cb00:7107::1]:1")), PeerVerdict::Deny);  // the neighbour through 6to4
  EXPECT_EQ(p.check(peer("[2002:cb00:7207::1]:1")), PeerVerdict::Allow);  // 203.0.114.7 through 6to4
  EXPECT_EQ(p.check(peer("203.0.113.1:50000")), PeerVerdict::Allow);  // another client's allocation
  EXPECT_EQ(p.check(peer("[2001:db8:300::1]:50000")), PeerVerdict::Allow);
  EXPECT_EQ(p.check(peer("203.0.113.1:3478")), PeerVerdict::Deny);
  EXPECT_EQ(p.check(peer("203.0.114.7:1")), PeerVerdict::Allow);  // off-link
  // A configured allow of the same prefix re-opens the link, not the gateway.
  PeerPolicy open({*IpAddress::parse("203.0.113.1")}, PortRange{49152, 65535}, {*Cidr::parse("203.0.113.0/24")}, {}, local);
  EXPECT_EQ(open.check(peer("203.0.113.7:1")), PeerVerdict::Allow);
  EXPECT_EQ(open.check(peer("203.0.113.254:1")), PeerVerdict::Deny);
}

TEST(TimerQueue, PopsInDeadlineOrderThroughMovesAndCancelsLikeASortedSet) {
  Rng rng(8);
  TimerQueue q;
  std::set<std::pair<Instant, TimerKey>> model;
  std::vector<std::pair<TimerId, std::pair<Instant, TimerKey>>> live;
  Instant now{};
  for (uint16_t step = 0; step < 3000; ++step) {
    uint64_t op = rng.below(4);
    if (op <= 1 || live.empty()) {
      std::pair<Instant, TimerKey> e{now + std::chrono::seconds(rng.below(100)), TimerKey{TimerKind::Channel, step}};
      live.push_back({q.schedule(e.first, e.second), e});
      model.insert(e);
    } else if (op == 2) {
      auto& [id, e] = live[rng.below(live.size())];
      model.erase(e);
      e.first = now + std::chrono::seconds(rng.below(100));
      model.insert(e);
      q.move(id, e.first);
    } else {
      size_t i = rng.below(live.size());
      q.cancel(live[i].first);
      model.erase(live[i].second);
      live.erase(live.begin() + static_cast<ptrdiff_t>(i));
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_EQ(q.earliest(), model.empty() ? std::nullopt : std::optional<Instant>(model.begin()->first));
    if (step % 50 == 0) {  // time passes: everything due comes out in order
      now = now + std::chrono::seconds(20);
      while (auto key = q.pop_due(now)) {
        ASSERT_EQ(*key, model.begin()->second);
        model.erase(model.begin());
        std::erase_if(live, [&](const auto& l) { return l.second.second == *key; });
      }
      if (!model.empty()) {
        EXPECT_GT(model.begin()->first, now);
      }
    }
  }
}

TEST(TimerQueue, GivesItsMemoryBackAfterASurgeAndStillPopsInOrder) {
  Rng rng(9);
  TimerQueue q;
  for (uint16_t i = 0; i < 20000; ++i)
    q.schedule(Instant{} + std::chrono::seconds(1 + rng.below(300)), TimerKey{TimerKind::PortHold, i});
  EXPECT_GE(q.capacity(), 20000u);
  Instant last{};
  size_t popped = 0;
  while (q.earliest()) {
    Instant due = *q.earliest();
    ASSERT_GE(due, last);
    last = due;
    ASSERT_TRUE(q.pop_due(due));
    ++popped;
  }
  EXPECT_EQ(popped, 20000u);
  EXPECT_LE(q.capacity(), 1024u);
}

TEST(ResponseCache, ShrinksItsBucketsOnceASurgeHasExpired) {
  ResponseCache cache(1u << 16);
  const ClientFiveTuple client{ClientSocket{*SocketAddress::parse("198.51.100.10:40000")},
                               ListenSocket{*SocketAddress::parse("203.0.113.1:3478")}};
  const std::vector<uint8_t> response(64, 1);
  stun::TransactionId id{};
  for (uint32_t i = 0; i < 20000; ++i) {
    std::memcpy(id.data(), &i, sizeof i);
    cache.insert(client, id, response, Instant{});
  }
  EXPECT_GE(cache.bucket_count(), 20000u);
  cache.expire(Instant{} + std::chrono::seconds(39));
  EXPECT_EQ(cache.size(), 20000u);
  cache.expire(Instant{} + std::chrono::seconds(40));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_LE(cache.bucket_count(), 1024u);
  EXPECT_EQ(cache.find(client, id), nullptr);
  cache.insert(client, id, response, Instant{} + std::chrono::seconds(41));  // and it still works
  ASSERT_NE(cache.find(client, id), nullptr);
  EXPECT_EQ(*cache.find(client, id), response);
}

TEST(KeyCache, FindsWhatWasInsertedAndStaysBounded) {
  KeyCache<int> cache(2);
  cache.insert("a", 1);
  cache.insert("b", 2);
  cache.insert("c", 3);  // generation turns over: a, b become previous
  EXPECT_EQ(cache.find("a"), 1);
  for (int i = 0; i < 100; ++i) cache.insert(std::to_string(i), i);
  EXPECT_LE(cache.size(), 4u);
  EXPECT_EQ(cache.find("99"), 99);
  EXPECT_FALSE(cache.find("a"));
}

TEST(Stats, NamesAreSnakeCasePrometheusLabels) {
  EXPECT_EQ(to_string(DropReason::NotReady), "not_ready");
  EXPECT_EQ(to_string(DropReason::SendIndication), "send_indication");
  EXPECT_EQ(to_string(AuthFailure::BadIntegrity), "bad_integrity");
  EXPECT_EQ(to_string(MethodLabel::ChannelBind), "channel_bind");
  EXPECT_EQ(to_string(ResponseCode::Success), "success");
  EXPECT_EQ(to_string(ResponseCode::StaleNonce), "438");
  EXPECT_EQ(to_string(Quota::PerClientIp), "per_client_ip");
  EXPECT_EQ(response_code_from(486), ResponseCode::AllocationQuotaReached);
  EXPECT_EQ(response_code_from(499), ResponseCode::OtherError);
  for (size_t i = 0; i < kDropReasons; ++i) {
    for (char ch : to_string(static_cast<DropReason>(i))) {
      EXPECT_TRUE(std::islower(ch) || ch == '_') << ch;
    }
  }
}

TEST(OwnerId, IsTheFirstEightBytesOfTheSaltsSha256SoEveryVersionAgrees) {
  // The data plane keeps it across control-plane restarts and upgrades.
  EXPECT_EQ(owner_id_of("abc").value, 0xeacf018fbf1678baull);  // SHA-256("abc") = ba7816bf 8f01cfea ...
  EXPECT_EQ(owner_id_of("fixture_salt").value, 0xe367f27fba66d704ull);
  EXPECT_NE(owner_id_of("fixture_salt"), owner_id_of("fixture_salu"));
}

TEST(ServerConfig, ValidationNamesTheFirstProblem) {
  ServerConfig c;
  EXPECT_EQ(validate(c).error(), ConfigError::NoRelayAddress);
  c.relay_v4 = IpAddress::parse("2001:db8::1");
  EXPECT_EQ(validate(c).error(), ConfigError::RelayAddressFamilyMismatch);
  c.relay_v4 = IpAddress::parse("203.0.113.1");
  c.advertised_v6 = IpAddress::parse("2001:db8::77");  // without relay_v6
  EXPECT_EQ(validate(c).error(), ConfigError::RelayAddressFamilyMismatch);
  c.advertised_v6.reset();
  c.advertised_v4 = IpAddress::parse("2001:db8::77");
  EXPECT_EQ(validate(c).error(), ConfigError::RelayAddressFamilyMismatch);
  c.advertised_v4 = IpAddress::parse("198.51.100.77");
  EXPECT_EQ(validate(c).error(), ConfigError::EmptySecret);
  c.auth_secrets = {"s", ""};
  EXPECT_EQ(validate(c).error(), ConfigError::EmptySecret);
  c.auth_scheme = AuthScheme::Static;  // its users come from the file, not from secrets
  EXPECT_TRUE(validate(c).ok());
  c.auth_scheme = AuthScheme::Rest;
  c.auth_secrets = {"s"};
  EXPECT_TRUE(validate(c).ok());
  c.allocation_ports.lowest = 3000;
  EXPECT_EQ(validate(c).error(), ConfigError::PortRangeHasListenPort);
  c.allocation_ports.lowest = 60000;
  c.allocation_ports.highest = 50000;
  EXPECT_EQ(validate(c).error(), ConfigError::EmptyPortRange);
  c.allocation_ports.highest = 60001;
  c.default_allocation_lifetime = std::chrono::seconds(4000);
  EXPECT_EQ(validate(c).error(), ConfigError::LifetimeOrder);
  c.default_allocation_lifetime = std::chrono::seconds(600);
  c.quotas.channels_total = 1024;  // the data plane's table: below the 4096 per allocation
  EXPECT_EQ(validate(c).error(), ConfigError::QuotaAboveTotal);
  c.quotas.channels_per_allocation = 0;  // no quota of its own: the table is the bound
  EXPECT_TRUE(validate(c).ok());
  c.quotas.permissions_total = 4095;
  EXPECT_EQ(validate(c).error(), ConfigError::QuotaAboveTotal);
}

}  // namespace
}  // namespace relay::core
