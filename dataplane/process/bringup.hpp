// A running data plane: the port, the pool, the rings, the counters
// memzone, the flow rules and one Worker per worker lcore, brought up in
// that order by start() (every check before any worker is launched) and
// released in reverse by the destructor: stop flag, wait for the lcores,
// flow rules, port stop and close, rings (drained of mbufs), pool, memzone.
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "dataplane/config.hpp"
#include "dataplane/process/flow_rules.hpp"
#include "dataplane/process/shared_counters.hpp"
#include "dataplane/setup.hpp"
#include "dataplane/worker.hpp"

namespace relay::dpprocess {

class Dataplane {
 public:
  // Needs a running EAL whose lcores include config.dataplane.worker_lcores.
  static Result<std::unique_ptr<Dataplane>, std::string> start(const RelayConfig& config);
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // Starts every worker on its lcore except one on the main lcore, which
  // the caller runs itself (main_lcore_worker()).
  Result<void, std::string> launch();
  dataplane::Worker* main_lcore_worker();
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }

  // The one line the demo and the tests wait for.
  void log_ready() const;
  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  explicit Dataplane(const RelayConfig& config) : config_(config) {}
  // The one port, the mbuf pool on its socket, its queues and flow rules.
  Result<void, std::string> bring_up_port();
  // eal.interface: attaches its driver first (wire_port.hpp), with fallback.
  Result<void, std::string> bring_up_wire_port();
  Result<void, std::string> attach_wire_device(InterfaceDriver driver, const std::string& iface, uint16_t queues);
  Result<void, std::string> open_port();
  Result<void, std::string> create_shared_objects();
  Result<void, std::string> start_port_and_flows();
  Result<void, std::string> create_workers();
  // stream.enabled: the TAP (a second port, net_tap), its queues and the
  // kernel's addresses, rules and routes (stream_tap.hpp).
  Result<void, std::string> open_stream_tap();
  void close_stream_tap();
  void release_rings();

  const RelayConfig& config_;
  std::atomic<bool> stop_{false};
  uint16_t port_ = 0;
  std::string driver_;
  int socket_ = 0;
  dataplane::InterfaceConfig interface_;
  bool port_started_ = false;
  bool tx_offload_ = false;
  rte_mempool* pool_ = nullptr;
  dataplane::WorkerRings exception_rings_;
  std::vector<rte_ring*> command_rings_;  // in the order of worker_lcores
  std::optional<SharedCounters> counters_;
  InstalledFlows flows_;
  std::optional<uint16_t> tap_port_;  // the stream TAP, when stream.enabled
  bool tap_started_ = false;
  std::vector<std::vector<std::string>> tap_teardown_;  // what the kernel must forget at exit
  std::vector<std::unique_ptr<dataplane::Worker>> workers_;
};

}  // namespace relay::dpprocess
