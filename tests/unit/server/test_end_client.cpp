// A stream client's connection closed (Server::end_client): its allocation
// ends at once, as the operator's end_allocation would end it, and only the
// allocation of that exact 5-tuple (transport included) ends.
#include "tests/unit/server/server_harness.hpp"

namespace relay::core::testing {
namespace {

struct EndClientTest : AllocatedTest {
  template <class T>
  static size_t count(const std::vector<Command>& out) {
    return static_cast<size_t>(
        std::count_if(out.begin(), out.end(), [](const Command& c) { return std::holds_alternative<T>(c); }));
  }
};

TEST_F(EndClientTest, EndingTheClientFreesItsAllocationWithItsChannelsAtOnce) {
  ASSERT_EQ(bind(0x4000, "192.0.2.20:5000", at(1)).size(), 3u);
  EXPECT_TRUE(server().end_client(five_tuple(), at(2)));
  const auto out = drain();
  EXPECT_EQ(count<RemoveChannel>(out), 1u);
  ASSERT_EQ(count<FreeAllocation>(out), 1u);
  EXPECT_EQ(std::get<FreeAllocation>(out.back()).port, alloc.port);
  EXPECT_EQ(server().allocation_count(), 0u);
  EXPECT_EQ(server().stats().allocations_ended, 0u);  // that counts the operator's
}

TEST_F(EndClientTest, TheSameAddressOverAnotherTransportIsAnotherClient) {
  ClientFiveTuple tcp = five_tuple();
  tcp.transport = Transport::Tcp;
  EXPECT_FALSE(server().end_client(tcp, at(2)));
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(server().allocation_count(), 1u);
}

TEST_F(EndClientTest, AClientWithoutAnAllocationEndsNothing) {
  ClientFiveTuple other = five_tuple();
  other.client = ClientSocket{addr("198.51.100.11:40000")};
  EXPECT_FALSE(server().end_client(other, at(2)));
  EXPECT_TRUE(drain().empty());
}

TEST_F(EndClientTest, TheClientsNextRequestFindsNoAllocation) {
  ASSERT_TRUE(server().end_client(five_tuple(), at(2)));
  drain();
  const auto out = call(stun::Method::Refresh, [](stun::Builder& b) { b.add_lifetime(std::chrono::seconds(600)); },
                        at(3));
  ASSERT_EQ(out.size(), 1u);
  expect_error(out[0], 437);
}

}  // namespace
}  // namespace relay::core::testing
