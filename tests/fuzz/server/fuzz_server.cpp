// Drives one Server through a fuzzer-chosen sequence of well-formed,
// mutated and raw datagrams from a few clients, with time jumps, and checks
// after every step what the data plane relies on:
//   - no two live allocations share a port; Update/Install name a live one;
//   - RemoveChannel names an installed channel, FreeAllocation a live port;
//   - nothing live is past its expiry once a step has returned;
//   - poll_timeout() is never later than the earliest live expiry;
//   - after a jump past every lifetime, every CreateAllocation has met
//     exactly one FreeAllocation and every channel was removed.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controlplane/core/server.hpp"

namespace relay::core {
namespace {

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

constexpr int64_t kUnixAtBoot = 1700000000;
constexpr const char* kSecret = "fuzz-secret";

SocketAddress sa(const char* text) { return *SocketAddress::parse(text); }

const SocketAddress kClients[] = {sa("198.51.100.1:1000"), sa("198.51.100.1:1001"), sa("198.51.100.2:1000"),
                                  sa("[2001:db8:1::1]:1000")};
const SocketAddress kPeers[] = {sa("192.0.2.1:1"), sa("192.0.2.2:2"), sa("[2001:db8::7]:3"),
                                sa("10.0.0.1:1"),  sa("203.0.113.1:50001"), sa("203.0.113.1:3478")};
const ListenSocket kListen{sa("203.0.113.1:3478")};

ServerConfig make_config() {
  ServerConfig c;
  c.relay_v4 = IpAddress::parse("203.0.113.1");
  c.relay_v6 = IpAddress::parse("2001:db8::1");
  c.allocation_ports = {50000, 50015};  // small, so exhaustion and reuse happen
  c.auth_secrets = {kSecret};
  c.has_portal = false;
  c.nonce_capacity = 8;
  c.key_cache_capacity = 2;
  c.response_cache_capacity = 16;
  c.quotas.channels_per_allocation = 4;
  c.quotas.permissions_per_allocation = 4;
  return c;
}
const ServerConfig kConfig = make_config();

// What a request may authenticate with: a valid user (two salts), an expired
// one, or a password minted from the wrong secret. Derived once, not for
// every message (minting is SHA-256 and base64, the key MD5).
struct Credential {
  std::string username;
  stun::LongTermKey key;
};
Credential make_credential(std::string_view secret, uint64_t expiry, std::string_view salt) {
  std::string username = std::to_string(expiry) + ":" + std::string(salt);
  return {username, stun::long_term_key(username, "firezone", stun::mint_password(secret, expiry, salt))};
}
const Credential kValid = make_credential(kSecret, kUnixAtBoot + 1000000, "a");
const Credential kValidOtherSalt = make_credential(kSecret, kUnixAtBoot + 1000000, "b");
const Credential kExpired = make_credential(kSecret, kUnixAtBoot + 500, "a");
const Credential kWrongSecret = make_credential("wrong", kUnixAtBoot + 1000000, "a");

struct Model {
  struct Live {
    ClientFiveTuple client;
    Instant expiry;
  };
  std::map<uint16_t, Live> allocations;
  std::map<std::pair<uint16_t, uint16_t>, Instant> channels;  // (port, number) -> expiry
  uint64_t created = 0, freed = 0;

  void apply(const Command& c, Instant now) {
    if (const auto* a = std::get_if<CreateAllocation>(&c)) {
      CHECK(!allocations.contains(a->port.value));
      CHECK(a->expiry > now);
      CHECK(a->relay_v4 || a->relay_v6);
      allocations[a->port.value] = {a->client, a->expiry};
      ++created;
    } else if (const auto* u = std::get_if<UpdateAllocation>(&c)) {
      CHECK(allocations.contains(u->port.value));
      CHECK(u->expiry > now);
      allocations[u->port.value].expiry = u->expiry;
    } else if (const auto* f = std::get_if<FreeAllocation>(&c)) {
      CHECK(allocations.erase(f->port.value) == 1);
      for (const auto& [key, expiry] : channels) CHECK(key.first != f->port.value);  // removed first
      ++freed;
    } else if (const auto* i = std::get_if<InstallChannel>(&c)) {
      auto it = allocations.find(i->relay.port);
      CHECK(it != allocations.end());
      CHECK(it->second.client == i->client);
      CHECK(i->expiry > now);
      CHECK(is_valid_channel(i->channel.value));
      CHECK(i->relay.family() == i->peer.value.family());
      channels[{i->relay.port, i->channel.value}] = i->expiry;
    } else if (const auto* r = std::get_if<RemoveChannel>(&c)) {
      CHECK(channels.erase({r->relay.port, r->channel.value}) == 1);
    }
  }

