// GET /healthz and GET /readyz, as Firezone's relay answers them for load
// balancers and supervisors: /healthz is 200 while the process runs;
// /readyz is 200 only while the relay serves everyone (the data plane
// attached and, with a portal, the channel joined and its `init` received),
// else 503 with the reasons in a JSON body.
#pragma once

#include <string>
#include <vector>

#include "controlplane/metrics/metrics_server.hpp"

namespace relay::metrics {

// What /readyz judges; the process keeps it current.
struct Readiness {
  bool dataplane_attached = false;
  bool has_portal = false;
  bool portal_joined = false;
  bool portal_init = false;
  // relayctl drain: a load balancer sends new clients elsewhere.
  bool draining = false;

  // Empty when ready: "dataplane_detached", "portal_not_joined", "portal_no_init",
  // "draining".
  [[nodiscard]] std::vector<std::string> reasons() const;
};

// The two paths, reading `readiness` at each request (it must outlive the server).
MetricsServer::Routes health_routes(const Readiness& readiness);

}  // namespace relay::metrics
