// The kernel side of the stream exception path without a kernel: which
// sysctls and which iproute2 commands relay-dataplane runs for
// stream.enabled, in which order, and the preflight lines of a host that
// cannot have the TAP. run_command is checked against true/false/a missing
// binary only: nothing here touches an interface.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "dataplane/process/interface.hpp"
#include "dataplane/process/preflight.hpp"
#include "dataplane/process/stream_tap.hpp"

namespace relay::dpprocess {
namespace {

RelayConfig stream_config(bool v4, bool v6) {
  RelayConfig c;
  c.eal.file_prefix = "relay-test";
  c.stream.enabled = true;
  c.stream.interface = "turn-s0";
  c.stream.routing_table = 200;
  RelayAddress a;
  a.address = *IpAddress::parse("203.0.113.1");
  a.prefix_len = 24;
  if (v4) c.relay.ipv4 = a;
  a.address = *IpAddress::parse("2001:db8:1::1");
  a.prefix_len = 64;
  if (v6) c.relay.ipv6 = a;
  return c;
}

TEST(StreamKernelPlan, BothFamiliesGetAHostAddressAPolicyRuleAndADefaultRouteThroughTheTap) {
  const StreamKernelPlan plan = plan_stream_kernel(stream_config(true, true), 1500);
  const std::vector<Argv> setup = {
      {"ip", "link", "set", "dev", "turn-s0", "mtu", "1500", "arp", "off", "up"},
      {"ip", "-4", "addr", "add", "203.0.113.1/32", "dev", "turn-s0"},
      {"ip", "-4", "rule", "add", "from", "203.0.113.1", "lookup", "200", "priority", "1000"},
      {"ip", "-4", "route", "replace", "default", "dev", "turn-s0", "table", "200"},
      {"ip", "-6", "addr", "add", "2001:db8:1::1/128", "dev", "turn-s0", "nodad"},
      {"ip", "-6", "rule", "add", "from", "2001:db8:1::1", "lookup", "200", "priority", "1000"},
      {"ip", "-6", "route", "replace", "default", "dev", "turn-s0", "table", "200"},
  };
  EXPECT_EQ(plan.setup, setup);
  const std::vector<Argv> rules_gone = {
      {"ip", "-4", "rule", "del", "from", "203.0.113.1", "lookup", "200", "priority", "1000"},
      {"ip", "-6", "rule", "del", "from", "2001:db8:1::1", "lookup", "200", "priority", "1000"},
  };
  EXPECT_EQ(plan.stale, rules_gone) << "a crashed predecessor's identical rules go first";
  EXPECT_EQ(plan.teardown, rules_gone);
}

TEST(StreamKernelPlan, TheKernelMakesNoIpv6ChatterAndNoReversePathCheckOnTheTap) {
  const StreamKernelPlan plan = plan_stream_kernel(stream_config(true, true), 1500);
  const std::vector<std::pair<std::string, std::string>> sysctls = {
      {"/proc/sys/net/ipv6/conf/turn-s0/addr_gen_mode", "1"},
      {"/proc/sys/net/ipv6/conf/turn-s0/accept_ra", "0"},
      {"/proc/sys/net/ipv6/conf/turn-s0/router_solicitations", "0"},
      {"/proc/sys/net/ipv4/conf/turn-s0/rp_filter", "0"},
  };
  EXPECT_EQ(plan.sysctls, sysctls);
}

TEST(StreamKernelPlan, AnIpv4OnlyRelayTurnsIpv6OffOnTheTapAndRoutesIpv4Only) {
  const StreamKernelPlan plan = plan_stream_kernel(stream_config(true, false), 1400);
  ASSERT_EQ(plan.setup.size(), 4u);
  EXPECT_EQ(plan.setup[0], (Argv{"ip", "link", "set", "dev", "turn-s0", "mtu", "1400", "arp", "off", "up"}));
  for (const auto& argv : plan.setup) EXPECT_NE(argv[1], "-6") << command_text(argv);
  EXPECT_EQ(plan.sysctls.front(), (std::pair<std::string, std::string>{
                                      "/proc/sys/net/ipv6/conf/turn-s0/disable_ipv6", "1"}));
}

TEST(RunCommand, SuccessFailureAndAMissingProgramAreToldApart) {
  EXPECT_TRUE(run_command({"true"}).ok());
  const auto failed = run_command({"sh", "-c", "echo no such rule >&2; exit 2"});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error(), "sh -c echo no such rule >&2; exit 2: exit status 2: no such rule");
  const auto missing = run_command({"relay-no-such-program-xyz"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error(), "relay-no-such-program-xyz: exit status 127 (not found)");
}

HostFacts host_with(std::set<std::string> interfaces, bool tun) {
  HostFacts h;
  h.interface_exists = [interfaces](std::string_view name) { return interfaces.contains(std::string(name)); };
  h.tun_device = tun;
  return h;
}

TEST(StreamPreflight, AnInterfaceOfTheTapsNameThatExistsAlreadyIsRefused) {
  RelayConfig c = stream_config(true, false);
  c.eal.huge_pages = false;
  EXPECT_EQ(refusal(c, host_with({"turn-s0"}, true)),
            "stream.interface: turn-s0 already exists; the data plane creates this TAP interface itself (remove "
            "it, e.g. ip link del turn-s0, or choose another name)");
  EXPECT_EQ(refusal(c, host_with({}, true)), std::nullopt);
  c.stream.enabled = false;
  EXPECT_EQ(refusal(c, host_with({"turn-s0"}, false)), std::nullopt) << "streams off: the name is nobody's business";
}

TEST(StreamPreflight, AHostWithoutTheTunDeviceIsRefused) {
  RelayConfig c = stream_config(true, false);
  c.eal.huge_pages = false;
  EXPECT_EQ(refusal(c, host_with({}, false)),
            "stream.interface: /dev/net/tun is missing, so the TAP interface turn-s0 cannot be created (load the "
            "tun module, or set stream.enabled = false)");
}

TEST(StreamInterfaceConfig, TheWorkersSteerTheListenPortAndTheTlsPortsOnlyWhenStreamsAreOn) {
  RelayConfig c = stream_config(true, false);
  c.relay.listen_port = 3478;
  c.relay.tls_port = 5349;
  c.relay.alternate_tls_port = 443;
  c.relay.tls_certificate = "cert.pem";
  c.relay.tls_private_key = "key.pem";
  EXPECT_EQ(interface_config(c, {}).stream_ports, (std::array<uint16_t, 3>{3478, 5349, 443}));
  c.relay.tls_certificate.reset();
  EXPECT_EQ(interface_config(c, {}).stream_ports, (std::array<uint16_t, 3>{3478, 0, 0}));
  c.stream.enabled = false;
  EXPECT_EQ(interface_config(c, {}).stream_ports, (std::array<uint16_t, 3>{}));
}

}  // namespace
}  // namespace relay::dpprocess
