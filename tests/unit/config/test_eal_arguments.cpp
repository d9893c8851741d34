// The EAL command lines the two processes start with: DPDK never gets a
// PCI device nobody named.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/config/config_test_support.hpp"

using namespace relay;
using namespace relay::test;

namespace {

using Args = std::vector<std::string>;

bool contains(const Args& args, const std::string& arg) {
  return std::find(args.begin(), args.end(), arg) != args.end();
}

RelayConfig loaded(std::vector<std::string> flags) {
  flags.insert(flags.end(), kMinimal.begin(), kMinimal.end());
  auto cfg = load(flags);
  EXPECT_TRUE(cfg.ok()) << cfg.error().message;
  return cfg.ok() ? *cfg : RelayConfig{};
}

}  // namespace

TEST(EalArguments, WithoutAnAllowlistTheDataplaneGetsNoPciAndOnlyItsVdevs) {
  auto cfg =
      loaded({"--eal-vdevs", "net_af_packet0,iface=turn-demo0", "--eal-file-prefix", "demo"});
  EXPECT_EQ(eal_arguments(cfg, EalRole::Dataplane),
            (Args{"relay-dataplane", "--log-level=lib.eal:error", "--log-level=lib.telemetry:error",
                  "-l", "0-1", "--file-prefix", "demo", "--proc-type=primary",
                  "--no-pci", "--vdev", "net_af_packet0,iface=turn-demo0"}));
}

TEST(EalArguments, AnAllowlistReplacesNoPciWithOneAllowPerDevice) {
  auto cfg = loaded({"--eal-pci-allowlist", "0000:3b:00.0", "--eal-pci-allowlist", "3b:00.1"});
  auto args = eal_arguments(cfg, EalRole::Dataplane);
  EXPECT_FALSE(contains(args, "--no-pci"));
  EXPECT_EQ(std::count(args.begin(), args.end(), "-a"), 2);
  EXPECT_EQ(Args(args.begin() + 8, args.begin() + 12),
            (Args{"-a", "0000:3b:00.0", "-a", "3b:00.1"}));
}

TEST(EalArguments, TheControlPlaneIsASecondaryThatNeverProbesDevices) {
  auto cfg = loaded({"--eal-pci-allowlist", "0000:3b:00.0", "--eal-vdevs", "net_null0",
                     "--eal-lcores", "2-5", "--eal-main-lcore", "3"});
  EXPECT_EQ(eal_arguments(cfg, EalRole::ControlPlane),
            (Args{"relay-controlplane", "--log-level=lib.eal:error", "--no-telemetry", "-l", "3",
                  "--file-prefix", "relay",
                  "--proc-type=secondary", "--no-pci"}));
  auto dataplane = eal_arguments(cfg, EalRole::Dataplane);
  EXPECT_EQ(Args(dataplane.begin() + 3, dataplane.begin() + 7),
            (Args{"-l", "2-5", "--main-lcore", "3"}));
}

TEST(EalArguments, MemoryOptionsAndExtraArgumentsFollowTheConfiguration) {
  auto cfg = loaded({"--eal-huge-pages=false", "--eal-memory-mb", "256",
                     "--eal-extra-args=--in-memory", "--eal-extra-args=--log-level=lib.eal:debug"});
  auto args = eal_arguments(cfg, EalRole::Dataplane);
  EXPECT_EQ(Args(args.end() - 5, args.end()),
            (Args{"-m", "256", "--no-huge", "--in-memory", "--log-level=lib.eal:debug"}));
  EXPECT_TRUE(contains(args, "--no-pci"));
}

TEST(EalArguments, TheDataplaneQuietsEalLogsUnlessTheLogLevelIsDebug) {
  auto quiet = eal_arguments(loaded({}), EalRole::Dataplane);
  EXPECT_TRUE(contains(quiet, "--log-level=lib.eal:error"));
  EXPECT_TRUE(contains(quiet, "--log-level=lib.telemetry:error"));
  auto debug = eal_arguments(loaded({"--log-level", "debug"}), EalRole::Dataplane);
  EXPECT_FALSE(contains(debug, "--log-level=lib.eal:error"));
  EXPECT_FALSE(contains(debug, "--log-level=lib.telemetry:error"));
}

TEST(EalArguments, TheControlPlaneLogsOnlyEalErrorsAndLeavesTelemetryToThePrimary) {
  auto args = eal_arguments(loaded({"--log-level", "trace"}), EalRole::ControlPlane);
  EXPECT_TRUE(contains(args, "--log-level=lib.eal:error"));
  EXPECT_TRUE(contains(args, "--no-telemetry"));
}

TEST(EalArguments, TheOperatorsExtraArgumentsComeLastAndSoWinOverTheQuietDefaults) {
  for (auto role : {EalRole::Dataplane, EalRole::ControlPlane}) {
    auto args = eal_arguments(loaded({"--eal-extra-args=--log-level=lib.eal:debug"}), role);
    EXPECT_EQ(args.front(), program_name(role));
    EXPECT_EQ(args.back(), "--log-level=lib.eal:debug");
    EXPECT_LT(std::find(args.begin(), args.end(), "--log-level=lib.eal:error") - args.begin(),
              static_cast<std::ptrdiff_t>(args.size()) - 1);
  }
}

TEST(EalArguments, AsArgvIsNullTerminatedAndPointsIntoTheStrings) {
  Args args{"relay", "--no-pci"};
  auto argv = as_argv(args);
  ASSERT_EQ(argv.size(), 3u);
  EXPECT_EQ(argv[0], args[0].data());
  EXPECT_STREQ(argv[1], "--no-pci");
  EXPECT_EQ(argv[2], nullptr);
}
