#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace mqlab::metrics {
namespace {

TEST(RegistryTest, RendersExactTextFormat) {
  Registry r;
  auto& requests = r.AddCounter("test_requests_total", "Requests.\nSecond line \\ end",
                                {"route", "code"});
  requests.With({"/a", "200"}).Inc(3);
  requests.With({"/b\"q\\\n", "500"}).Inc();
  r.AddGauge("test_depth", "Depth.").With({}).Set(2.5);
  auto& latency = r.AddHistogram("test_seconds", "Latency.", {"backend"}, {0.125, 1, 10});
  Histogram& memory = latency.With({"memory"});
  for (double v : {0.0625, 0.125, 0.5, 20.0}) memory.Observe(v);

  EXPECT_EQ(r.Render(),
            "# HELP test_requests_total Requests.\\nSecond line \\\\ end\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{route=\"/a\",code=\"200\"} 3\n"
            "test_requests_total{route=\"/b\\\"q\\\\\\n\",code=\"500\"} 1\n"
            "# HELP test_depth Depth.\n"
            "# TYPE test_depth gauge\n"
            "test_depth 2.5\n"
            "# HELP test_seconds Latency.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{backend=\"memory\",le=\"0.125\"} 2\n"
            "test_seconds_bucket{backend=\"memory\",le=\"1\"} 3\n"
            "test_seconds_bucket{backend=\"memory\",le=\"10\"} 3\n"
            "test_seconds_bucket{backend=\"memory\",le=\"+Inf\"} 4\n"
            "test_seconds_sum{backend=\"memory\"} 20.6875\n"
            "test_seconds_count{backend=\"memory\"} 4\n");
}

TEST(RegistryTest, UnlabelledFamiliesRenderBeforeFirstUse) {
  Registry r;
  r.AddCounter("a_total", "A.");
  r.AddHistogram("b_seconds", "B.", {}, {1});
  EXPECT_EQ(r.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
            "# HELP b_seconds B.\n# TYPE b_seconds histogram\n"
            "b_seconds_bucket{le=\"1\"} 0\nb_seconds_bucket{le=\"+Inf\"} 0\n"
            "b_seconds_sum 0\nb_seconds_count 0\n");
}

TEST(RegistryTest, LabelledFamilyWithoutChildrenRendersHeaderOnly) {
  Registry r;
  r.AddGauge("q_depth", "Depth.", {"backend"});
  EXPECT_EQ(r.Render(), "# HELP q_depth Depth.\n# TYPE q_depth gauge\n");
}

TEST(RegistryTest, WithReturnsStableReferences) {
  Registry r;
  auto& family = r.AddCounter("x_total", "X.", {"k"});
  Counter& first = family.With({"one"});
  for (int i = 0; i < 100; ++i) family.With({std::to_string(i)});
  EXPECT_EQ(&first, &family.With({"one"}));
  EXPECT_EQ(&first, &family.With(std::vector<std::string>{"one"}));
}

TEST(RegistryTest, CollectorsRunBeforeRender) {
  Registry r;
  Gauge& depth = r.AddGauge("depth", "Depth.").With({});
  int calls = 0;
  r.AddCollector([&] { depth.Set(++calls * 10); });
  EXPECT_NE(r.Render().find("depth 10\n"), std::string::npos);
  EXPECT_NE(r.Render().find("depth 20\n"), std::string::npos);
}

TEST(RegistryTest, CounterAddsFractionsAndNeverGoesDown) {
  Registry r;
  Counter& c = r.AddCounter("cpu_seconds_total", "CPU.").With({});
  c.Add(0.25);
  c.Add(-5);
  c.Add(std::numeric_limits<double>::quiet_NaN());
  c.Inc(2);
  EXPECT_DOUBLE_EQ(c.Value(), 2.25);
  c.AdvanceTo(10.5);
  c.AdvanceTo(3);
  EXPECT_DOUBLE_EQ(c.Value(), 10.5);
  EXPECT_NE(r.Render().find("cpu_seconds_total 10.5\n"), std::string::npos);
}

TEST(RegistryTest, LargeIntegerCounterRendersExactly) {
  Registry r;
  Counter& c = r.AddCounter("big_total", "Big.").With({});
  c.Inc(uint64_t{1} << 60);
  EXPECT_NE(r.Render().find("big_total 1152921504606846976\n"), std::string::npos);
}

TEST(RegistryTest, GaugeSetAddIncDec) {
  Gauge g;
  g.Set(5);
  g.Add(2.5);
  g.Inc();
  g.Dec();
  g.Dec();
  EXPECT_DOUBLE_EQ(g.Value(), 6.5);
}

TEST(RegistryTest, HistogramBucketsAreInclusiveUpperBounds) {
  auto bounds = std::make_shared<const std::vector<double>>(std::vector<double>{1, 2});
  Histogram h(bounds);
  h.Observe(1);    // le="1"
  h.Observe(1.5);  // le="2"
  h.Observe(2);    // le="2"
  h.Observe(3);    // +Inf
  h.Observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(h.Count(), 4u);
  EXPECT_DOUBLE_EQ(h.Sum(), 7.5);
}

TEST(RegistryTest, DefaultLatencyBucketsSpanHalfMillisecondToTwoMinutes) {
  const auto& b = DefaultLatencyBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.0005);
  EXPECT_DOUBLE_EQ(b.back(), 120);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(RegistryTest, FormatsNumbersPrometheusParses) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1000000), "1000000");
  EXPECT_EQ(FormatValue(0.0005), "0.0005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(1e-7), "1e-07");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(123456.789), "123456.789");
  EXPECT_EQ(FormatValue(1e20), "100000000000000000000");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(RegistryTest, Escaping) {
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("a\\b\"c\nd"), "a\\\\b\"c\\nd");
}

