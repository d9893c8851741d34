// eal.interface: the wire port attached after EAL init by the driver the
// configuration names, or with `auto` the one measured faster on a veth
// first and the other when it cannot probe, configure or start. The plan
// (order, devargs, channel check) is pure and unit-tested; Dataplane
// carries it out with rte_eal_hotplug_add / _remove.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace relay::dpprocess {

// The drivers to try, in order: the configured one alone, or for auto
// the faster one first (ARCHITECTURE.md "The wire port's driver").
std::vector<InterfaceDriver> driver_order(InterfaceDriver configured);

struct WireDevice {
  std::string name;  // the vdev's DPDK name, e.g. "net_af_xdp_wire"
  std::string args;  // its devargs: the interface and one queue pair per worker
};
WireDevice wire_device(InterfaceDriver driver, std::string_view iface, uint16_t queues);

std::string_view driver_name(InterfaceDriver driver);  // "net_af_xdp", "net_af_packet"

// net_af_xdp binds one XSK per channel of the interface (ethtool -l
// "combined"; an interface without any, such as a veth, counts as 1, as
// the PMD counts it): why `queues` do not fit, or nullopt.
std::optional<std::string> channel_shortfall(std::string_view iface, uint32_t combined_channels, uint16_t queues);
// The interface's combined channels as net_af_xdp reads them (SIOCETHTOOL).
uint32_t combined_channels(const std::string& iface);

// An XDP program attached to the interface before us: another tool's (a
// filter, a load balancer) or one a killed net_af_xdp user left behind.
struct XdpProgram {
  uint32_t id = 0;
  std::string name;
};
// What the kernel has attached to the interface, or nullopt (none, or the
// interface cannot be asked).
std::optional<XdpProgram> attached_xdp_program(const std::string& iface);
// A data plane killed without cleanup leaves net_af_xdp's program
// attached. Each start on net_af_xdp records the program's id in `record`
// (a file in the EAL runtime directory, which outlives the process); the
// next start on the same file prefix detaches a program with that id, and
// only that one, before looking: true when it did.
void record_xdp_program(const std::string& record, const std::optional<XdpProgram>& attached);
bool detach_own_leftover(const std::string& iface, const std::string& record, const XdpProgram& attached);
// net_af_xdp cannot attach beside such a program, and DPDK 22.11 then
// detaches whatever program the interface holds as it closes the failed
// port: the operator's program would be gone. So net_af_xdp is not tried
// there: why, or nullopt when nothing is attached.
std::optional<std::string> xdp_program_in_the_way(std::string_view iface, const std::optional<XdpProgram>& attached);

// The one line that says which driver took the port and why.
std::string selection_reason(InterfaceDriver configured, InterfaceDriver chosen,
                             const std::vector<std::string>& failures);

}  // namespace relay::dpprocess
