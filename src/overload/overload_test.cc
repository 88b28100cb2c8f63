#include "overload/overload.h"

#include <gtest/gtest.h>

#include <functional>

namespace mqlab::overload {
namespace {

using nlohmann::json;

// A run of 10 s before, 20 s of burst, 10 s after, with probes every second.
json MakeRun(std::string backpressure, const std::function<double(double)>& rss,
         const std::function<json(double)>& probe) {
  json r{{"backpressure", backpressure},
         {"kind", "async"},
         {"survived", true},
         {"phases", {{"before", {0, 10}}, {"burst", {10, 30}}, {"after", {30, 40}}}},
         {"rss", json::array()},
         {"probes", json::array()}};
  for (int t = 0; t < 40; ++t) {
    r["rss"].push_back({{"t", t}, {"front", rss(t)}});
    json p = probe(t);
    p["t"] = t;
    r["probes"].push_back(p);
  }
  return r;
}

json Accepted(double ms) { return {{"status", 202}, {"latencyMs", ms}, {"retryAfter", false}}; }
json Rejected(bool retry_after) {
  return {{"status", 429}, {"latencyMs", nullptr}, {"retryAfter", retry_after}};
}

TEST(OverloadJudgeTest, BackpressureOnThatHoldsIsAsExpected) {
  json r = MakeRun("on", [](double) { return 20.0; }, [](double t) {
    if (t >= 10 && t < 30) return int(t) % 2 ? Rejected(true) : Accepted(900);
    return t >= 32 || t < 10 ? Accepted(25) : Accepted(600);
  });
  Judge(r, 2000);
  const json& f = r["figures"];
  EXPECT_DOUBLE_EQ(f["baselineP50Ms"].get<double>(), 25);
  EXPECT_DOUBLE_EQ(f["acceptedP99Ms"].get<double>(), 900);
  EXPECT_EQ(f["rejections"]["probesRejected"], 10);
  EXPECT_EQ(f["rejections"]["probesWithRetryAfter"], 10);
  // Probes at 30 and 31 still slow (two in a window of five: the backlog, not noise); from 32 on
  // every probe is served normally.
  EXPECT_DOUBLE_EQ(f["recoverySeconds"].get<double>(), 2);
  EXPECT_NEAR(f["rssMb"]["burstSecondHalfGrowthPerMin"].get<double>(), 0, 1e-9);
  EXPECT_TRUE(r["verdict"]["asExpected"].get<bool>()) << r["verdict"].dump();
}

TEST(OverloadJudgeTest, EachBrokenPromiseIsCaught) {
  auto fine = [](double t) { return t >= 10 && t < 30 ? Rejected(true) : Accepted(25); };
  json growing = MakeRun("on", [](double t) { return 20 + t; }, fine);  // +60 MB/min
  Judge(growing, 2000);
  EXPECT_FALSE(growing["verdict"]["rssFlat"].get<bool>());
  EXPECT_FALSE(growing["verdict"]["asExpected"].get<bool>());

  json no_header = MakeRun("on", [](double) { return 20.0; }, [](double t) {
    return t >= 10 && t < 30 ? Rejected(t != 15) : Accepted(25);
  });
  Judge(no_header, 2000);
  EXPECT_FALSE(no_header["verdict"]["rejectionsCarryRetryAfter"].get<bool>());

  json slow = MakeRun("on", [](double) { return 20.0; }, [](double t) {
    return t >= 10 ? Accepted(3000) : Accepted(25);  // over the SLO, and never back
  });
  Judge(slow, 2000);
  EXPECT_FALSE(slow["verdict"]["acceptedP99UnderSlo"].get<bool>());
  EXPECT_TRUE(slow["figures"]["recoverySeconds"].is_null());
  EXPECT_FALSE(slow["verdict"]["recoveredWithin10s"].get<bool>());

  json died = MakeRun("off", [](double) { return 20.0; }, [](double t) {
    return Accepted(t < 10 ? 25 : 25 * t);
  });
  died["survived"] = false;
  Judge(died, 2000);
  EXPECT_TRUE(died["verdict"]["latencyGrew"].get<bool>());
  EXPECT_FALSE(died["verdict"]["asExpected"].get<bool>());
}

TEST(OverloadJudgeTest, RecoveryForgivesOneStraySlowProbeButNotTwo) {
  auto burst = [](double t) { return t >= 10 && t < 30 ? Rejected(true) : Accepted(25); };
  json stray = MakeRun("on", [](double) { return 20.0; }, [&](double t) {
    return t == 35 ? Accepted(400) : burst(t);  // one spike, five seconds after the burst
  });
  Judge(stray, 2000);
  EXPECT_DOUBLE_EQ(stray["figures"]["recoverySeconds"].get<double>(), 0);
  json relapse = MakeRun("on", [](double) { return 20.0; }, [&](double t) {
    return t == 35 || t == 36 ? Accepted(400) : burst(t);  // slow again for two probes
  });
  Judge(relapse, 2000);
  EXPECT_DOUBLE_EQ(relapse["figures"]["recoverySeconds"].get<double>(), 7);
}

TEST(OverloadJudgeTest, BackpressureOffMustShowLatencyGrowing) {
  json flat = MakeRun("off", [](double) { return 20.0; }, [](double) { return Accepted(25); });
  Judge(flat, 2000);
  EXPECT_FALSE(flat["verdict"]["latencyGrew"].get<bool>()) << "no overload was shown";
  json grew = MakeRun("off", [](double) { return 20.0; }, [](double t) {
    return Accepted(t < 10 ? 25 : 25 + 100 * (t - 10));
  });
  Judge(grew, 2000);
  EXPECT_TRUE(grew["verdict"]["asExpected"].get<bool>()) << grew["figures"].dump();
}

}  // namespace
}  // namespace mqlab::overload
