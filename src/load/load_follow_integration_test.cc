// --follow against the real embedded service (`mqlab serve`, memory queue, SQLite): every
// accepted job is followed to its end, end-to-end latency is at least the model's service time
// and is reported apart from the submit latency.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "load/load.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab::load {
namespace {

using namespace std::chrono_literals;

class LoadFollowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = mqlab::testing::MqlabProcess::Start(
        {"serve", "--listen", "127.0.0.1:0", "--data-dir", (dir_.path() / "data").string(),
         "--service-ms", "20", "--workers", "2", "--log-level", "warn"},
        dir_.path() / "serve.log");
    ASSERT_TRUE(p) << p.error().ToString();
    serve_ = std::move(*p);
  }

  mqlab::testing::TempDir dir_{"load-follow"};
  std::unique_ptr<mqlab::testing::MqlabProcess> serve_;
};

TEST_F(LoadFollowTest, ReportsCompletedJobsAndEndToEndLatency) {
  LoadOptions o;
  o.url = serve_->url() + "/mem/ocr/jobs";
  o.body = R"({"inputPath":"inputs/page.png"})";
  o.rate = 40;  // 2 workers × 20 ms = 100 jobs/s of capacity: ρ = 0.4
  o.duration = 2s;
  o.follow = true;
  o.thresholds = {"e2e_p99<5s", "jobs_per_s>20"};
  Result<LoadSummary> r = RunLoad(o);
  ASSERT_TRUE(r) << r.error().ToString();
  const LoadSummary& s = *r;
  EXPECT_EQ(s.options.method, "POST");
  EXPECT_EQ(s.by_status.at(202), 80u);
  const FollowSummary& f = s.follow;
  EXPECT_TRUE(f.enabled);
  EXPECT_EQ(f.accepted, 80u);
  EXPECT_EQ(f.followed, 80u);
  EXPECT_EQ(f.succeeded, 80u);
  EXPECT_EQ(f.unfinished, 0u);
  EXPECT_GE(f.polls, 80u);
  // Every job ran the 20 ms model after its submission; createdAt/finishedAt have ms precision.
  EXPECT_GE(f.job_server.min_ms, 19);
  EXPECT_GE(f.e2e.min_ms, 19);
  EXPECT_EQ(f.e2e.clock, "intended");
  // A poll sees a job finished only after it finished: the observed figure bounds e2e above.
  EXPECT_GE(f.e2e_observed.p50_ms, f.e2e.p50_ms);
  EXPECT_GE(f.e2e_observed.max_ms, f.e2e.max_ms * 0.99);
  // Submit latency is the API's answer, not the job's: far below the job's end to end.
  EXPECT_LT(s.latency.p50_ms, f.e2e.p50_ms);
  EXPECT_NEAR(f.jobs_per_second, 40, 40 * 0.25);
  EXPECT_TRUE(s.thresholds_ok) << ToJson(s).dump(2);
}

TEST_F(LoadFollowTest, TheCommandWritesFollowFiguresToJson) {
  const auto json_path = dir_.path() / "follow.json";
  auto r = mqlab::testing::RunMqlab({"load", "--url", serve_->url() + "/mem/ocr/jobs", "--body",
                                     R"({"inputPath":"in/a.png"})", "--rate", "30", "--arrivals",
                                     "poisson", "--seed", "3", "--duration", "1s", "--follow",
                                     "--threshold", "e2e_p99<10s", "--json", json_path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("job e2e"), std::string::npos) << r.output;
  std::ifstream in(json_path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  ASSERT_TRUE(j.is_object()) << ss.str();
  EXPECT_EQ(j["parameters"]["arrivals"], "poisson");
  EXPECT_EQ(j["parameters"]["seed"], 3);
  EXPECT_GT(j["follow"]["succeeded"].get<int>(), 0);
  EXPECT_EQ(j["follow"]["succeeded"], j["follow"]["accepted"]);
  EXPECT_EQ(j["follow"]["unfinished"], 0);
  EXPECT_EQ(j["follow"]["e2eMs"]["clock"], "intended");
  EXPECT_GE(j["follow"]["jobServerMs"]["p50"].get<double>(), 19);
}

}  // namespace
}  // namespace mqlab::load
