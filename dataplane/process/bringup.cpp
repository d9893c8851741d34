#include "dataplane/process/bringup.hpp"

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "common/log.hpp"
#include "dataplane/process/interface.hpp"
#include "dataplane/process/port.hpp"
#include "dataplane/process/stream_tap.hpp"
#include "dataplane/process/wire_port.hpp"
#include "dataplane/telemetry.hpp"

namespace relay::dpprocess {

namespace {

constexpr std::string_view kTarget = "dataplane";
// The stream TAP's DPDK name; its kernel name is stream.interface.
constexpr const char* kStreamTapName = "net_tap_stream";

std::string joined(const std::vector<uint32_t>& ids) {
  std::string out;
  for (auto id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id);
  }
  return out;
}

void free_ring_of_mbufs(rte_ring* ring) {
  if (ring == nullptr) return;
  // Mbufs still queued belong to the pool that is about to go.
  void* m = nullptr;
  while (rte_ring_dequeue(ring, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
  rte_ring_free(ring);
}

}  // namespace

Result<std::unique_ptr<Dataplane>, std::string> Dataplane::start(const RelayConfig& config) {
  std::unique_ptr<Dataplane> dp(new Dataplane(config));
  for (auto step : {&Dataplane::bring_up_wire_port, &Dataplane::create_shared_objects, &Dataplane::open_stream_tap,
                    &Dataplane::create_workers}) {
    if (auto done = (dp.get()->*step)(); !done) return Err{done.error()};
  }
  return dp;
}

Result<void, std::string> Dataplane::open_port() {
  auto port = the_one_port();
  if (!port) return Err{port.error()};
  port_ = *port;
  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port_, &info); rc != 0)
    return Err{"rte_eth_dev_info_get: " + std::string(rte_strerror(-rc))};
  driver_ = info.driver_name != nullptr ? info.driver_name : "unknown driver";
  const auto& workers = config_.dataplane.worker_lcores;
  if (auto shortfall = queue_shortfall(driver_, info.max_rx_queues, info.max_tx_queues, workers.size()))
    return Err{*shortfall};
  if (workers.size() > 1 && (info.flow_type_rss_offloads & kRssTypes) == 0)
    log::warn(kTarget, "the PMD cannot hash IP/UDP (RSS): every packet will reach the first worker",
              {{"driver", driver_}});
  socket_ = port_socket(port_);
  for (auto lcore : workers) {
    if (static_cast<int>(rte_lcore_to_socket_id(lcore)) != socket_)
      log::warn(kTarget, "worker lcore is on another NUMA socket than the port: its packets cross sockets",
                {{"lcore", lcore}, {"lcore_socket", rte_lcore_to_socket_id(lcore)}, {"port_socket", socket_}});
  }
  interface_ = interface_config(config_, port_mac(port_));
  if (auto valid = dataplane::validate(interface_); !valid) return Err{"interface: " + valid.error()};
  return {};
}

Result<void, std::string> Dataplane::bring_up_port() {
  if (auto opened = open_port(); !opened) return opened;
  if (pool_ == nullptr) {
    const auto& dp = config_.dataplane;
    // Without a PCI device nothing DMAs into the mbufs, and net_af_xdp
    // needs them in one block (setup.hpp).
    const auto layout = config_.eal.pci_allowlist.empty() ? dataplane::PoolLayout::Packed
                                                          : dataplane::PoolLayout::PagePerObject;
    auto pool = dataplane::create_mbuf_pool(dp.ring_prefix, dp.mempool_size, socket_, dp.mbuf_cache, layout);
    if (!pool) return Err{pool.error()};
    pool_ = *pool;
  }
  if (driver_ == "net_af_xdp") {
    if (const unsigned outside = dataplane::mbufs_outside_af_xdp_umem(pool_); outside != 0)
      return Err{std::to_string(outside) + " of the pool's " + std::to_string(pool_->populated_size) +
                 " mbufs lie outside the block net_af_xdp registers as its umem: the kernel would drop the frames "
                 "sent from them (the pool is one block only without PCI devices)"};
  }
  return start_port_and_flows();
}

