#include "load/threshold.h"

#include <gtest/gtest.h>

namespace mqlab::load {
namespace {

TEST(ThresholdTest, ParsesK6Forms) {
  auto t = ParseThreshold("p99<500ms");
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->metric, "p99");
  EXPECT_EQ(t->kind, Threshold::Kind::kLatency);
  EXPECT_EQ(t->op, Threshold::Op::kLt);
  EXPECT_DOUBLE_EQ(t->limit, 500);

  t = ParseThreshold(" p(99.9) <= 2s ");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->metric, "p99.9");
  EXPECT_EQ(t->op, Threshold::Op::kLe);
  EXPECT_DOUBLE_EQ(t->limit, 2000);

  t = ParseThreshold("avg<200");  // a bare number is in ms, as k6
  ASSERT_TRUE(t);
  EXPECT_EQ(t->metric, "mean");
  EXPECT_DOUBLE_EQ(t->limit, 200);

  t = ParseThreshold("errors<1%");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, Threshold::Kind::kRate);
  EXPECT_DOUBLE_EQ(t->limit, 0.01);
  EXPECT_DOUBLE_EQ(ParseThreshold("errors<0.05")->limit, 0.05);

  t = ParseThreshold("rps>=100/s");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, Threshold::Kind::kThroughput);
  EXPECT_EQ(t->op, Threshold::Op::kGe);
  EXPECT_DOUBLE_EQ(t->limit, 100);

  t = ParseThreshold("e2e_p99<2s");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->metric, "e2e_p99");
  EXPECT_TRUE(t->NeedsFollow());
  EXPECT_FALSE(ParseThreshold("p99<2s")->NeedsFollow());
}

TEST(ThresholdTest, RejectsWhatItCannotRead) {
  for (const char* bad : {"p99", "p98<1s", "p99<banana", "errors<5ms", "errors<150%", "rps>fast",
                          "e2e_errors<1%", "p99=<1s", "<1s", "latency<1s"}) {
    auto t = ParseThreshold(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(ThresholdTest, EvaluatesAgainstASummary) {
  LoadSummary s;
  s.latency.count = 100;
  s.latency.p99_ms = 250;
  s.sent = 200;
  s.scheduled = 200;
  s.by_status = {{200, 196}, {503, 2}};
  s.timeouts = 1;
  s.connection_errors = 1;
  s.measured_seconds = 10;
  s.achieved_rate = 19.8;
  auto r = EvaluateThresholds(
      s, {"p99<500ms", "p99<200", "errors<1%", "errors<=2%", "rps>10", "dropped<1%", "e2e_p99<1s"});
  ASSERT_EQ(r.size(), 7u);
  EXPECT_TRUE(r[0].ok);
  EXPECT_FALSE(r[1].ok);
  EXPECT_FALSE(r[2].ok);  // 4 of 200 = 2%
  EXPECT_DOUBLE_EQ(*r[2].actual, 0.02);
  EXPECT_TRUE(r[3].ok);
  EXPECT_TRUE(r[4].ok);
  EXPECT_TRUE(r[5].ok);
  EXPECT_FALSE(r[6].ok);  // no end-to-end samples: fails
  EXPECT_FALSE(r[6].actual.has_value());
}

}  // namespace
}  // namespace mqlab::load
