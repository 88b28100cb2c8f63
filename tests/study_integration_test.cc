// A tiny study end to end (two versions, one worker count, two rungs), recorded to Prometheus:
// every output file, the schema, measurements that make sense against the capacity, and the
// series read back from Prometheus. Then what --prometheus off and an unusable --prometheus on do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab {
namespace {

using nlohmann::json;

// The shared servers' folder under ctest, else one of the test's own (the study starts what it
// needs there and stops it at the end).
std::string RuntimeDir(const testing::TempDir& dir) {
  const char* runtime = std::getenv("MQLAB_RUNTIME_DIR");
  return runtime ? std::string(runtime) : (dir.path() / "rt").string();
}

json ReadResults(const testing::TempDir& dir) {
  std::ifstream in(dir.path() / "out" / "results.json");
  return json::parse(in);
}

// The largest value of a step.prometheus series ([[t, v], …]); -1 when it has no point.
double MaxOf(const json& points) {
  double max = -1;
  for (const json& p : points) max = std::max(max, p[1].get<double>());
  return max;
}

TEST(StudyTest, TinyStudyWritesEveryOutputWithSaneFigures) {
  ASSERT_FALSE(testing::TestServiceUrl("postgres").empty());
  testing::TempDir dir("study");
  auto r = testing::RunMqlab(
      {"study", "--only", "mem,v3", "--workers", "2", "--backpressure", "on", "--ladder",
       "0.5,2", "--step-seconds", "1.5", "--harness-seconds", "4", "--service-ms", "20", "--out",
       (dir.path() / "out").string(), "--runtime-dir", RuntimeDir(dir), "--prometheus", "on",
       "--prometheus-wait", "on"},
      std::chrono::minutes(5));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"results.json", "results.csv", "summary.md", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "out" / f)) << f;
  }
  json res = ReadResults(dir);
  EXPECT_EQ(res["schema"], "mqlab.study/1");
  EXPECT_TRUE(res["complete"].get<bool>());
  EXPECT_TRUE(res["machine"]["cores"].is_number());
  ASSERT_EQ(res["cells"].size(), 2u);
  for (const auto& cell : res["cells"]) {
    SCOPED_TRACE(cell["id"].get<std::string>());
    EXPECT_FALSE(cell.contains("error")) << cell["error"];
    EXPECT_DOUBLE_EQ(cell["capacity"].get<double>(), 100.0);  // 2 workers / 20 ms
    ASSERT_EQ(cell["steps"].size(), 2u);
    const json& light = cell["steps"][0];
    const json& heavy = cell["steps"][1];
    // At half capacity the system keeps up: achieved ≈ offered, the SLO is met.
    EXPECT_NEAR(light["completedPerSec"].get<double>(), 50.0, 15.0) << light.dump();
    EXPECT_TRUE(light["meetsSlo"].get<bool>()) << light.dump();
    // A job takes at least its service time (the model takes 20 ms exactly, output included).
    // End to end runs from the intended send to the job's finishedAt, which the API gives in
    // whole milliseconds (truncated: up to 1 ms early), and the histogram reports a percentile
    // within 1/256 of it.
    EXPECT_GE(light["endToEnd"]["p50"].get<double>(), (20.0 - 1.0) * (1 - 1.0 / 256))
        << "a job takes at least its service time";
    // At twice capacity with backpressure on, the excess is rejected: it breaks by rejections.
    EXPECT_FALSE(heavy["meetsSlo"].get<bool>()) << heavy.dump();
    EXPECT_EQ(heavy["breaksBy"], "rejections") << heavy.dump();
    EXPECT_LE(heavy["completedPerSec"].get<double>(), 100.0 * 1.15);
    EXPECT_TRUE(light["theory"]["e2eMdcMs"].is_number());
    EXPECT_FALSE(light["series"].empty());
    EXPECT_TRUE(light["processes"].contains("api") || light["processes"].contains("serve"));
    EXPECT_DOUBLE_EQ(cell["breakingPoint"]["multiple"].get<double>(), 0.5);
    // Recorded to Prometheus: every rung has its series, read back over the rung's window.
    for (const json& step : cell["steps"]) {
      ASSERT_TRUE(step["prometheus"].is_object()) << step.dump();
      for (const char* key : {"queueDepth", "inflight", "utilisation"}) {
        EXPECT_TRUE(step["prometheus"][key].is_array()) << key;
      }
      EXPECT_FALSE(step["prometheus"]["queueDepth"].empty()) << step["prometheus"].dump();
      EXPECT_FALSE(step["prometheus"]["inflight"].empty()) << step["prometheus"].dump();
    }
    // At twice capacity the queue fills (to its bound, ~1 s of work) and the workers are busy.
    EXPECT_GT(MaxOf(heavy["prometheus"]["queueDepth"]), 5) << heavy["prometheus"].dump();
    EXPECT_GT(MaxOf(heavy["prometheus"]["utilisation"]), 0.5) << heavy["prometheus"].dump();
    EXPECT_LE(MaxOf(heavy["prometheus"]["utilisation"]), 1.3) << heavy["prometheus"].dump();
  }
  ASSERT_TRUE(res["prometheus"].is_object()) << res["prometheus"].dump();
  EXPECT_GT(res["prometheus"]["scrapeIntervalSeconds"].get<double>(), 0);
  EXPECT_TRUE(res["prometheus"]["url"].get<std::string>().starts_with("http://127.0.0.1:"));
  EXPECT_TRUE(res["servers"].contains("prometheus"));
  // The harness check ran on its own (mem, 2 workers, ρ = 0.8) and compared against M/D/c.
  const json& check = res["harnessCheck"];
  ASSERT_TRUE(check.is_object()) << check.dump();
  EXPECT_EQ(check["model"], "M/D/c");
  EXPECT_NEAR(check["rho"].get<double>(), 0.8, 0.15);
  EXPECT_GT(check["measuredWaitMs"].get<double>(), 0.0);
  EXPECT_GT(check["ratio"].get<double>(), 0.0);
  EXPECT_FALSE(check["step"]["prometheus"]["queueDepth"].empty()) << check["step"].dump();
  std::ifstream csv(dir.path() / "out" / "results.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1 + 4);
}