// eal.interface: each driver of the plan in turn; the first that probes,
// configures and starts keeps the port, and one line says which and why.
Result<void, std::string> Dataplane::bring_up_wire_port() {
  if (!config_.eal.interface) return bring_up_port();
  const std::string& iface = *config_.eal.interface;
  const auto queues = static_cast<uint16_t>(config_.dataplane.worker_lcores.size());
  const InterfaceDriver configured = config_.eal.interface_driver;
  std::vector<std::string> failures;
  for (InterfaceDriver driver : driver_order(configured)) {
    auto attached = attach_wire_device(driver, iface, queues);
    if (attached) {
      log::info(kTarget, selection_reason(configured, driver, failures),
                {{"interface", iface}, {"driver", driver_name(driver)}, {"queues", queues}});
      return {};
    }
    failures.push_back(std::string(driver_name(driver)) + " failed: " + attached.error());
  }
  std::string reasons;
  for (const auto& failure : failures) reasons += (reasons.empty() ? "" : "; ") + failure;
  return Err{"eal.interface " + iface + ": " + reasons};
}

Result<void, std::string> Dataplane::attach_wire_device(InterfaceDriver driver, const std::string& iface,
                                                        uint16_t queues) {
  const std::string record = std::string(rte_eal_get_runtime_dir()) + "/xdp_program." + iface;
  if (driver == InterfaceDriver::AfXdp) {
    auto attached = attached_xdp_program(iface);
    if (attached && detach_own_leftover(iface, record, *attached)) {
      log::info(kTarget, "removed the XDP program a data plane with this file prefix left on the interface",
                {{"interface", iface}, {"program_id", attached->id}, {"program", attached->name}});
      attached.reset();
    }
    if (auto in_the_way = xdp_program_in_the_way(iface, attached)) return Err{*in_the_way};
    if (auto shortfall = channel_shortfall(iface, combined_channels(iface), queues)) return Err{*shortfall};
  }
  const WireDevice device = wire_device(driver, iface, queues);
  // EAL's hotplug, as for the stream TAP: rte_vdev_init is not linked.
  if (int rc = rte_eal_hotplug_add("vdev", device.name.c_str(), device.args.c_str()); rc != 0)
    return Err{"probe " + device.name + "," + device.args + ": " + rte_strerror(-rc)};
  if (auto up = bring_up_port(); !up) {
    remove_flow_rules(port_, flows_);
    flows_ = {};
    if (port_started_) (void)rte_eth_dev_stop(port_);
    port_started_ = false;
    if (int rc = rte_eal_hotplug_remove("vdev", device.name.c_str()); rc != 0)
      log::warn(kTarget, "cannot remove the driver that failed", {{"device", device.name}, {"error", rte_strerror(-rc)}});
    return up;
  }
  if (driver == InterfaceDriver::AfXdp) record_xdp_program(record, attached_xdp_program(iface));
  return {};
}

Result<void, std::string> Dataplane::create_shared_objects() {
  const auto& dp = config_.dataplane;
  const std::string& prefix = dp.ring_prefix;
  auto rings = dataplane::create_exception_rings(
      prefix, socket_, dp.exception_ring_size,
      ring_abi::ack_ring_size(dp.command_ring_size, static_cast<unsigned>(dp.worker_lcores.size())));
  if (!rings) return Err{rings.error()};
  exception_rings_ = *rings;
  for (auto lcore : dp.worker_lcores) {
    auto ring = dataplane::create_command_ring(prefix, lcore, socket_, dp.command_ring_size);
    if (!ring) return Err{ring.error()};
    command_rings_.push_back(*ring);
  }
  std::vector<WorkerPlacement> placements;
  for (auto lcore : dp.worker_lcores)
    placements.push_back({.lcore = static_cast<uint16_t>(lcore), .port = port_,
                          .idle_mode = static_cast<uint8_t>(interface_.idle), .reserved = {}});
  auto counters = SharedCounters::create(prefix, placements, socket_);
  if (!counters) return Err{counters.error()};
  counters_.emplace(std::move(counters.value()));
  return {};
}

Result<void, std::string> Dataplane::start_port_and_flows() {
  const auto& dp = config_.dataplane;
  const auto queues = static_cast<uint16_t>(dp.worker_lcores.size());
  auto started = dataplane::start_port(
      port_, pool_, {.rx_queues = queues, .tx_queues = queues, .rx_descriptors = dp.rx_descriptors,
                     .tx_descriptors = dp.tx_descriptors, .want_tx_checksum_offload = true});
  if (!started) return Err{started.error()};
  port_started_ = true;
  tx_offload_ = *started;
  const auto plan = plan_flow_rules(interface_, queues);
  flows_ = install_flow_rules(port_, *plan);
  if (flows_.steering == Steering::Software)
    log::info(kTarget, "rte_flow not supported by " + driver_ + ": software classification",
              {{"reason", flows_.refusal}});
  else
    log::info(kTarget, "rte_flow rules steer relay traffic to the worker queues", {{"rules", flows_.flows.size()}});
  return {};
}

