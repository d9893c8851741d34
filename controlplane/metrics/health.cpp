#include "controlplane/metrics/health.hpp"

namespace relay::metrics {

std::vector<std::string> Readiness::reasons() const {
  std::vector<std::string> out;
  if (!dataplane_attached) out.emplace_back("dataplane_detached");
  if (has_portal && !portal_joined) out.emplace_back("portal_not_joined");
  if (has_portal && !portal_init) out.emplace_back("portal_no_init");
  if (draining) out.emplace_back("draining");
  return out;
}

MetricsServer::Routes health_routes(const Readiness& readiness) {
  static const std::string kJson = "application/json";
  MetricsServer::Routes routes;
  routes["/healthz"] = [] { return MetricsServer::Page{200, kJson, R"({"alive":true})"}; };
  routes["/readyz"] = [&readiness] {
    const auto reasons = readiness.reasons();
    if (reasons.empty()) return MetricsServer::Page{200, kJson, R"({"ready":true})"};
    // The reasons are fixed identifiers: nothing to escape.
    std::string body = R"({"ready":false,"reasons":[)";
    for (size_t i = 0; i < reasons.size(); ++i) body.append(i == 0 ? "\"" : ",\"").append(reasons[i]).append("\"");
    // RFC 9110 §15.6.4: 503 says "not now", which is what a probe acts on.
    return MetricsServer::Page{503, kJson, body + "]}"};
  };
  return routes;
}

}  // namespace relay::metrics
