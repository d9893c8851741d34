// relay-dataplane: the DPDK primary. Order matters for the operator: a bad
// configuration is one line (exit 2), a host that cannot run it (no huge
// pages, a vdev naming a missing interface, a primary of the same file
// prefix running) is one line before any EAL output (exit 1), and
// SIGINT/SIGTERM stop the workers and release the port (exit 0). SIGHUP
// is ignored: the data plane has no key to reload, and a reload sent to
// both units must not end it.
//
// SIGINT and SIGTERM are blocked before rte_eal_init, so every EAL thread
// inherits the mask and the main lcore takes them synchronously
// (sigtimedwait) between link polls: no async handler touches DPDK.
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_version.h>

#include <csignal>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/process_hardening.hpp"
#include "dataplane/process/bpf_log.hpp"
#include "dataplane/process/bringup.hpp"
#include "dataplane/process/port.hpp"
#include "dataplane/process/preflight.hpp"
#include "dataplane/process/service_notify.hpp"

namespace relay::dpprocess {
namespace {

constexpr std::string_view kProgram = program_name(EalRole::Dataplane);
constexpr std::string_view kTarget = "dataplane";

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// Waits for SIGINT/SIGTERM, logging link changes once a second meanwhile.
int wait_for_stop_signal(uint16_t port) {
  const sigset_t set = stop_signals();
  LinkWatcher link(port);
  const timespec second{1, 0};
  while (true) {
    link.poll();
    siginfo_t info{};
    const int signal = sigtimedwait(&set, &info, &second);
    if (signal > 0) return signal;
  }
}

// The main lcore is the only lcore (or configured as a worker): it runs the
// worker loop, and a plain thread takes the signal instead. Link changes
// are not logged in this mode.
int run_worker_on_main_lcore(Dataplane& dp, dataplane::Worker& worker) {
  int signal = 0;
  std::thread waiter([&] {
    const sigset_t set = stop_signals();
    sigwait(&set, &signal);
    dp.request_stop();
  });
  log::info(kTarget, "the main lcore runs a worker: link changes are not logged");
  dataplane::worker_main(&worker);
  waiter.join();
  return signal;
}

int serve(const RelayConfig& config) {
  auto started = Dataplane::start(config);
  if (!started) {
    log::error(kTarget, started.error());
    return 1;
  }
  Dataplane& dp = *started.value();
  if (auto launched = dp.launch(); !launched) {
    log::error(kTarget, launched.error());
    return 1;
  }
  dp.log_ready();
  // systemd (Type=notify) starts relay-controlplane after this.
  if (auto notified = notify_service_manager("READY=1"); !notified)
    log::warn(kTarget, "cannot tell the service manager the data plane is ready", {{"error", notified.error()}});
  dataplane::Worker* on_main = dp.main_lcore_worker();
  const int signal = on_main != nullptr ? run_worker_on_main_lcore(dp, *on_main) : wait_for_stop_signal(dp.port());
  log::info(kTarget, "stopping", {{"signal", signal}});
  return 0;  // ~Dataplane stops the workers and releases the port, rings and pool
}

int run(int argc, char** argv) {
  std::signal(SIGHUP, SIG_IGN);
  // Before the configuration (and any secret in it) is read.
  if (auto hardened = harden_process(); !hardened) {
    log::error(kTarget, "cannot keep the process out of core dumps", {{"error", hardened.error()}});
    return 1;
  }
  auto loaded = load_config(argc, argv, kProgram, process_environment());
  if (!loaded) return report(loaded.error(), build_info(rte_version()));
  const RelayConfig& config = loaded.value();
  if (config.check_only) return report_checked(config);
  configure_logger(config.log);
  route_bpf_logs();

  if (auto refused = refusal(config, gather_host_facts(config))) {
    log::error(kTarget, *refused);
    return 1;
  }
  const sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto args = eal_arguments(config, EalRole::Dataplane);
  auto eal_argv = as_argv(args);
  if (rte_eal_init(static_cast<int>(eal_argv.size()) - 1, eal_argv.data()) < 0) {
    log::error(kTarget, "cannot start the DPDK EAL: " + std::string(rte_strerror(rte_errno)),
               {{"file_prefix", config.eal.file_prefix}});
    return 1;
  }
  const int status = serve(config);
  rte_eal_cleanup();
  if (config.eal.huge_pages) remove_hugepage_files(config.eal.file_prefix);
  if (status == 0) log::info(kTarget, "stopped");
  return status;
}

}  // namespace
}  // namespace relay::dpprocess

int main(int argc, char** argv) { return relay::dpprocess::run(argc, argv); }