  void check_after_step(const Server& server, Instant now) const {
    std::optional<Instant> earliest;
    for (const auto& [port, live] : allocations) {
      CHECK(live.expiry > now);
      earliest = earliest ? std::min(*earliest, live.expiry) : live.expiry;
    }
    for (const auto& [key, expiry] : channels) {
      CHECK(expiry > now);
      earliest = earliest ? std::min(*earliest, expiry) : expiry;
    }
    if (earliest) CHECK(server.poll_timeout() && *server.poll_timeout() <= *earliest);
    CHECK(server.allocation_count() == allocations.size());
    CHECK(server.stats().active_channels == channels.size());
  }
};

struct Driver {
  FuzzedDataProvider& in;
  Server server;
  Model model;
  Instant now{std::chrono::seconds(1)};
  Instant told = now;  // the latest time the server was given
  std::string nonce;
  std::optional<stun::ReservationToken> token;
  uint8_t tx = 0;
  std::array<uint8_t, 1500> scratch;  // what well_formed() builds in; the builder writes every byte it uses

  explicit Driver(FuzzedDataProvider& provider) : in(provider), server(kConfig, provider.ConsumeIntegral<uint64_t>()) {
    server.set_wall_clock(Instant{}, std::chrono::seconds(kUnixAtBoot));
  }

  void drain() {
    while (auto c = server.next_command()) {
      model.apply(*c, told);
      if (const auto* send = std::get_if<SendMessage>(&*c)) learn(send->bytes);
    }
    model.check_after_step(server, told);
  }

  void learn(const std::vector<uint8_t>& bytes) {
    auto msg = stun::parse(bytes);
    CHECK(msg.ok());  // the server only sends what its codec parses
    if (auto n = msg->nonce(); n.ok() && *n) nonce = std::string(**n);
    if (auto t = msg->reservation_token(); t.ok() && *t) token = **t;
  }

  // Mostly what each method needs, sometimes not (bit 0 of `chaos` set:
  // any attribute may be missing or doubled, and odd ones are added).
  void add_attributes(stun::Builder& b, stun::Method method) {
    uint8_t flags = in.ConsumeIntegral<uint8_t>();
    bool chaos = in.ConsumeIntegralInRange<int>(0, 7) == 0;
    bool is_allocate = method == stun::Method::Allocate;
    bool is_bind = method == stun::Method::ChannelBind;
    bool is_permission = method == stun::Method::CreatePermission || method == stun::Method::Send;
    if ((is_allocate && !(chaos && (flags & 1))) || (chaos && (flags & 2)))
      b.add_requested_transport(chaos && (flags & 4) ? 6 : stun::kTransportUdp);
    if (flags & 8) b.add_lifetime(std::chrono::seconds(in.ConsumeIntegralInRange<uint32_t>(0, 5000)));
    if ((is_bind && !(chaos && (flags & 1))) || (chaos && (flags & 16)))
      b.add_channel_number(ChannelNumber{in.ConsumeIntegralInRange<uint16_t>(0x3FFF, 0x4003)});
    if (((is_bind || is_permission) && !(chaos && (flags & 1))) || (chaos && (flags & 32)))
      b.add_xor_peer_address(kPeers[in.ConsumeIntegralInRange<size_t>(0, std::size(kPeers) - 1)]);
    if (is_allocate && (flags & 64)) b.add_even_port({(flags & 128) != 0});
    if (is_allocate && (flags & 16) && token) b.add_reservation_token(*token);
    if (is_allocate || chaos) {
      uint8_t families = in.ConsumeIntegral<uint8_t>();
      if (families & 1) b.add_requested_address_family(families & 2 ? Family::V6 : Family::V4);
      if (families & 4) b.add_additional_address_family(families & 8 ? Family::V6 : Family::V4);
    }
    if (chaos && (flags & 64)) b.add_attribute(in.ConsumeIntegral<uint16_t>(), std::vector<uint8_t>(4, 0));
  }

