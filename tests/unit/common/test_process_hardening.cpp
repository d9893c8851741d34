// harden_process() in a child of its own, so the test binary keeps its core
// dumps: afterwards the kernel reports the process not dumpable and its core
// size limit 0, soft and hard.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/process_hardening.hpp"

namespace relay {
namespace {

// Exit codes of the child: which check failed.
enum Outcome : int { kHardened = 0, kRefused = 1, kStillDumpable = 2, kCoreLimitLeft = 3, kCoreLimitRaised = 4 };

[[noreturn]] void run_child() {
  if (!harden_process()) _exit(kRefused);
  if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(kStillDumpable);
  rlimit core{};
  if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0) _exit(kCoreLimitLeft);
  const rlimit raise{RLIM_INFINITY, RLIM_INFINITY};
  // Without CAP_SYS_RESOURCE the hard limit cannot come back; as root it
  // can, so only the unprivileged case is asserted.
  if (geteuid() != 0 && setrlimit(RLIMIT_CORE, &raise) == 0) _exit(kCoreLimitRaised);
  _exit(kHardened);
}

TEST(ProcessHardening, TheProcessIsNotDumpableAndHasNoCoreSizeLeft) {
  ASSERT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1) << "the test runner itself starts dumpable";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) run_child();
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), kHardened);
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1) << "only the child was hardened";
}

}  // namespace
}  // namespace relay
