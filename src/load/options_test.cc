#include "load/options.h"

#include <gtest/gtest.h>

namespace mqlab::load {
namespace {

using namespace std::chrono_literals;

LoadOptions Valid() {
  LoadOptions o;
  o.url = "http://127.0.0.1:8080/healthz";
  o.rate = 100;
  o.duration = 10s;
  return o;
}

TEST(ParseDurationTest, ReadsUnitsAndCompounds) {
  EXPECT_EQ(*ParseDuration("10s"), 10s);
  EXPECT_EQ(*ParseDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseDuration("250us"), 250us);
  EXPECT_EQ(*ParseDuration("2m"), 120s);
  EXPECT_EQ(*ParseDuration("1h"), 3600s);
  EXPECT_EQ(*ParseDuration("1m30s"), 90s);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500ms);
  EXPECT_EQ(*ParseDuration("3"), 3s);  // a bare number: the given unit
  EXPECT_EQ(*ParseDuration("3", std::chrono::milliseconds(1)), 3ms);
  for (const char* bad : {"", "s", "10x", "-1s", "1s2", "ten seconds", "1..5s"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

TEST(ParseDurationTest, FormatsTheShortestExactForm) {
  EXPECT_EQ(FormatDuration(10s), "10s");
  EXPECT_EQ(FormatDuration(120s), "2m");
  EXPECT_EQ(FormatDuration(1500ms), "1.5s");
  EXPECT_EQ(FormatDuration(250ms), "250ms");
  EXPECT_EQ(FormatDuration(250us), "250us");
  EXPECT_EQ(FormatDuration(0s), "0s");
}

TEST(ParseRampTest, ReadsStages) {
  auto r = ParseRamp("100:30s, 500/s:1m,0:10s");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 3u);
  EXPECT_DOUBLE_EQ((*r)[1].target_rate, 500);
  EXPECT_EQ((*r)[1].duration, 60s);
  for (const char* bad : {"", "100", "100:", ":30s", "x:1s", "100:0s", "-5:1s", "100:1s,"}) {
    EXPECT_FALSE(ParseRamp(bad)) << bad;
  }
}

TEST(ParseHeaderTest, SplitsNameAndValue) {
  auto h = ParseHeader("Authorization: Bearer abc:def");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->first, "Authorization");
  EXPECT_EQ(h->second, "Bearer abc:def");
  EXPECT_FALSE(ParseHeader("no colon"));
  EXPECT_FALSE(ParseHeader("bad name: x"));
}

TEST(LoadOptionsTest, ValidatesModelsAndLimits) {
  EXPECT_TRUE(Valid().Validate());
  auto message = [](LoadOptions o) {
    Status s = o.Validate();
    return s ? std::string() : s.error().message;
  };
  LoadOptions o = Valid();
  o.vus = 4;
  EXPECT_NE(message(o).find("exclude each other"), std::string::npos);
  o = Valid();
  o.rate = 0;
  EXPECT_NE(message(o).find("one of --rate, --ramp or --vus"), std::string::npos);
  o = Valid();
  o.duration = 0s;
  EXPECT_NE(message(o).find("--duration"), std::string::npos);
  o.ramp = {{100, 5s}};  // a ramp brings its own duration
  EXPECT_TRUE(o.Validate());
  EXPECT_EQ(o.MeasuredDuration(), 5s);
  o = Valid();
  o.url = "https://example.com/";
  EXPECT_NE(message(o).find("--url"), std::string::npos);
  o = Valid();
  o.thresholds = {"e2e_p99<2s"};
  EXPECT_NE(message(o).find("--follow"), std::string::npos);
  o.follow = true;
  EXPECT_TRUE(o.Validate());
  o.thresholds = {"p99<soon"};
  EXPECT_NE(message(o).find("--threshold"), std::string::npos);
  o = Valid();
  o.rate = 0;
  o.vus = 2;
  o.threads = 3;
  EXPECT_NE(message(o).find("--threads"), std::string::npos);
  o.threads = 1;
  o.connections = 10;
  EXPECT_NE(message(o).find("--connections"), std::string::npos);
  o = Valid();
  o.idle_spin = 11ms;
  EXPECT_NE(message(o).find("--idle-spin"), std::string::npos);
  o.idle_spin = 10ms;
  EXPECT_TRUE(o.Validate());
}

TEST(LoadOptionsTest, ResolvesDefaultsByLittlesLaw) {
  LoadOptions o = ResolveDefaults(Valid());
  EXPECT_EQ(o.method, "GET");
  EXPECT_EQ(o.connections, 50);  // 2 × 100/s × 250 ms
  EXPECT_EQ(o.backlog, 1000);    // max(1000, 100/s × 10 s)
  EXPECT_DOUBLE_EQ(o.poll_rate, 100);
  LoadOptions big = Valid();
  big.rate = 100000;
  big.body = "{}";
  big = ResolveDefaults(big);
  EXPECT_EQ(big.method, "POST");
  EXPECT_EQ(big.connections, 1024);
  EXPECT_EQ(big.backlog, 1000000);
  LoadOptions closed = Valid();
  closed.rate = 0;
  closed.vus = 8;
  closed = ResolveDefaults(closed);
  EXPECT_EQ(closed.connections, 8);
  EXPECT_DOUBLE_EQ(closed.poll_rate, 1000);
}

TEST(LoadOptionsTest, SpinsAndRunsAsBatchOnlyInTheClosedModelByDefault) {
  LoadOptions open = ResolveDefaults(Valid());
  EXPECT_EQ(open.idle_spin, 0ns);
  EXPECT_EQ(open.cpu_policy, CpuPolicy::kNormal);
  LoadOptions closed = Valid();
  closed.rate = 0;
  closed.vus = 8;
  closed = ResolveDefaults(closed);
  EXPECT_EQ(closed.idle_spin, 50us);
  EXPECT_EQ(closed.cpu_policy, CpuPolicy::kBatch);
  // What the user set stays, in both models.
  closed.idle_spin = 0ns;
  closed.cpu_policy = CpuPolicy::kNormal;
  closed = ResolveDefaults(closed);
  EXPECT_EQ(closed.idle_spin, 0ns);
  EXPECT_EQ(closed.cpu_policy, CpuPolicy::kNormal);
  LoadOptions spinning = Valid();
  spinning.idle_spin = 20us;
  spinning.cpu_policy = CpuPolicy::kBatch;
  spinning = ResolveDefaults(spinning);
  EXPECT_EQ(spinning.idle_spin, 20us);
  EXPECT_EQ(spinning.cpu_policy, CpuPolicy::kBatch);
  EXPECT_EQ(CpuPolicyName(CpuPolicy::kBatch), "batch");
}

}  // namespace
}  // namespace mqlab::load