TEST(RegistryDeathTest, WrongLabelCountAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  auto& family = r.AddCounter("x_total", "X.", {"a", "b"});
  EXPECT_DEATH(family.With({"only-one"}), "x_total takes 2 label values, got 1");
}

TEST(RegistryDeathTest, InvalidNamesAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  EXPECT_DEATH(r.AddCounter("bad-name", "X."), "invalid metric name");
  EXPECT_DEATH(r.AddCounter("ok_total", "X.", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(r.AddHistogram("h", "X.", {"le"}), "uses label 'le'");
  EXPECT_DEATH(r.AddHistogram("h", "X.", {}, {2, 1}), "strictly increasing");
  r.AddGauge("dup", "X.");
  EXPECT_DEATH(r.AddGauge("dup", "X."), "registered twice");
}

TEST(RegistryTest, ConcurrentUpdatesGiveExactTotals) {
  Registry r;
  auto& counters = r.AddCounter("c_total", "C.", {"k"});
  auto& histograms = r.AddHistogram("h_seconds", "H.", {"k"}, {0.5, 1.5});
  Gauge& gauge = r.AddGauge("g", "G.").With({});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& shared = counters.With({"shared"});
      for (int i = 0; i < kPerThread; ++i) {
        shared.Inc();
        // Also race the creation of children and the lookup path.
        counters.With({(i % 2 == 0) ? "even" : "odd"}).Inc();
        histograms.With({"shared"}).Observe((i + t) % 2);  // 0 or 1: exact sums
        gauge.Inc();
      }
    });
  }
  // Renders racing the updates must not crash or tear the format.
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.Render().empty());
  for (auto& th : threads) th.join();
  EXPECT_EQ(counters.With({"shared"}).Value(), double(kThreads) * kPerThread);
  EXPECT_EQ(counters.With({"even"}).Value(), double(kThreads) * kPerThread / 2);
  EXPECT_EQ(counters.With({"odd"}).Value(), double(kThreads) * kPerThread / 2);
  Histogram& h = histograms.With({"shared"});
  EXPECT_EQ(h.Count(), uint64_t(kThreads) * kPerThread);
  EXPECT_EQ(h.Sum(), double(kThreads) * kPerThread / 2);
  EXPECT_EQ(h.CumulativeCounts()[0], uint64_t(kThreads) * kPerThread / 2);
  EXPECT_EQ(gauge.Value(), double(kThreads) * kPerThread);
}

}  // namespace
}  // namespace mqlab::metrics
