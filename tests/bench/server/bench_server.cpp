// bench-server: the sans-IO Server on one core. Prints one JSON line per
// case. Only the Server's own work is timed (handle_client_input and
// draining next_command); building requests and reading responses is the
// client's work and is left out. What each case includes is printed with it.
//   bench_server [--allocations N] [--rounds R]
#include <malloc.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "controlplane/core/server.hpp"

namespace relay::core {
namespace {

constexpr int64_t kUnixAtBoot = 1700000000;
constexpr const char* kSecret = "bench-secret";
using Attrs = std::function<void(stun::Builder&, size_t client)>;

// CPU time of this thread: the machine is shared, so wall time would
// measure other people's builds.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Client {
  ClientSocket socket;
  std::string username, nonce;
  stun::LongTermKey key{};
};

struct Bench {
  Server server;
  std::vector<Client> clients;
  ListenSocket listen{*SocketAddress::parse("203.0.113.1:3478")};
  Instant now{std::chrono::seconds(10)};
  double timed = 0;  // CPU seconds inside the Server
  uint32_t tx = 0;

  static ServerConfig config() {
    ServerConfig c;
    c.relay_v4 = IpAddress::parse("203.0.113.1");
    c.relay_v6 = IpAddress::parse("2001:db8::1");
    c.auth_secrets = {kSecret};
    c.has_portal = false;
    c.quotas = Quotas{{0, 0, 0, 0, 0}};
    return c;
  }

  Bench(size_t n, bool shared_user) : server(config(), 1) {
    server.set_wall_clock(Instant{}, std::chrono::seconds(kUnixAtBoot));
    for (size_t i = 0; i < n; ++i) {
      Client c;
      auto ip = IpAddress::v4(static_cast<uint32_t>(0xC6336400u + (i >> 14)));  // 198.51.100.x
      c.socket = ClientSocket{SocketAddress{ip, static_cast<uint16_t>(1024 + (i & 0x3FFF))}};
      std::string salt = shared_user ? "shared" : "salt" + std::to_string(i);
      c.username = std::to_string(kUnixAtBoot + 86400) + ":" + salt;
      c.key = stun::long_term_key(c.username, "firezone", stun::mint_password(kSecret, kUnixAtBoot + 86400, salt));
      clients.push_back(std::move(c));
    }
  }

  std::vector<uint8_t> request(stun::Method m, size_t i, bool authenticated, const Attrs& attrs) {
    std::vector<uint8_t> buf(512);
    stun::TransactionId id{};
    ++tx;
    std::memcpy(id.data(), &tx, sizeof tx);
    stun::Builder b(buf, m, stun::MessageClass::Request, id);
    if (attrs) attrs(b, i);
    if (authenticated) {
      const Client& c = clients[i];
      b.add_username(c.username).add_realm("firezone").add_nonce(c.nonce);
      b.add_message_integrity(c.key);
    }
    b.add_fingerprint();
    buf.resize(*b.finish());
    return buf;
  }

  // One request per client, as one timed batch; the clients whose answer
  // is 438 learn the fresh nonce and go again in the next batch. Requests
  // sit back to back in one buffer, as datagrams would in a ring. Returns
  // how many requests the server handled; `timed` gets the batch CPU time.
  size_t round(stun::Method m, bool authenticated, uint16_t expect, const Attrs& attrs) {
    std::vector<size_t> pending(clients.size());
    for (size_t i = 0; i < pending.size(); ++i) pending[i] = i;
    size_t handled = 0;
    while (!pending.empty()) {
      std::vector<uint8_t> wire;
      std::vector<size_t> offsets{0};
      for (size_t i : pending) {
        auto req = request(m, i, authenticated, attrs);
        wire.insert(wire.end(), req.begin(), req.end());
        offsets.push_back(wire.size());
      }
      std::vector<std::vector<uint8_t>> responses(pending.size());
      double start = cpu_seconds();
      for (size_t k = 0; k < pending.size(); ++k) {
        std::span<const uint8_t> datagram(wire.data() + offsets[k], offsets[k + 1] - offsets[k]);
        server.handle_client_input(datagram, clients[pending[k]].socket, listen, now);
        while (auto cmd = server.next_command())
          if (auto* send = std::get_if<SendMessage>(&*cmd)) responses[k] = std::move(send->bytes);
      }
      timed += cpu_seconds() - start;
      handled += pending.size();
      std::vector<size_t> again;
      for (size_t k = 0; k < pending.size(); ++k) {
        uint16_t code = outcome(clients[pending[k]], responses[k]);
        if (code == 438) again.push_back(pending[k]);
        else if (code != expect) {
          std::fprintf(stderr, "unexpected error %u\n", code);
          std::exit(1);
        }
      }
      pending.swap(again);
    }
    return handled;
  }

  // The answer's error code (0 = success); learns a NONCE if there is one.
  static uint16_t outcome(Client& c, const std::vector<uint8_t>& response) {
    auto msg = stun::parse(response);
    if (!msg) std::abort();
    if (auto n = msg->nonce(); n.ok() && *n) c.nonce = std::string(**n);
    auto e = msg->error_code();
    return e.ok() && *e ? (*e)->code : 0;
  }

