#include "load/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace mqlab::load {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::vector<double> All(ArrivalSchedule s) {
  std::vector<double> out;
  while (auto t = s.Next()) out.push_back(std::chrono::duration<double>(*t).count());
  return out;
}

LoadOptions Constant(double rate, Nanos duration, Arrivals a = Arrivals::kEven) {
  LoadOptions o;
  o.url = "http://127.0.0.1:1/";
  o.rate = rate;
  o.duration = duration;
  o.arrivals = a;
  return o;
}

TEST(ScheduleTest, EvenArrivalsAreExactlyOneOverRateApartFromZero) {
  RateProfile p = RateProfile::For(Constant(100, seconds(2)));
  std::vector<double> t = All(ArrivalSchedule(p, Arrivals::kEven, 1));
  ASSERT_EQ(t.size(), 200u);  // [0, 2 s) at 100/s; the end is exclusive
  EXPECT_DOUBLE_EQ(t.front(), 0.0);
  for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], 0.01, 1e-9) << i;
}

TEST(ScheduleTest, ThreadsSplitTheSameSequence) {
  for (Arrivals a : {Arrivals::kEven, Arrivals::kPoisson}) {
    RateProfile p = RateProfile::For(Constant(500, seconds(2), a));
    std::vector<double> one = All(ArrivalSchedule(p, a, 42));
    std::multiset<double> merged;
    for (int k = 0; k < 3; ++k) {
      for (double t : All(ArrivalSchedule(p, a, 42, 3, k))) merged.insert(t);
    }
    ASSERT_EQ(merged.size(), one.size());
    EXPECT_EQ(std::vector<double>(merged.begin(), merged.end()), one);
  }
}

TEST(ScheduleTest, PoissonIsReproducibleWithItsSeed) {
  RateProfile p = RateProfile::For(Constant(1000, seconds(1), Arrivals::kPoisson));
  std::vector<double> a = All(ArrivalSchedule(p, Arrivals::kPoisson, 7));
  std::vector<double> b = All(ArrivalSchedule(p, Arrivals::kPoisson, 7));
  std::vector<double> c = All(ArrivalSchedule(p, Arrivals::kPoisson, 8));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ScheduleTest, PoissonHasTheRightMeanAndCoefficientOfVariation) {
  // 200,000 gaps at 1000/s: the mean gap's standard error is 0.22%, the CV's about 0.3%.
  RateProfile p = RateProfile::For(Constant(1000, seconds(200), Arrivals::kPoisson));
  std::vector<double> t = All(ArrivalSchedule(p, Arrivals::kPoisson, 12345));
  ASSERT_GT(t.size(), 190000u);
  std::vector<double> gaps;
  for (size_t i = 1; i < t.size(); ++i) gaps.push_back(t[i] - t[i - 1]);
  double sum = 0, sq = 0;
  for (double g : gaps) sum += g;
  const double mean = sum / static_cast<double>(gaps.size());
  for (double g : gaps) sq += (g - mean) * (g - mean);
  const double cv = std::sqrt(sq / static_cast<double>(gaps.size() - 1)) / mean;
  EXPECT_NEAR(mean, 0.001, 0.001 * 0.01);
  EXPECT_NEAR(cv, 1.0, 0.02);
  EXPECT_NEAR(static_cast<double>(t.size()), 200000, 5 * std::sqrt(200000.0));
}

TEST(ScheduleTest, RampFollowsTheIntegralOfTheRate) {
  // 0 → 100/s over 2 s (100 arrivals), then 100 → 100 over 1 s (100 more).
  RateProfile p(0, {{100, seconds(2)}, {100, seconds(1)}});
  EXPECT_DOUBLE_EQ(p.duration_seconds(), 3.0);
  EXPECT_DOUBLE_EQ(p.ExpectedArrivals(2.0), 100.0);
  EXPECT_DOUBLE_EQ(p.RateAt(1.0), 50.0);
  std::vector<double> t = All(ArrivalSchedule(p, Arrivals::kEven, 1));
  ASSERT_EQ(t.size(), 200u);
  // The i-th arrival of a linear ramp r(t) = 50·t sits at Λ⁻¹(i) = √(i/25).
  EXPECT_NEAR(t[25], 1.0, 1e-9);
  EXPECT_NEAR(t[100], 2.0, 1e-9);
  for (size_t i = 101; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], 0.01, 1e-9);
}

TEST(ScheduleTest, RampCutOrHeldByDurationAndWarmupPrepended) {
  LoadOptions o = Constant(0, Nanos(0));
  o.ramp = {{100, seconds(2)}};
  o.duration = seconds(1);  // cut half-way: 0 → 50/s over 1 s = 25 arrivals
  EXPECT_EQ(All(ArrivalSchedule(RateProfile::For(o), Arrivals::kEven, 1)).size(), 25u);
  o.duration = seconds(3);  // held at 100/s for one more second
  EXPECT_EQ(All(ArrivalSchedule(RateProfile::For(o), Arrivals::kEven, 1)).size(), 200u);
  o.warmup = milliseconds(500);  // warm-up at the first positive rate, 100/s
  RateProfile p = RateProfile::For(o);
  EXPECT_DOUBLE_EQ(p.duration_seconds(), 3.5);
  EXPECT_EQ(All(ArrivalSchedule(p, Arrivals::kEven, 1)).size(), 250u);
}

TEST(ScheduleTest, PoissonRampHasTheExpectedCount) {
  RateProfile p(0, {{2000, seconds(10)}});  // Λ(end) = 10,000
  size_t n = All(ArrivalSchedule(p, Arrivals::kPoisson, 99)).size();
  EXPECT_NEAR(static_cast<double>(n), 10000, 5 * std::sqrt(10000.0));
}

}  // namespace
}  // namespace mqlab::load
