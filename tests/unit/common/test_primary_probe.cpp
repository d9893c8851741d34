// Finding out, before rte_eal_init, whether a data plane runs for our
// --file-prefix: DPDK's runtime directory and the primary's config lock.
// These tests never start the EAL, so no device can be probed (nothing to
// pass --no-pci to): they only create files under a temporary runtime dir.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/primary_probe.hpp"

namespace relay {
namespace {

TEST(RuntimeConfigPath, RootLooksUnderVarRunDpdk) {
  EXPECT_EQ(runtime_config_path("turn-demo", true, "/run/user/1000"), "/var/run/dpdk/turn-demo/config");
}

TEST(RuntimeConfigPath, OtherUsersLookUnderXdgRuntimeDirElseTmp) {
  EXPECT_EQ(runtime_config_path("relay", false, "/run/user/1000"), "/run/user/1000/dpdk/relay/config");
  EXPECT_EQ(runtime_config_path("relay", false, std::nullopt), "/tmp/dpdk/relay/config");
}

struct ProbeTest : ::testing::Test {
  std::string path;
  void SetUp() override {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir != nullptr ? dir : "/tmp") + "/relay-probe-XXXXXX";
    int fd = mkstemp(path.data());
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  void TearDown() override { ::unlink(path.c_str()); }
};

TEST_F(ProbeTest, NoConfigFileMeansNoPrimaryEverRanWithThisPrefix) {
  EXPECT_EQ(probe_primary(path + ".absent"), PrimaryState::NoRuntimeConfig);
}

TEST_F(ProbeTest, AnUnlockedConfigFileIsWhatACrashedPrimaryLeavesBehind) {
  EXPECT_EQ(probe_primary(path), PrimaryState::Exited);
}

TEST_F(ProbeTest, AWriteLockHeldElsewhereMeansThePrimaryRuns) {
  // An open-file-description lock conflicts with this process's own probe,
  // as the primary's lock does from another process.
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(fd, F_OFD_SETLK, &lock), 0);
  EXPECT_EQ(probe_primary(path), PrimaryState::Running);
  ::close(fd);
  EXPECT_EQ(probe_primary(path), PrimaryState::Exited);
}

TEST(PrimaryProbe, TheOperatorGetsOneLineNamingThePrefixAndThePath) {
  for (auto state : {PrimaryState::NoRuntimeConfig, PrimaryState::Exited}) {
    const std::string line = describe(state, "turn-demo", "/var/run/dpdk/turn-demo/config");
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_NE(line.find("relay-dataplane is not running"), std::string::npos);
    EXPECT_NE(line.find("turn-demo"), std::string::npos);
    EXPECT_NE(line.find("/var/run/dpdk/turn-demo/config"), std::string::npos);
  }
}

}  // namespace
}  // namespace relay