  // Mostly a valid user, sometimes another one, an expired one, a wrong
  // password or none at all.
  void add_credentials(stun::Builder& b) {
    int who = in.ConsumeIntegralInRange<int>(0, 9);
    if (who == 9) return;  // no MESSAGE-INTEGRITY: the 401 path
    const Credential& c = who == 6 ? kValidOtherSalt : who == 7 ? kExpired : who == 8 ? kWrongSecret : kValid;
    b.add_username(c.username).add_realm("firezone").add_nonce(nonce.empty() ? "x" : nonce);
    b.add_message_integrity(c.key);
  }

  std::vector<uint8_t> well_formed() {
    static constexpr stun::Method kMethods[] = {stun::Method::Binding, stun::Method::Allocate, stun::Method::Refresh,
                                                stun::Method::ChannelBind, stun::Method::CreatePermission,
                                                stun::Method::Send};
    stun::Method method = kMethods[in.ConsumeIntegralInRange<size_t>(0, std::size(kMethods) - 1)];
    uint8_t mode = in.ConsumeIntegral<uint8_t>();
    stun::TransactionId id{};
    id[0] = (mode & 7) == 0 ? tx : ++tx;  // sometimes a retransmission
    bool indication = method == stun::Method::Send || (mode & 0x38) == 0;
    stun::Builder b(scratch, method, indication ? stun::MessageClass::Indication : stun::MessageClass::Request, id);
    add_attributes(b, method);
    if (!indication) add_credentials(b);
    if (mode & 0x40) b.add_fingerprint();
    auto n = b.finish();
    std::vector<uint8_t> buf(scratch.begin(), scratch.begin() + (n.ok() ? *n : 0));
    if ((mode & 0x80) && (mode & 0x07) == 1 && !buf.empty()) {  // mutate a few bytes
      for (int i = in.ConsumeIntegralInRange<int>(1, 4); i > 0; --i)
        buf[in.ConsumeIntegralInRange<size_t>(0, buf.size() - 1)] ^= in.ConsumeIntegral<uint8_t>();
    }
    return buf;
  }

  void step() {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0: now = now + std::chrono::milliseconds(in.ConsumeIntegralInRange<int64_t>(0, 4'000'000)); break;
      case 1:
        told = now;
        server.handle_timeout(now);
        break;
      case 2: {
        auto raw = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 200));
        feed(raw);
        break;
      }
      default: feed(well_formed()); break;
    }
    drain();
  }

  void feed(const std::vector<uint8_t>& datagram) {
    ClientSocket from{kClients[in.ConsumeIntegralInRange<size_t>(0, std::size(kClients) - 1)]};
    told = now;
    server.handle_client_input(datagram, from, kListen, now);
  }

  void finish() {
    // Past every lifetime (3600 s cap) and every cool-down: all gone.
    now = now + std::chrono::hours(3);
    told = now;
    server.handle_timeout(now);
    drain();
    CHECK(model.allocations.empty());
    CHECK(model.channels.empty());
    CHECK(model.created == model.freed);
    CHECK(server.stats().active_allocations_v4 == 0 && server.stats().active_allocations_v6 == 0);
    CHECK(!server.poll_timeout());
    // Every port of the range is free again: none leaked, no hold outlived its 5 minutes.
    CHECK(server.stats().held_ports == 0);
    CHECK(server.stats().free_ports == size_t{kConfig.allocation_ports.highest} - kConfig.allocation_ports.lowest + 1);
    // For a look at what a corpus reaches: FUZZ_SERVER_TRACE=1 fuzz_server -runs=0 DIR
    if (std::getenv("FUZZ_SERVER_TRACE"))
      std::fprintf(stderr, "allocations %llu channels %llu permissions %llu\n",
                   static_cast<unsigned long long>(model.created),
                   static_cast<unsigned long long>(server.stats().channels_bound),
                   static_cast<unsigned long long>(server.stats().permissions_created));
  }
};

}  // namespace
}  // namespace relay::core

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  relay::core::Driver driver(in);
  for (int i = 0; i < 64 && in.remaining_bytes() > 0; ++i) driver.step();
  driver.finish();
  return 0;
}