Result<void, std::string> Dataplane::create_workers() {
  const auto& lcores = config_.dataplane.worker_lcores;
  const auto slots = counters_->workers();
  for (size_t i = 0; i < lcores.size(); ++i) {
    dataplane::WorkerSetup s;
    s.config = interface_;
    s.port_id = port_;
    s.queue_id = static_cast<uint16_t>(i);
    s.commands = command_rings_[i];
    s.to_cp = exception_rings_.to_cp;
    s.from_cp = i == 0 ? exception_rings_.from_cp : nullptr;  // from_cp is single-consumer
    s.dump = i == 0 ? exception_rings_.dump : nullptr;        // the dump ring is single-producer
    s.acks = exception_rings_.acks;
    s.worker_index = static_cast<uint8_t>(i);
    s.discard_commands = dataplane::command_discard_switch(i);
    s.tsc_hz = rte_get_tsc_hz();
    s.tx_checksum_offload = tx_offload_;
    s.counters = &slots[i];
    s.solicitation_pool = pool_;
    s.stop = &stop_;
    s.to_stream = exception_rings_.to_stream;
    if (tap_port_) {
      s.kernel_port = *tap_port_;
      s.kernel_mac = port_mac(*tap_port_);
    }
    auto worker = dataplane::Worker::create(s);
    if (!worker) return Err{"worker on lcore " + std::to_string(lcores[i]) + ": " + worker.error()};
    workers_.push_back(std::move(worker.value()));
  }
  return {};
}

// Order matters to the kernel: the IPv6 knobs before the link is up (or it
// has already made a link-local address and solicited routers), the
// addresses before the rules and routes that name them.
Result<void, std::string> Dataplane::open_stream_tap() {
  if (!config_.stream.enabled) return {};
  const std::string& iface = config_.stream.interface;
  const std::string args = "iface=" + iface;
  // EAL's hotplug rather than rte_vdev_init: the vdev bus library is a
  // driver, which pkg-config's libdpdk does not link.
  if (int rc = rte_eal_hotplug_add("vdev", kStreamTapName, args.c_str()); rc != 0)
    return Err{"stream.interface: cannot create the TAP interface " + iface + " (" + kStreamTapName +
               "): " + rte_strerror(-rc)};
  uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(kStreamTapName, &port) != 0)
    return Err{"stream.interface: " + std::string(kStreamTapName) + " was created but has no port"};
  tap_port_ = port;
  const StreamKernelPlan plan = plan_stream_kernel(config_, interface_.mtu);
  for (const auto& [path, value] : plan.sysctls) {
    // A kernel without IPv6 has nothing to turn off.
    if (path.ends_with("/disable_ipv6") && access("/proc/sys/net/ipv6", F_OK) != 0) continue;
    std::ofstream out(path);
    out << value << '\n';
    out.flush();
    if (!out) return Err{"stream.interface: cannot write " + value + " to " + path};
  }
  const auto queues = static_cast<uint16_t>(config_.dataplane.worker_lcores.size());
  auto started = dataplane::start_port(port, pool_, {.rx_queues = queues, .tx_queues = queues, .rx_descriptors = 512,
                                                     .tx_descriptors = 512, .want_tx_checksum_offload = false,
                                                     .rss = false});
  if (!started) return Err{"stream.interface: " + iface + ": " + started.error()};
  tap_started_ = true;
  for (const auto& argv : plan.stale) (void)run_command(argv);
  tap_teardown_ = plan.teardown;
  for (const auto& argv : plan.setup)
    if (auto done = run_command(argv); !done) return Err{"stream.interface: " + done.error()};
  const StreamPorts ports = stream_ports(config_);
  std::string listening = ports.tcp ? "tcp " + std::to_string(*ports.tcp) : "";
  for (uint16_t p : ports.tls) listening += (listening.empty() ? "tls " : ", tls ") + std::to_string(p);
  log::info(kTarget, "stream TAP up: the kernel terminates TURN over TCP/TLS",
            {{"interface", iface}, {"port", port}, {"mac", mac_text(port_mac(port))}, {"queues", queues},
             {"relay_v4", interface_.ipv4 ? interface_.ipv4->address.to_string() + "/32" : "-"},
             {"relay_v6", interface_.ipv6 ? interface_.ipv6->address.to_string() + "/128" : "-"},
             {"routing_table", config_.stream.routing_table}, {"rule_priority", kStreamRulePriority},
             {"tcp_ports", listening}});
  return {};
}

