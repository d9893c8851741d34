// /healthz and /readyz pages as a load balancer reads them.
#include <gtest/gtest.h>

#include "controlplane/metrics/health.hpp"

namespace relay::metrics {
namespace {

MetricsServer::Page get(const MetricsServer::Routes& routes, const std::string& path) { return routes.at(path)(); }

TEST(Health, HealthzIsAliveWhateverTheReadiness) {
  const Readiness nothing;
  const auto page = get(health_routes(nothing), "/healthz");
  EXPECT_EQ(page.status, 200u);
  EXPECT_EQ(page.content_type, "application/json");
  EXPECT_EQ(page.body, R"({"alive":true})");
}

TEST(Health, WithoutAPortalReadyOnceTheDataPlaneIsAttached) {
  Readiness r;
  const auto routes = health_routes(r);
  EXPECT_EQ(get(routes, "/readyz").status, 503u);
  EXPECT_EQ(get(routes, "/readyz").body, R"({"ready":false,"reasons":["dataplane_detached"]})");
  r.dataplane_attached = true;
  EXPECT_EQ(get(routes, "/readyz").status, 200u);  // read at each request
  EXPECT_EQ(get(routes, "/readyz").body, R"({"ready":true})");
}

TEST(Health, WithAPortalReadyOnlyJoinedAndAfterInitWithEachMissingStepNamed) {
  Readiness r{.dataplane_attached = true, .has_portal = true};
  const auto routes = health_routes(r);
  EXPECT_EQ(get(routes, "/readyz").body, R"({"ready":false,"reasons":["portal_not_joined","portal_no_init"]})");
  r.portal_joined = true;
  EXPECT_EQ(get(routes, "/readyz").body, R"({"ready":false,"reasons":["portal_no_init"]})");
  EXPECT_EQ(get(routes, "/readyz").status, 503u);
  r.portal_init = true;
  EXPECT_EQ(get(routes, "/readyz").status, 200u);
  EXPECT_EQ(routes.count("/metrics"), 0u);
}

}  // namespace
}  // namespace relay::metrics
