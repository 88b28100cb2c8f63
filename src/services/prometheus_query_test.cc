// The pure helpers of the Prometheus API client; the calls themselves run against the real
// server in prometheus_scrape_integration_test.cc.
#include "services/prometheus_query.h"

#include <gtest/gtest.h>

namespace mqlab::services {
namespace {

TEST(PrometheusQueryTest, EncodesAQueryComponent) {
  EXPECT_EQ(UrlQueryEncode("up{job=\"mqlab\"}"), "up%7Bjob%3D%22mqlab%22%7D");
  EXPECT_EQ(UrlQueryEncode("rate(x[5s]) / 2"), "rate%28x%5B5s%5D%29%20%2F%202");
  EXPECT_EQ(UrlQueryEncode("a-b_c.d~e"), "a-b_c.d~e");
}

TEST(PrometheusQueryTest, AddsLabelMatchersToASelector) {
  const Labels l = {{"cell", "v3-w1-on"}, {"study", "s\"1"}};
  EXPECT_EQ(LabelMatchers(l), "cell=\"v3-w1-on\",study=\"s\\\"1\"");
  EXPECT_EQ(WithLabels("mqlab_queue_depth{backend=\"redis\"}", {{"cell", "c"}}),
            "mqlab_queue_depth{backend=\"redis\",cell=\"c\"}");
  EXPECT_EQ(WithLabels("up", {{"cell", "c"}}), "up{cell=\"c\"}");
  EXPECT_EQ(WithLabels("up{}", {{"cell", "c"}}), "up{cell=\"c\"}");
  EXPECT_EQ(WithLabels("up{a=\"b\"}", {}), "up{a=\"b\"}");
}

TEST(PrometheusQueryTest, ReadsPrometheusDurations) {
  EXPECT_EQ(ParsePromDuration("1s"), 1.0);
  EXPECT_EQ(ParsePromDuration("500ms"), 0.5);
  EXPECT_EQ(ParsePromDuration("1m30s"), 90.0);
  EXPECT_EQ(ParsePromDuration("2h"), 7200.0);
  EXPECT_FALSE(ParsePromDuration(""));
  EXPECT_FALSE(ParsePromDuration("1"));
  EXPECT_FALSE(ParsePromDuration("s"));
  EXPECT_FALSE(ParsePromDuration("1x"));
}

}  // namespace
}  // namespace mqlab::services
