// The control plane lives only as long as its data plane: a secondary whose
// primary died keeps mapping memory nobody forwards from any more, and
// would go on answering STUN for allocations that relay nothing. Once a
// second it asks whether the primary still holds its runtime config's lock
// (common/primary_probe.hpp); when it does not, it says so in one line and
// hands over, so the process exits non-zero and a supervisor restarts both.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "controlplane/metrics/health.hpp"

namespace relay::process {

class DataPlaneWatch {
 public:
  static constexpr std::chrono::seconds kInterval{1};

  // `gone` runs once, after `readiness` was marked detached.
  DataPlaneWatch(boost::asio::io_context& io, std::string file_prefix, metrics::Readiness& readiness,
                 std::function<void()> gone);
  DataPlaneWatch(const DataPlaneWatch&) = delete;
  DataPlaneWatch& operator=(const DataPlaneWatch&) = delete;

 private:
  void arm();

  boost::asio::steady_timer timer_;
  std::string file_prefix_;
  std::string config_path_;
  metrics::Readiness& readiness_;
  std::function<void()> gone_;
};

}  // namespace relay::process
