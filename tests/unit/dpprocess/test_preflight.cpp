// Refusing to start with one line: what relay-dataplane reads from the
// host before rte_eal_init, and which line each problem produces.
// These tests never start the EAL, so no device can be probed (nothing to
// pass --no-pci to): the vdev strings below are only parsed.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "dataplane/process/preflight.hpp"

namespace relay::dpprocess {
namespace {

constexpr std::string_view kMounts =
    "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
    "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n"
    "tmpfs /run tmpfs rw,nosuid,nodev,size=1632884k,mode=755 0 0\n"
    "none /mnt/huge1G hugetlbfs rw,relatime,pagesize=1024M 0 0\n";
constexpr std::string_view kMountsWithoutHugetlbfs = "sysfs /sys sysfs rw 0 0\nproc /proc proc rw 0 0\n";

std::string meminfo(unsigned free_pages) {
  return "MemTotal:       16318216 kB\nHugePages_Total:     512\nHugePages_Free:      " +
         std::to_string(free_pages) + "\nHugePages_Rsvd:        0\nHugepagesize:       2048 kB\n";
}

RelayConfig config_with(std::vector<std::string> vdevs) {
  RelayConfig c;
  c.eal.file_prefix = "relay-test";
  c.eal.vdevs = std::move(vdevs);
  return c;
}

HostFacts healthy_host(std::set<std::string> interfaces = {"veth-relay0"}) {
  HostFacts h;
  h.proc_mounts = std::string(kMounts);
  h.meminfo = meminfo(480);
  h.interface_exists = [interfaces](std::string_view name) { return interfaces.contains(std::string(name)); };
  h.runtime_config = "/var/run/dpdk/relay-test/config";
  return h;
}

TEST(HugetlbfsMounts, EveryHugetlbfsInProcMountsIsFound) {
  EXPECT_EQ(hugetlbfs_mounts(kMounts), (std::vector<std::string>{"/dev/hugepages", "/mnt/huge1G"}));
}

TEST(HugetlbfsMounts, NoHugetlbfsLineMeansNoMount) {
  EXPECT_TRUE(hugetlbfs_mounts(kMountsWithoutHugetlbfs).empty());
  EXPECT_TRUE(hugetlbfs_mounts("").empty());
  EXPECT_TRUE(hugetlbfs_mounts("garbage\n\n  \nhugetlbfs\n").empty());
}

TEST(HugePagesFromMeminfo, FreePagesAndPageSizeAreRead) {
  const HugePages pages = huge_pages_from_meminfo(meminfo(480));
  EXPECT_EQ(pages.free_pages, 480u);
  EXPECT_EQ(pages.page_kib, 2048u);
}

TEST(HugePagesFromMeminfo, AKernelWithoutHugePagesReportsNone) {
  const HugePages pages = huge_pages_from_meminfo("MemTotal: 100 kB\nbroken line\n:\n");
  EXPECT_EQ(pages.free_pages, 0u);
  EXPECT_EQ(pages.page_kib, 0u);
}

TEST(VdevInterface, AfPacketAndAfXdpNameTheKernelInterfaceTheyTakeOver) {
  EXPECT_EQ(vdev_interface("net_af_packet0,iface=veth-relay0"), "veth-relay0");
  EXPECT_EQ(vdev_interface("net_af_packet1,qpairs=2,iface=eth9,blocksz=4096"), "eth9");
  EXPECT_EQ(vdev_interface("net_af_xdp0,iface=veth1,start_queue=0"), "veth1");
  EXPECT_EQ(vdev_interface("eth_af_packet0,iface=veth2"), "veth2");
}

TEST(VdevInterface, VdevsThatCreateTheirOwnDeviceNameNone) {
  EXPECT_EQ(vdev_interface("net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"), std::nullopt);
  EXPECT_EQ(vdev_interface("net_ring0"), std::nullopt);
  EXPECT_EQ(vdev_interface("net_tap0,iface=tap-relay"), std::nullopt);  // net_tap creates its interface
  EXPECT_EQ(vdev_interface("net_af_packet0"), std::nullopt);            // the PMD itself refuses this
  EXPECT_EQ(vdev_interface(""), std::nullopt);
}

TEST(Refusal, AHealthyHostStarts) {
  EXPECT_EQ(refusal(config_with({"net_af_packet0,iface=veth-relay0"}), healthy_host()), std::nullopt);
}

TEST(Refusal, ASecondPrimaryWithTheSameFilePrefixIsRefusedFirst) {
  HostFacts host = healthy_host();
  host.primary_running = true;
  host.proc_mounts = std::string(kMountsWithoutHugetlbfs);
  EXPECT_EQ(refusal(config_with({}), host),
            "another relay-dataplane runs with eal.file_prefix relay-test (/var/run/dpdk/relay-test/config is "
            "locked): stop it or choose another file prefix");
}

TEST(Refusal, AVdevNamingAMissingInterfaceIsRefused) {
  EXPECT_EQ(refusal(config_with({"net_pcap0,rx_pcap=a.pcap", "net_af_packet0,iface=veth-typo0"}), healthy_host()),
            "eal.vdevs: net_af_packet0,iface=veth-typo0 names interface veth-typo0, which does not exist (no "
            "/sys/class/net/veth-typo0)");
}

TEST(Refusal, HugePagesWithoutAHugetlbfsMountAreRefused) {
  HostFacts host = healthy_host();
  host.proc_mounts = std::string(kMountsWithoutHugetlbfs);
  auto line = refusal(config_with({}), host);
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->starts_with("no hugetlbfs is mounted")) << *line;
}

TEST(Refusal, NoHugePagesConfiguredNeedsNoMount) {
  HostFacts host = healthy_host();
  host.proc_mounts = std::string(kMountsWithoutHugetlbfs);
  host.meminfo = meminfo(0);
  RelayConfig c = config_with({});
  c.eal.huge_pages = false;
  EXPECT_EQ(refusal(c, host), std::nullopt);
}

TEST(Refusal, AllHugePagesInUseAreRefused) {
  HostFacts host = healthy_host();
  host.meminfo = meminfo(0);
  auto line = refusal(config_with({}), host);
  ASSERT_TRUE(line);
  EXPECT_TRUE(line->starts_with("no free huge pages")) << *line;
}

TEST(Refusal, MoreMemoryThanTheFreeHugePagesHoldIsRefused) {
  HostFacts host = healthy_host();
  host.meminfo = meminfo(64);  // 128 MiB
  RelayConfig c = config_with({});
  c.eal.memory_mb = 128;
  EXPECT_EQ(refusal(c, host), std::nullopt);
  c.eal.memory_mb = 129;
  EXPECT_EQ(refusal(c, host), "eal.memory_mb 129 needs more than the 128 MiB of free huge pages");
}

}  // namespace
}  // namespace relay::dpprocess
