// Helpers for protocol-trace tests of the Server: a client that builds
// requests with the codec's Builder, a fixture that feeds them at explicit
// times and hands back exactly the commands that came out, and checks that
// parse responses with the codec's parser.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/core/server.hpp"

namespace relay::core::testing {

inline Instant at(int64_t seconds) { return Instant{std::chrono::seconds(seconds)}; }
inline Instant at_ms(int64_t ms) { return Instant{std::chrono::milliseconds(ms)}; }

SocketAddress addr(const char* text);  // "198.51.100.10:40000", aborts on typos

constexpr const char* kSecret = "1cab293a-4032-46f4-862a-40e5d174b0d2";
// The fixture's wall clock: unix time at Instant 0.
constexpr int64_t kUnixAtBoot = 1685900000;

struct Credentials {
  std::string username;
  std::string password;
  std::string realm = "firezone";
  std::string nonce;  // learnt from a 401/438
  [[nodiscard]] stun::LongTermKey key() const { return stun::long_term_key(username, realm, password); }
};
// Credentials as the portal mints them for this expiry and salt.
Credentials portal_credentials(uint64_t expiry, std::string_view salt, std::string_view secret = kSecret);

using Attrs = std::function<void(stun::Builder&)>;
stun::TransactionId txid(uint8_t n);
// A request with `attrs`, then (with creds) USERNAME, REALM, NONCE,
// MESSAGE-INTEGRITY; always FINGERPRINT.
std::vector<uint8_t> request(stun::Method method, const stun::TransactionId& id, const Attrs& attrs,
                             const Credentials* creds);
std::vector<uint8_t> indication(stun::Method method, const Attrs& attrs);

// A response kept together with the bytes its Message view borrows.
class Response {
 public:
  explicit Response(std::vector<uint8_t> bytes);
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;
  [[nodiscard]] const stun::Message& msg() const { return *msg_; }
  [[nodiscard]] bool is_success() const { return msg_->message_class() == stun::MessageClass::SuccessResponse; }
  [[nodiscard]] uint16_t error_code() const;  // 0 for success
  [[nodiscard]] std::string nonce() const;
  [[nodiscard]] std::chrono::seconds lifetime() const;
  [[nodiscard]] std::vector<SocketAddress> relayed() const;
  [[nodiscard]] std::vector<uint8_t> bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  std::unique_ptr<stun::Message> msg_;
};

// The SendMessage `c` must be; parsed.
std::unique_ptr<Response> response_of(const Command& c);

struct ServerTest : ::testing::Test {
  ServerConfig config = default_config();
  std::optional<Server> server_;
  ClientSocket client{addr("198.51.100.10:40000")};
  ListenSocket listen{addr("203.0.113.1:3478")};
  Credentials creds = portal_credentials(kUnixAtBoot + 24 * 3600, "fixture_salt");
  uint8_t next_txid = 1;

  static ServerConfig default_config();
  // Built on first use, so a test may adjust `config` first.
  Server& server();
  std::vector<Command> drain();
  std::vector<Command> feed(const std::vector<uint8_t>& datagram, Instant now);
  std::vector<Command> feed_from(ClientSocket from, const std::vector<uint8_t>& datagram, Instant now);
  std::vector<Command> tick(Instant now);

  // One request with fresh transaction id and the fixture's credentials,
  // learning a nonce from a 401 first if it has none yet.
  std::vector<Command> call(stun::Method method, const Attrs& attrs, Instant now);
  std::vector<Command> call_from(ClientSocket from, Credentials& who, stun::Method method, const Attrs& attrs,
                                 Instant now);
  // The commands of a successful Allocate (CreateAllocation, SendMessage).
  std::vector<Command> allocate(Instant now, const Attrs& extra = {});
  std::vector<Command> bind(uint16_t channel, const char* peer, Instant now);

  [[nodiscard]] ClientFiveTuple five_tuple() const { return {client, listen}; }
};

// A fixture whose client already holds a dual-family allocation (IPv4 and
// IPv6 relay addresses), allocated at(0): `alloc` is its CreateAllocation.
struct AllocatedTest : ServerTest {
  CreateAllocation alloc;
  void SetUp() override;
};

Attrs udp();  // REQUESTED-TRANSPORT UDP
// Both parsers of the same response agree it is an error with `code`.
void expect_error(const Command& c, uint16_t code);
void expect_success(const Command& c);
// The same, and its MESSAGE-INTEGRITY verifies with `by`'s key (what
// connlib checks before it looks at any other attribute).
void expect_signed_error(const Command& c, uint16_t code, const Credentials& by);
void expect_signed_success(const Command& c, const Credentials& by);

}  // namespace relay::core::testing
