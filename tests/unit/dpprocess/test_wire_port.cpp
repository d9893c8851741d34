// eal.interface's plan: which drivers are tried in which order, with which
// devargs, and when net_af_xdp cannot have a queue per worker.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "dataplane/process/wire_port.hpp"

namespace relay::dpprocess {
namespace {

TEST(WirePort, AnExplicitDriverIsTheOnlyOneTried) {
  EXPECT_EQ(driver_order(InterfaceDriver::AfPacket), std::vector{InterfaceDriver::AfPacket});
  EXPECT_EQ(driver_order(InterfaceDriver::AfXdp), std::vector{InterfaceDriver::AfXdp});
}

TEST(WirePort, AutoTriesBothDriversOnce) {
  const auto order = driver_order(InterfaceDriver::Auto);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_NE(order[0], order[1]);
  EXPECT_NE(order[0], InterfaceDriver::Auto);
  EXPECT_NE(order[1], InterfaceDriver::Auto);
}

TEST(WirePort, EachDriverGetsOneQueuePairPerWorkerUnderItsOwnName) {
  const auto xdp = wire_device(InterfaceDriver::AfXdp, "turn-demo0", 2);
  EXPECT_EQ(xdp.name, "net_af_xdp_wire");
  EXPECT_EQ(xdp.args, "iface=turn-demo0,start_queue=0,queue_count=2");
  const auto packet = wire_device(InterfaceDriver::AfPacket, "turn-demo0", 3);
  EXPECT_EQ(packet.name, "net_af_packet_wire");
  EXPECT_EQ(packet.args, "iface=turn-demo0,qpairs=3");
}

TEST(WirePort, AVethHasOneChannelSoOnlyOneWorkerFitsAfXdp) {
  EXPECT_EQ(channel_shortfall("veth1", 0, 1), std::nullopt);
  EXPECT_EQ(channel_shortfall("veth1", 1, 2),
            "veth1 has 1 combined channel (ethtool -l veth1; a veth counts as 1), but 2 workers need one each: "
            "ethtool -L veth1 combined 2, or fewer dataplane.worker_lcores");
  EXPECT_EQ(channel_shortfall("eth9", 4, 4), std::nullopt);
}

TEST(WirePort, AnXdpProgramAlreadyOnTheInterfaceKeepsNetAfXdpAwayAndSaysHowToRemoveALeftover) {
  EXPECT_EQ(xdp_program_in_the_way("turn-demo0", std::nullopt), std::nullopt);
  EXPECT_EQ(xdp_program_in_the_way("turn-demo0", XdpProgram{.id = 42, .name = "pass"}),
            "turn-demo0 already has an XDP program (id 42 \"pass\"), which net_af_xdp would detach: left alone; "
            "if it is a leftover of a stopped relay, remove it with ip link set dev turn-demo0 xdp off");
  EXPECT_EQ(xdp_program_in_the_way("eth9", XdpProgram{.id = 7, .name = ""}),
            "eth9 already has an XDP program (id 7), which net_af_xdp would detach: left alone; "
            "if it is a leftover of a stopped relay, remove it with ip link set dev eth9 xdp off");
}

TEST(WirePort, NoXdpProgramIsReportedForAnInterfaceThatDoesNotExist) {
  EXPECT_EQ(attached_xdp_program("no-such-if0"), std::nullopt);
}

// Only the id this file prefix recorded is ever detached; the detaching
// itself is dpprocess_e2e's (a real interface, a SIGKILLed data plane).
TEST(WirePort, OnlyTheRecordedProgramCountsAsOurOwnLeftover) {
  const std::string record = ::testing::TempDir() + "xdp_program.test0";
  std::remove(record.c_str());
  EXPECT_FALSE(detach_own_leftover("no-such-if0", record, XdpProgram{.id = 6, .name = "xsk_def_prog"}))
      << "nothing recorded";
  record_xdp_program(record, std::nullopt);
  EXPECT_FALSE(detach_own_leftover("no-such-if0", record, XdpProgram{.id = 6, .name = "xsk_def_prog"}));
  record_xdp_program(record, XdpProgram{.id = 5, .name = "xsk_def_prog"});
  EXPECT_FALSE(detach_own_leftover("no-such-if0", record, XdpProgram{.id = 6, .name = "xsk_def_prog"}))
      << "another program than the one recorded";
  std::remove(record.c_str());
}

TEST(WirePort, TheLogLineSaysWhichDriverAndWhy) {
  EXPECT_EQ(selection_reason(InterfaceDriver::AfPacket, InterfaceDriver::AfPacket, {}),
            "net_af_packet: eal.interface_driver names it");
  EXPECT_EQ(selection_reason(InterfaceDriver::Auto, InterfaceDriver::AfPacket, {"net_af_xdp failed: probe: x"}),
            "net_af_xdp failed: probe: x; using net_af_packet");
  const auto first = selection_reason(InterfaceDriver::Auto, driver_order(InterfaceDriver::Auto)[0], {});
  EXPECT_NE(first.find("measured faster on veth ("), std::string::npos) << first;
  EXPECT_NE(first.find(" cycles/packet"), std::string::npos) << first;
}

}  // namespace
}  // namespace relay::dpprocess
