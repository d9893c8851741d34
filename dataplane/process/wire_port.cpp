#include "dataplane/process/wire_port.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace relay::dpprocess {

namespace {

// Busy cycles per relayed packet of the one worker at 200 k packets/s
// offered, median of 3 interleaved runs of scripts/bench-vs-coturn --relays
// relay --loads 50000 200000 1000000 --clients 8 --relay-driver <driver>
// (turn-dpdk-gen on the veth's far end, dataplane.tx_hold_us 4) on this
// project's 2-vCPU KVM guest, otherwise idle (README "Benchmarks" has every
// load); auto puts the lower first. net_af_xdp also lost less there (0.15-
// 0.58 % against 0.6-4 %).
struct Measured {
  InterfaceDriver driver;
  unsigned cycles_per_packet;
};
constexpr Measured kFaster{InterfaceDriver::AfXdp, 4335};
constexpr Measured kSlower{InterfaceDriver::AfPacket, 4863};
constexpr std::string_view kMeasuredAt = "200 kpps";
static_assert(kFaster.cycles_per_packet < kSlower.cycles_per_packet, "auto tries the faster driver first");

}  // namespace

std::vector<InterfaceDriver> driver_order(InterfaceDriver configured) {
  if (configured == InterfaceDriver::Auto) return {kFaster.driver, kSlower.driver};
  return {configured};
}

std::string_view driver_name(InterfaceDriver driver) {
  return driver == InterfaceDriver::AfXdp ? "net_af_xdp" : "net_af_packet";
}

WireDevice wire_device(InterfaceDriver driver, std::string_view iface, uint16_t queues) {
  // Names of their own, so a driver that failed half-way (still on the
  // vdev bus) never blocks the other.
  const std::string n = std::to_string(queues);
  if (driver == InterfaceDriver::AfXdp)
    return {"net_af_xdp_wire", "iface=" + std::string(iface) + ",start_queue=0,queue_count=" + n};
  return {"net_af_packet_wire", "iface=" + std::string(iface) + ",qpairs=" + n};
}

std::optional<std::string> channel_shortfall(std::string_view iface, uint32_t combined_channels, uint16_t queues) {
  const uint32_t channels = combined_channels == 0 ? 1 : combined_channels;
  if (queues <= channels) return std::nullopt;
  return std::string(iface) + " has " + std::to_string(channels) + " combined channel" +
         (channels == 1 ? "" : "s") + " (ethtool -l " + std::string(iface) + "; a veth counts as 1), but " +
         std::to_string(queues) + " workers need one each: ethtool -L " + std::string(iface) + " combined " +
         std::to_string(queues) + ", or fewer dataplane.worker_lcores";
}

std::optional<XdpProgram> attached_xdp_program(const std::string& iface) {
  const unsigned index = if_nametoindex(iface.c_str());
  uint32_t id = 0;
  if (index == 0 || bpf_xdp_query_id(static_cast<int>(index), 0, &id) != 0 || id == 0) return std::nullopt;
  XdpProgram program{.id = id, .name = {}};
  if (const int fd = bpf_prog_get_fd_by_id(id); fd >= 0) {
    bpf_prog_info info{};
    uint32_t length = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0) program.name = info.name;
    ::close(fd);
  }
  return program;
}

void record_xdp_program(const std::string& record, const std::optional<XdpProgram>& attached) {
  if (attached) std::ofstream(record, std::ios::trunc) << attached->id << "\n";
}

bool detach_own_leftover(const std::string& iface, const std::string& record, const XdpProgram& attached) {
  uint32_t recorded = 0;
  if (!(std::ifstream(record) >> recorded) || recorded != attached.id) return false;
  const int fd = bpf_prog_get_fd_by_id(attached.id);
  if (fd < 0) return false;
  // Only if that program is still the one attached.
  bpf_xdp_attach_opts opts{};
  opts.sz = sizeof opts;
  opts.old_prog_fd = fd;
  const int rc = bpf_xdp_detach(static_cast<int>(if_nametoindex(iface.c_str())), XDP_FLAGS_REPLACE, &opts);
  ::close(fd);
  return rc == 0;
}

std::optional<std::string> xdp_program_in_the_way(std::string_view iface, const std::optional<XdpProgram>& attached) {
  if (!attached) return std::nullopt;
  const std::string name = attached->name.empty() ? "" : " \"" + attached->name + "\"";
  return std::string(iface) + " already has an XDP program (id " + std::to_string(attached->id) + name +
         "), which net_af_xdp would detach: left alone; if it is a leftover of a stopped relay, remove it with "
         "ip link set dev " + std::string(iface) + " xdp off";
}

uint32_t combined_channels(const std::string& iface) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  ethtool_channels channels{};
  channels.cmd = ETHTOOL_GCHANNELS;
  ifreq request{};
  std::strncpy(request.ifr_name, iface.c_str(), IFNAMSIZ - 1);
  request.ifr_data = reinterpret_cast<char*>(&channels);
  const int rc = ::ioctl(fd, SIOCETHTOOL, &request);
  ::close(fd);
  // As net_af_xdp reads it: no ethtool, or no combined maximum, is one.
  return rc == 0 && channels.max_combined != 0 ? channels.combined_count : 1;
}

std::string selection_reason(InterfaceDriver configured, InterfaceDriver chosen,
                             const std::vector<std::string>& failures) {
  const std::string name(driver_name(chosen));
  if (configured != InterfaceDriver::Auto) return name + ": eal.interface_driver names it";
  if (!failures.empty()) return failures.front() + "; using " + name;
  return name + ": measured faster on veth (" + std::to_string(kFaster.cycles_per_packet) + " vs " +
         std::to_string(kSlower.cycles_per_packet) + " cycles/packet for " + std::string(driver_name(kSlower.driver)) +
         " at " + std::string(kMeasuredAt) + ")";
}

}  // namespace relay::dpprocess
