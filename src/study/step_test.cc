// The study's judgement of a rung (SLO, keeping up, how it broke), the breaking point of a
// ladder and the harness check.
#include "study/step.h"

#include <gtest/gtest.h>

#include "study/runner.h"

namespace mqlab::study {
namespace {

using nlohmann::json;

// A rung that met everything: 100 sent, all 202, p99 well under the SLO, kept up.
json GoodStep() {
  return {{"multiple", 0.5},
          {"offeredRps", 50.0},
          {"acceptedRps", 50.0},
          {"completedPerSec", 49.0},
          {"endToEnd", {{"p99", 120.0}}},
          {"errorRate", 0.0},
          {"counts", {{"sent", 100}, {"status", {{"202", 100}}}, {"timeouts", 0},
                      {"connectionErrors", 0}, {"dropped", 0}, {"unfinished", 0},
                      {"failedJobs", 0}}}};
}

TEST(JudgeTest, ARungUnderTheSloThatKeptUpMeetsIt) {
  Verdict v = Judge(GoodStep(), StudyOptions{});
  EXPECT_TRUE(v.meets_slo);
  EXPECT_EQ(v.breaks_by, "");
}

TEST(JudgeTest, CompletionsFallingBehindIsQueueGrowthEvenWithAGoodP99) {
  json step = GoodStep();
  step["acceptedRps"] = 60.0;
  step["completedPerSec"] = 50.0;  // 0.83 of what was accepted: the backlog grew
  Verdict v = Judge(step, StudyOptions{});
  EXPECT_FALSE(v.meets_slo);
  EXPECT_EQ(v.breaks_by, "queue growth");

  step["completedPerSec"] = 55.0;  // 0.92: within the margin
  EXPECT_TRUE(Judge(step, StudyOptions{}).meets_slo);
}

TEST(JudgeTest, AP99OverTheSloWhileKeepingUpIsLatency) {
  json step = GoodStep();
  step["endToEnd"]["p99"] = 2500.0;
  Verdict v = Judge(step, StudyOptions{});
  EXPECT_FALSE(v.meets_slo);
  EXPECT_EQ(v.breaks_by, "latency");

  StudyOptions lax;
  lax.slo_p99_ms = 3000;
  EXPECT_TRUE(Judge(step, lax).meets_slo);
}

TEST(JudgeTest, ErrorsAreClassifiedByKindInOrder) {
  json step = GoodStep();
  step["errorRate"] = 0.3;
  step["counts"]["status"] = {{"202", 70}, {"429", 30}};
  EXPECT_EQ(Judge(step, StudyOptions{}).breaks_by, "rejections");

  step["counts"]["status"] = {{"200", 70}, {"502", 30}};
  EXPECT_EQ(Judge(step, StudyOptions{}).breaks_by, "5xx");

  step["counts"]["timeouts"] = 40;  // timeouts are named first: they are what a client feels
  EXPECT_EQ(Judge(step, StudyOptions{}).breaks_by, "timeouts");

  json dropped = GoodStep();
  dropped["counts"]["dropped"] = 3;  // the generator fell behind: the figures are not the system's
  EXPECT_FALSE(Judge(dropped, StudyOptions{}).meets_slo);
  EXPECT_EQ(Judge(dropped, StudyOptions{}).breaks_by, "dropped");
}

TEST(BreakingPointTest, IsTheHighestRungWithEveryLowerRungMeetingTheSlo) {
  auto rung = [](double m, bool ok, const char* how) {
    return json{{"multiple", m}, {"offeredRps", m * 100}, {"meetsSlo", ok},
                {"breaksBy", ok ? json(nullptr) : json(how)}};
  };
  // Out of order on purpose, and a lucky rung above the first failure does not count.
  json steps = {rung(1.2, false, "queue growth"), rung(0.5, true, ""), rung(2.0, true, ""),
                rung(0.8, true, "")};
  json bp = BreakingPoint(steps);
  EXPECT_DOUBLE_EQ(bp["multiple"].get<double>(), 0.8);
  EXPECT_DOUBLE_EQ(bp["offeredRps"].get<double>(), 80.0);
  EXPECT_EQ(bp["how"], "queue growth");

  EXPECT_TRUE(BreakingPoint(json{rung(0.5, false, "latency")}).is_null());
  EXPECT_TRUE(BreakingPoint(json{rung(0.5, true, "")})["how"].is_null()) << "never broke";
}

TEST(HarnessCheckTest, ComparesWithMdcForFixedServiceAndMmcOtherwise) {
  json step = {{"queueWaitMeanMs", 12.0},
               {"theory", {{"rho", 0.8}, {"wqMdcMs", 10.0}, {"wqMmcMs", 20.0}}}};
  json fixed = HarnessCheck(step, "fixed");
  EXPECT_EQ(fixed["model"], "M/D/c");
  EXPECT_DOUBLE_EQ(fixed["ratio"].get<double>(), 1.2);
  EXPECT_TRUE(fixed["ok"].get<bool>());

  json exp = HarnessCheck(step, "exp");
  EXPECT_EQ(exp["model"], "M/M/c");
  EXPECT_DOUBLE_EQ(exp["ratio"].get<double>(), 0.6);
  EXPECT_FALSE(exp["ok"].get<bool>()) << "0.6 is outside [1/1.5, 1.5]";

  EXPECT_TRUE(HarnessCheck(json{{"queueWaitMeanMs", nullptr}}, "fixed").is_null());
}

}  // namespace
}  // namespace mqlab::study