TEST(StudyTest, PrometheusOffRecordsNothingAndOnFailsClearlyWhenItCannotStart) {
  testing::TempDir dir("study-prom");
  // The smallest study: mem needs no server.
  const std::vector<std::string> tiny = {
      "study", "--only", "mem", "--workers", "1", "--backpressure", "on", "--ladder", "0.5",
      "--step-seconds", "0.5", "--harness-seconds", "0", "--out", (dir.path() / "out").string()};
  auto args = tiny;
  args.insert(args.end(), {"--runtime-dir", RuntimeDir(dir), "--prometheus", "off"});
  auto off = testing::RunMqlab(args, std::chrono::minutes(2));
  ASSERT_EQ(off.exit_code, 0) << off.output;
  json res = ReadResults(dir);
  EXPECT_TRUE(res["prometheus"].is_null());
  ASSERT_EQ(res["cells"].size(), 1u);
  for (const json& step : res["cells"][0]["steps"]) {
    EXPECT_FALSE(step.contains("prometheus"));
    EXPECT_FALSE(step["series"].empty()) << "the study's own samples are still there";
  }

  // A runtime folder Prometheus cannot live in: the study stops at once and says why.
  args = tiny;
  args.insert(args.end(), {"--runtime-dir", "/proc/mqlab-no-such-folder", "--prometheus", "on"});
  auto on = testing::RunMqlab(args, std::chrono::minutes(2));
  EXPECT_EQ(on.exit_code, 1) << on.output;
  EXPECT_NE(on.output.find("--prometheus on, but Prometheus cannot be used"), std::string::npos)
      << on.output;
}

TEST(StudyTest, MisuseIsExitCode2) {
  for (std::vector<std::string> args : {std::vector<std::string>{"study", "--only", "v9"},
                                        {"study", "--workers", "x"},
                                        {"study", "--profile", "huge"},
                                        {"study", "--ladder", "0"},
                                        {"study", "--prometheus", "maybe"}}) {
    auto r = testing::RunMqlab(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
  }
}

}  // namespace
}  // namespace mqlab
