#include "controlplane/metrics/dataplane_snapshot.hpp"

namespace relay::metrics {

Result<DataplaneSnapshot, std::string> snapshot_dataplane(std::span<const std::byte> zone) {
  auto view = view_counters_zone(zone);
  if (!view) return Err{view.error()};
  DataplaneSnapshot s;
  s.tsc_hz = view->header->tsc_hz;
  s.workers.reserve(view->workers.size());
  for (size_t i = 0; i < view->workers.size(); ++i) {
    const WorkerPlacement where = view->header->placement[i];
    s.workers.push_back({where.lcore, where.port, static_cast<IdleMode>(where.idle_mode),
                         load_relaxed(view->workers[i])});
  }
  return s;
}

}  // namespace relay::metrics