void Dataplane::close_stream_tap() {
  for (const auto& argv : tap_teardown_)
    if (auto done = run_command(argv); !done)
      log::warn(kTarget, "stream.interface: a policy rule stays behind", {{"error", done.error()}});
  tap_teardown_.clear();
  if (tap_started_) {
    if (int rc = rte_eth_dev_stop(*tap_port_); rc != 0)
      log::warn(kTarget, "rte_eth_dev_stop of the stream TAP failed", {{"error", rte_strerror(-rc)}});
    tap_started_ = false;
  }
}

Result<void, std::string> Dataplane::launch() {
  const auto& lcores = config_.dataplane.worker_lcores;
  for (size_t i = 0; i < lcores.size(); ++i) {
    if (lcores[i] == rte_get_main_lcore()) continue;
    if (int rc = rte_eal_remote_launch(dataplane::worker_main, workers_[i].get(), lcores[i]); rc != 0) {
      request_stop();
      return Err{"rte_eal_remote_launch on lcore " + std::to_string(lcores[i]) + ": " + rte_strerror(-rc)};
    }
  }
  return {};
}

dataplane::Worker* Dataplane::main_lcore_worker() {
  const auto& lcores = config_.dataplane.worker_lcores;
  for (size_t i = 0; i < lcores.size(); ++i)
    if (lcores[i] == rte_get_main_lcore()) return workers_[i].get();
  return nullptr;
}

void Dataplane::log_ready() const {
  const std::string v4 = interface_.ipv4 ? interface_.ipv4->address.to_string() : "-";
  const std::string v6 = interface_.ipv6 ? interface_.ipv6->address.to_string() : "-";
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  rte_eth_dev_get_name_by_port(port_, name);
  log::info(kTarget, "ready",
            {{"port", std::string_view(name)}, {"driver", driver_}, {"mac", mac_text(interface_.mac)},
             {"relay_v4", v4}, {"relay_v6", v6}, {"listen_port", interface_.listen_port},
             {"worker_lcores", joined(config_.dataplane.worker_lcores)}, {"socket", socket_},
             {"steering", flows_.steering == Steering::Flow ? "rte_flow" : "software"},
             {"tx_checksum_offload", tx_offload_}, {"file_prefix", config_.eal.file_prefix},
             {"ring_prefix", config_.dataplane.ring_prefix}});
}

Dataplane::~Dataplane() {
  request_stop();
  rte_eal_mp_wait_lcore();  // returns at once when nothing was launched
  workers_.clear();
  remove_flow_rules(port_, flows_);
  close_stream_tap();
  if (port_started_) {
    if (int rc = rte_eth_dev_stop(port_); rc != 0)
      log::warn(kTarget, "rte_eth_dev_stop failed", {{"error", rte_strerror(-rc)}});
  }
  // Every probed port, also those a refused start never used (and the
  // stream TAP, whose kernel interface goes with it); closing releases the
  // queues, which hold mbufs of the pool.
  uint16_t port = 0;
  RTE_ETH_FOREACH_DEV(port) rte_eth_dev_close(port);
  release_rings();
  if (pool_ != nullptr) rte_mempool_free(pool_);
  counters_.reset();
}

void Dataplane::release_rings() {
  // A control plane still attached loses its rings here; it notices the
  // primary is gone and exits (the rings die with the primary anyway).
  for (rte_ring* ring : command_rings_) rte_ring_free(ring);
  command_rings_.clear();
  free_ring_of_mbufs(exception_rings_.to_cp);
  free_ring_of_mbufs(exception_rings_.from_cp);
  free_ring_of_mbufs(exception_rings_.to_stream);
  rte_ring_free(exception_rings_.dump);  // CommandMessages, no mbufs
  exception_rings_ = {};
}

}  // namespace relay::dpprocess
