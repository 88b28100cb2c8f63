// A tiny study end to end (two versions, one worker count, two rungs): every output file, the
// schema, measurements that make sense against the capacity.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab {
namespace {

using nlohmann::json;

TEST(StudyTest, TinyStudyWritesEveryOutputWithSaneFigures) {
  ASSERT_FALSE(testing::TestServiceUrl("postgres").empty());
  testing::TempDir dir("study");
  const char* runtime = std::getenv("MQLAB_RUNTIME_DIR");
  auto r = testing::RunMqlab(
      {"study", "--only", "mem,v3", "--workers", "2", "--backpressure", "on", "--ladder",
       "0.5,2", "--step-seconds", "1.5", "--harness-seconds", "4", "--service-ms", "20", "--out",
       (dir.path() / "out").string(), "--runtime-dir",
       runtime ? std::string(runtime) : (dir.path() / "rt").string()},
      std::chrono::minutes(5));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"results.json", "results.csv", "summary.md", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "out" / f)) << f;
  }
  std::ifstream in(dir.path() / "out" / "results.json");
  json res = json::parse(in);
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
    EXPECT_GE(light["endToEnd"]["p50"].get<double>(), 20.0) << "a job takes at least its service time";
    // At twice capacity with backpressure on, the excess is rejected: it breaks by rejections.
    EXPECT_FALSE(heavy["meetsSlo"].get<bool>()) << heavy.dump();
    EXPECT_EQ(heavy["breaksBy"], "rejections") << heavy.dump();
    EXPECT_LE(heavy["completedPerSec"].get<double>(), 100.0 * 1.15);
    EXPECT_TRUE(light["theory"]["e2eMdcMs"].is_number());
    EXPECT_FALSE(light["series"].empty());
    EXPECT_TRUE(light["processes"].contains("api") || light["processes"].contains("serve"));
    EXPECT_DOUBLE_EQ(cell["breakingPoint"]["multiple"].get<double>(), 0.5);
  }
  // The harness check ran on its own (mem, 2 workers, ρ = 0.8) and compared against M/D/c.
  const json& check = res["harnessCheck"];
  ASSERT_TRUE(check.is_object()) << check.dump();
  EXPECT_EQ(check["model"], "M/D/c");
  EXPECT_NEAR(check["rho"].get<double>(), 0.8, 0.15);
  EXPECT_GT(check["measuredWaitMs"].get<double>(), 0.0);
  EXPECT_GT(check["ratio"].get<double>(), 0.0);
  std::ifstream csv(dir.path() / "out" / "results.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 1 + 4);
}

TEST(StudyTest, MisuseIsExitCode2) {
  for (std::vector<std::string> args : {std::vector<std::string>{"study", "--only", "v9"},
                                        {"study", "--workers", "x"},
                                        {"study", "--profile", "huge"},
                                        {"study", "--ladder", "0"}}) {
    auto r = testing::RunMqlab(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
  }
}

}  // namespace
}  // namespace mqlab
