// The text format's escaping and number rules, line by line.
#include <gtest/gtest.h>

#include "controlplane/metrics/exposition.hpp"

namespace relay::metrics {
namespace {

TEST(Exposition, AFamilyStartsWithHelpThenTypeThenItsSamples) {
  Exposition out;
  out.family("relay_things_total", MetricType::Counter, "Things seen.");
  out.sample("relay_things_total", {{"kind", "a"}, {"side", "b"}}, uint64_t{3});
  out.sample("relay_things_total", {}, uint64_t{18446744073709551615u});
  EXPECT_EQ(out.text(),
            "# HELP relay_things_total Things seen.\n"
            "# TYPE relay_things_total counter\n"
            "relay_things_total{kind=\"a\",side=\"b\"} 3\n"
            "relay_things_total 18446744073709551615\n");
}

TEST(Exposition, LabelValuesEscapeBackslashQuoteAndNewlineSoNoValueCanEndItsLine) {
  Exposition out;
  out.family("relay_x", MetricType::Gauge, "x");
  out.sample("relay_x", {{"v", "a\\b\"c\nd"}}, uint64_t{1});
  EXPECT_EQ(out.text(), "# HELP relay_x x\n# TYPE relay_x gauge\nrelay_x{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(Exposition, HelpTextEscapesBackslashAndNewlineButKeepsQuotes) {
  EXPECT_EQ(escape_help("say \"hi\"\\\nbye"), "say \"hi\"\\\\\\nbye");
}

TEST(Exposition, DoublesAreWrittenShortestAndSpecialValuesAsPrometheusSpellsThem) {
  EXPECT_EQ(format_double(1.024e-06), "1.024e-06");
  EXPECT_EQ(format_double(0.5), "0.5");
  EXPECT_EQ(format_double(0.0), "0");
  EXPECT_EQ(format_double(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_double(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_double(0.0 / 0.0), "NaN");
}

}  // namespace
}  // namespace relay::metrics
