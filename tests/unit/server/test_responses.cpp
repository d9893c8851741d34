// How a response is written (core/responder.hpp): whole up to the IPv6
// minimum MTU, and dropped, counted, beyond it.
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

using stun::Method;

TEST_F(ServerTest, ALargeResponseIsSentWholeAndExactlyItsSize) {
  config.software = std::string(400, 's');
  const auto out = feed(request(Method::Binding, txid(1), {}, nullptr), at(0));
  ASSERT_EQ(out.size(), 1u);
  const auto& sent = std::get<SendMessage>(out[0]);
  EXPECT_GT(sent.bytes.size(), 400u);
  EXPECT_LE(sent.bytes.size(), kMaxResponseSize);
  EXPECT_EQ(sent.bytes.size(), sent.bytes.capacity());
  expect_success(out[0]);
  const Response response(sent.bytes);
  EXPECT_EQ(response.msg().software().value(), std::optional<std::string_view>(config.software));
}

TEST_F(ServerTest, AResponseLargerThanTheMaximumIsDroppedAndCounted) {
  config.realm = std::string(700, 'r');  // with a 700-byte SOFTWARE, no 401 fits 1280 bytes
  config.software = std::string(700, 's');
  EXPECT_TRUE(feed(request(Method::Allocate, txid(1), udp(), nullptr), at(0)).empty());
  EXPECT_EQ(server().stats().drop(DropReason::ResponseTooLarge), 1u);
}

}  // namespace
}  // namespace relay::core::testing
