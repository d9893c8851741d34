#include "controlplane/process/dataplane_watch.hpp"

#include <utility>

#include "common/log.hpp"
#include "common/primary_probe.hpp"

namespace relay::process {

DataPlaneWatch::DataPlaneWatch(boost::asio::io_context& io, std::string file_prefix, metrics::Readiness& readiness,
                               std::function<void()> gone)
    : timer_(io),
      file_prefix_(std::move(file_prefix)),
      config_path_(runtime_config_path(file_prefix_)),
      readiness_(readiness),
      gone_(std::move(gone)) {
  arm();
}

void DataPlaneWatch::arm() {
  timer_.expires_after(kInterval);
  // The timer dies with this object, cancelling the wait first.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    const PrimaryState state = probe_primary(config_path_);
    if (state == PrimaryState::Running) return arm();
    readiness_.dataplane_attached = false;
    log::error("controlplane", "relay-dataplane went away: exiting so that a supervisor restarts both",
               {{"file_prefix", file_prefix_}, {"detail", describe(state, file_prefix_, config_path_)}});
    gone_();
  });
}

}  // namespace relay::process
