#include "tests/unit/server/server_harness.hpp"

#include <cstdlib>

namespace relay::core::testing {

SocketAddress addr(const char* text) {
  auto a = SocketAddress::parse(text);
  if (!a) std::abort();
  return *a;
}

Credentials portal_credentials(uint64_t expiry, std::string_view salt, std::string_view secret) {
  Credentials c;
  c.username = std::to_string(expiry) + ":" + std::string(salt);
  c.password = stun::mint_password(secret, expiry, salt);
  return c;
}

stun::TransactionId txid(uint8_t n) {
  stun::TransactionId id{};
  id.fill(0xA5);
  id[11] = n;
  return id;
}

std::vector<uint8_t> request(stun::Method method, const stun::TransactionId& id, const Attrs& attrs,
                             const Credentials* creds) {
  std::vector<uint8_t> buf(1500);
  stun::Builder b(buf, method, stun::MessageClass::Request, id);
  if (attrs) attrs(b);
  if (creds) {
    b.add_username(creds->username).add_realm(creds->realm);
    if (!creds->nonce.empty()) b.add_nonce(creds->nonce);
    auto key = creds->key();
    b.add_message_integrity(key);
  }
  b.add_fingerprint();
  auto n = b.finish();
  EXPECT_TRUE(n.ok());
  buf.resize(n.ok() ? *n : 0);
  return buf;
}

std::vector<uint8_t> indication(stun::Method method, const Attrs& attrs) {
  std::vector<uint8_t> buf(1500);
  stun::Builder b(buf, method, stun::MessageClass::Indication, txid(0xEE));
  if (attrs) attrs(b);
  auto n = b.finish();
  buf.resize(n.ok() ? *n : 0);
  return buf;
}

Response::Response(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {
  auto parsed = stun::parse(bytes_);
  if (!parsed) std::abort();  // the server must only send what its own codec parses
  msg_ = std::make_unique<stun::Message>(*parsed);
}

uint16_t Response::error_code() const {
  auto e = msg_->error_code();
  return e.ok() && *e ? (*e)->code : 0;
}

std::string Response::nonce() const {
  auto n = msg_->nonce();
  return n.ok() && *n ? std::string(**n) : std::string();
}

std::chrono::seconds Response::lifetime() const {
  auto l = msg_->lifetime();
  return l.ok() && *l ? **l : std::chrono::seconds(-1);
}

std::vector<SocketAddress> Response::relayed() const {
  auto list = msg_->xor_relayed_addresses();
  if (!list) return {};
  return {list->begin(), list->end()};
}

std::unique_ptr<Response> response_of(const Command& c) {
  const auto* send = std::get_if<SendMessage>(&c);
  if (!send) {
    ADD_FAILURE() << "expected SendMessage, got command #" << c.index();
    return nullptr;
  }
  return std::make_unique<Response>(send->bytes);
}

void expect_error(const Command& c, uint16_t code) {
  auto r = response_of(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->msg().message_class(), stun::MessageClass::ErrorResponse);
  EXPECT_EQ(r->error_code(), code);
}

void expect_success(const Command& c) {
  auto r = response_of(c);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->is_success()) << "error " << r->error_code();
}

void expect_signed_error(const Command& c, uint16_t code, const Credentials& by) {
  expect_error(c, code);
  auto r = response_of(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->msg().verify_message_integrity(by.key()), stun::Integrity::Valid) << "signed for " << by.username;
}

void expect_signed_success(const Command& c, const Credentials& by) {
  expect_success(c);
  auto r = response_of(c);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->msg().verify_message_integrity(by.key()), stun::Integrity::Valid) << "signed for " << by.username;
}

Attrs udp() {
  return [](stun::Builder& b) { b.add_requested_transport(stun::kTransportUdp); };
}

ServerConfig ServerTest::default_config() {
  ServerConfig c;
  c.relay_v4 = IpAddress::parse("203.0.113.1");
  c.relay_v6 = IpAddress::parse("2001:db8::1");
  c.auth_secrets = {kSecret};
  c.has_portal = false;
  c.nonce_capacity = 64;
  return c;
}

void AllocatedTest::SetUp() {
  auto out = allocate(at(0), [](stun::Builder& b) { b.add_additional_address_family(Family::V6); });
  ASSERT_EQ(out.size(), 2u);
  alloc = std::get<CreateAllocation>(out[0]);
}

Server& ServerTest::server() {
  if (!server_) {
    server_.emplace(config, 42);
    server_->set_wall_clock(at(0), std::chrono::seconds(kUnixAtBoot));
  }
  return *server_;
}

std::vector<Command> ServerTest::drain() {
  std::vector<Command> out;
  while (auto c = server().next_command()) out.push_back(std::move(*c));
  return out;
}

std::vector<Command> ServerTest::feed(const std::vector<uint8_t>& datagram, Instant now) {
  return feed_from(client, datagram, now);
}

std::vector<Command> ServerTest::feed_from(ClientSocket from, const std::vector<uint8_t>& datagram, Instant now) {
  EXPECT_TRUE(drain().empty()) << "commands left over from an earlier step";
  server().handle_client_input(datagram, from, listen, now);
  return drain();
}

std::vector<Command> ServerTest::tick(Instant now) {
  EXPECT_TRUE(drain().empty()) << "commands left over from an earlier step";
  server().handle_timeout(now);
  return drain();
}

std::vector<Command> ServerTest::call(stun::Method method, const Attrs& attrs, Instant now) {
  return call_from(client, creds, method, attrs, now);
}

std::vector<Command> ServerTest::call_from(ClientSocket from, Credentials& who, stun::Method method,
                                           const Attrs& attrs, Instant now) {
  if (who.nonce.empty()) {
    auto challenge = feed_from(from, request(method, txid(next_txid++), attrs, nullptr), now);
    EXPECT_EQ(challenge.size(), 1u);
    if (challenge.size() != 1) return challenge;
    auto r = response_of(challenge[0]);
    EXPECT_EQ(r->error_code(), 401);
    who.nonce = r->nonce();
  }
  auto out = feed_from(from, request(method, txid(next_txid++), attrs, &who), now);
  // A nonce is good for 10 requests: retry once with the fresh one.
  if (out.size() == 1) {
    if (auto r = response_of(out[0]); r && r->error_code() == 438) {
      who.nonce = r->nonce();
      out = feed_from(from, request(method, txid(next_txid++), attrs, &who), now);
    }
  }
  return out;
}

std::vector<Command> ServerTest::allocate(Instant now, const Attrs& extra) {
  return call(stun::Method::Allocate, [&](stun::Builder& b) {
    b.add_requested_transport(stun::kTransportUdp);
    if (extra) extra(b);
  }, now);
}

std::vector<Command> ServerTest::bind(uint16_t channel, const char* peer, Instant now) {
  SocketAddress p = addr(peer);
  return call(stun::Method::ChannelBind, [=](stun::Builder& b) {
    b.add_channel_number(ChannelNumber{channel}).add_xor_peer_address(p);
  }, now);
}

}  // namespace relay::core::testing