  void allocate_all() {
    auto udp = [](stun::Builder& b, size_t) { b.add_requested_transport(stun::kTransportUdp); };
    round(stun::Method::Allocate, false, 401, udp);
    round(stun::Method::Allocate, true, 0, udp);
  }
};

// The machine is shared: each case runs `rounds` times and reports its
// best round, the one least disturbed by other processes.
// "mean_ops_per_sec" is over all rounds, so it also carries whatever only
// some rounds pay (the 438 nonce renewals of every 10th request).
struct Best {
  double ns_per_op = 1e18;
  double cpu = 0;
  size_t ops = 0, requests = 0;
  void take(double round_cpu, size_t round_ops, size_t round_requests) {
    double ns = round_cpu * 1e9 / static_cast<double>(round_ops);
    if (ns < ns_per_op) ns_per_op = ns;
    cpu += round_cpu;
    ops += round_ops;
    requests += round_requests;
  }
  void print(const char* bench, const char* includes) const {
    std::printf("{\"bench\": \"%s\", \"ops\": %zu, \"requests\": %zu, \"ops_per_sec\": %.0f, "
                "\"ns_per_op\": %.1f, \"mean_ops_per_sec\": %.0f, \"includes\": \"%s\"}\n",
                bench, ops, requests, 1e9 / ns_per_op, ns_per_op, static_cast<double>(ops) / cpu, includes);
  }
};

void full_allocation(size_t n, int rounds, bool shared_user) {
  Best best;
  for (int r = 0; r < rounds; ++r) {
    Bench b(n, shared_user);
    b.allocate_all();
    best.take(b.timed, n, 2 * n);
  }
  best.print(shared_user ? "full_allocation_cached_key" : "full_allocation_new_user",
             shared_user ? "Allocate without MI -> 401 (nonce minted) + Allocate with MI -> CreateAllocation + "
                           "success: 2 parses, 1 HMAC-SHA1 verify, 2 responses (1 with HMAC-SHA1), 3 CRC-32; key "
                           "from the cache"
                         : "as full_allocation_cached_key plus the key derivation of a first-time username "
                           "(SHA-256 + base64 + MD5) and its cache insert");
}

void refresh_and_bind(size_t n, int rounds) {
  Bench b(n, false);
  b.allocate_all();
  Best refresh;
  for (int r = 0; r < rounds; ++r) {
    b.timed = 0;
    size_t requests = b.round(stun::Method::Refresh, true, 0, {});
    refresh.take(b.timed, n, requests);
  }
  refresh.print("refresh",
                "authenticated Refresh -> UpdateAllocation + success with MI: parse, HMAC-SHA1 verify, response "
                "with HMAC-SHA1, 2 CRC-32; key cached; ops_per_sec is the best round, mean_ops_per_sec also pays "
                "the 438 round trip of every 10th request of a client (nonce used up)");
  Best bind;
  for (int r = 0; r < rounds; ++r) {
    auto attrs = [r](stun::Builder& bb, size_t i) {
      SocketAddress peer{IpAddress::v4(0xC0000200u + static_cast<uint32_t>(r)), static_cast<uint16_t>(1000 + i % 60000)};
      bb.add_channel_number(ChannelNumber{static_cast<uint16_t>(0x4000 + r)}).add_xor_peer_address(peer);
    };
    b.timed = 0;
    size_t requests = b.round(stun::Method::ChannelBind, true, 0, attrs);
    bind.take(b.timed, n, requests);
  }
  bind.print("channel_bind",
             "authenticated ChannelBind of a new channel -> InstallChannel + success with MI; peer policy; key "
             "cached; best round and mean as for refresh");
}

void memory(size_t n) {
  malloc_trim(0);
  Bench b(n, false);
  size_t before = mallinfo2().uordblks;
  b.allocate_all();
  // Let the 40 s retransmission cache empty: what stays is the allocation.
  b.now = b.now + std::chrono::seconds(41);
  b.server.handle_timeout(b.now);
  size_t after = mallinfo2().uordblks;
  std::printf("{\"bench\": \"memory\", \"allocations\": %zu, \"bytes_per_allocation\": %.0f, \"includes\": "
              "\"heap growth (mallinfo2) per allocation: allocation tables, timer entry, per-user and per-IP counters, "
              "cached key of its user; after the response cache expired; fixed-size stores (nonce ring, port table) "
              "excluded\"}\n",
              n, static_cast<double>(after - before) / static_cast<double>(n));
}

}  // namespace
}  // namespace relay::core

int main(int argc, char** argv) {
  size_t n = 16000;  // below the 16384 ports of the default range
  int rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--allocations") == 0) n = std::strtoul(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
  }
  relay::core::full_allocation(n, rounds, true);
  relay::core::full_allocation(n, rounds, false);
  relay::core::refresh_and_bind(n, rounds * 2);
  relay::core::memory(n);
}
