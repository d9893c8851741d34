// GET /metrics for the running control plane: at each scrape it reads the
// Server's stats, its own ring IO, and the data plane's per-lcore counters
// from the "<prefix>counters" memzone, and renders them (controlplane/metrics).
// GET /healthz and /readyz on their own address (health.address).
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "common/config.hpp"
#include "common/result.hpp"
#include "controlplane/core/server.hpp"
#include "controlplane/metrics/health.hpp"
#include "controlplane/metrics/metrics_server.hpp"
#include "controlplane/process/control_loop.hpp"
#include "controlplane/process/dispatcher.hpp"
#include "controlplane/process/dpdk_attach.hpp"

namespace relay::process {

// Null when the configuration has no health address. `readiness` must
// outlive the endpoint.
Result<std::unique_ptr<metrics::MetricsServer>, std::string> start_health_endpoint(
    boost::asio::io_context& io, const RelayConfig& config, const metrics::Readiness& readiness);

// Null when the configuration has no metrics address. `streams` is null
// when streams are off.
Result<std::unique_ptr<metrics::MetricsServer>, std::string> start_metrics_endpoint(
    boost::asio::io_context& io, const RelayConfig& config, const SharedObjects& shared, const core::Server& server,
    const ControlLoop& loop, const Dispatcher& dispatcher, const StreamServer* streams);

}  // namespace relay::process
