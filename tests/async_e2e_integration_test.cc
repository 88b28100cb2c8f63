// V3-V6 end to end: private servers + `mqlab api` + 1, 2 and 4 `mqlab worker` processes; jobs
// submitted over HTTP all reach SUCCESS, and GET shows the lifecycle.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "app/backends.h"
#include "mqlab/domain/job.h"
#include "http/client.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

struct Cell {
  std::string version;
  std::string kind;
  int workers;
};

std::string CellName(const ::testing::TestParamInfo<Cell>& info) {
  return fmt::format("{}_{}w", info.param.version, info.param.workers);
}

class AsyncEndToEndTest : public ::testing::TestWithParam<Cell> {
 protected:
  void SetUp() override {
    pg_ = testing::TestServiceUrl("postgres");
    ASSERT_FALSE(pg_.empty());
    if (GetParam().kind != "postgres") {
      backend_ = testing::TestServiceUrl(GetParam().kind);
      ASSERT_FALSE(backend_.empty());
    }
    schema_ = testing::UniqueSchemaName("e2e");
    queue_ = fmt::format("e2e_{}", NewJobId().substr(0, 8));
  }

  std::vector<std::string> CommonArgs() const {
    std::vector<std::string> a = {"--data-dir", (dir_.path() / "data").string(), "--postgres-url",
                                  pg_, "--pg-schema", schema_};
    if (!backend_.empty()) {
      a.push_back(app::UrlFlagFor(GetParam().kind));
      a.push_back(backend_);
    }
    return a;
  }

  std::unique_ptr<testing::MqlabProcess> StartApi() {
    std::vector<std::string> args = {"api", "--listen", "127.0.0.1:0", "--queue-name", queue_,
                                     "--max-queue-depth", "100000"};
    for (auto& a : CommonArgs()) args.push_back(a);
    auto p = testing::MqlabProcess::Start(args, dir_.path() / "api.log");
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? std::move(*p) : nullptr;
  }

  std::vector<std::unique_ptr<testing::MqlabProcess>> StartWorkers(int n, std::string service_ms) {
    std::vector<std::unique_ptr<testing::MqlabProcess>> out;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> args = {
          "worker", "--queue", GetParam().kind, "--metrics-listen", "127.0.0.1:0",
          "--service-ms", service_ms, "--worker-id", fmt::format("w{}", i)};
      if (GetParam().kind != "postgres") {
        args.push_back("--queue-name");
        args.push_back(queue_);
      }
      for (auto& a : CommonArgs()) args.push_back(a);
      auto p = testing::MqlabProcess::Start(args, dir_.path() / fmt::format("worker{}.log", i),
                                            "consuming");
      EXPECT_TRUE(p) << p.error().ToString();
      if (p) out.push_back(std::move(*p));
    }
    return out;
  }

  std::string Target() const { return fmt::format("/{}/ocr/jobs", GetParam().version); }

  std::string pg_, backend_, schema_, queue_;
  testing::TempDir dir_{"e2e"};
};

TEST_P(AsyncEndToEndTest, TwoThousandJobsOverHttpAllSucceed) {
  auto api = StartApi();
  ASSERT_NE(api, nullptr);
  auto workers = StartWorkers(GetParam().workers, "0");
  ASSERT_EQ(workers.size(), static_cast<size_t>(GetParam().workers));
  constexpr int kClients = 4, kPerClient = 500;
  std::vector<std::vector<std::string>> ids(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      http::Client c(*http::ParseHttpUrl(api->url()));
      for (int i = 0; i < kPerClient; ++i) {
        auto res = c.Do(http::Verb::post, Target(), R"({"inputPath":"scans/p.png"})");
        ASSERT_TRUE(res) << res.error().ToString();
        ASSERT_EQ(res->result_int(), 202) << res->body();
        ids[t].push_back(json::parse(res->body())["jobId"]);
      }
    });
  }
  for (auto& t : threads) t.join();
  http::Client c(*http::ParseHttpUrl(api->url()));
  const auto deadline = SteadyClock::now() + seconds(300);
  std::set<std::string> workers_seen;
  int done = 0;
  for (const auto& list : ids) {
    for (const auto& id : list) {
      json j;
      while (SteadyClock::now() < deadline) {
        auto res = c.Do(http::Verb::get, Target() + "/" + id);
        ASSERT_TRUE(res && res->result_int() == 200);
        j = json::parse(res->body());
        if (j["status"] == "SUCCESS" || j["status"] == "FAILED") break;
        std::this_thread::sleep_for(milliseconds(20));
      }
      ASSERT_EQ(j["status"], "SUCCESS") << j.dump() << "\n" << api->Log();
      workers_seen.insert(j["workerId"].get<std::string>());
      ++done;
    }
  }
  EXPECT_EQ(done, kClients * kPerClient);
  if (GetParam().workers > 1) {
    EXPECT_GE(workers_seen.size(), 2u) << "the work was not shared between worker processes";
  }
}

// The lifecycle is checked once per version, with one worker.
class AsyncLifecycleTest : public AsyncEndToEndTest {};

TEST_P(AsyncLifecycleTest, GetShowsPendingRunningSuccess) {
  auto api = StartApi();
  ASSERT_NE(api, nullptr);
  auto workers = StartWorkers(1, "600");
  ASSERT_EQ(workers.size(), 1u);
  http::Client c(*http::ParseHttpUrl(api->url()));
  auto res = c.Do(http::Verb::post, Target(), R"({"inputPath":"scans/p.png"})");
  ASSERT_TRUE(res && res->result_int() == 202);
  json accepted = json::parse(res->body());
  EXPECT_EQ(accepted["status"], "PENDING");
  const std::string location = std::string((*res)[http::Field::location]);
  std::vector<std::string> seen = {"PENDING"};
  const auto deadline = SteadyClock::now() + seconds(60);
  while (SteadyClock::now() < deadline && seen.back() != "SUCCESS") {
    auto g = c.Do(http::Verb::get, location);
    ASSERT_TRUE(g && g->result_int() == 200);
    std::string status = json::parse(g->body())["status"];
    if (status != seen.back()) seen.push_back(status);
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"PENDING", "RUNNING", "SUCCESS"}))
      << fmt::format("{}", fmt::join(seen, " → "));
}

INSTANTIATE_TEST_SUITE_P(
    Versions, AsyncEndToEndTest,
    ::testing::Values(Cell{"v3", "postgres", 1}, Cell{"v3", "postgres", 2},
                      Cell{"v3", "postgres", 4}, Cell{"v4", "redis", 1}, Cell{"v4", "redis", 2},
                      Cell{"v4", "redis", 4}, Cell{"v5", "rabbitmq", 1}, Cell{"v5", "rabbitmq", 2},
                      Cell{"v5", "rabbitmq", 4}, Cell{"v6", "kafka", 1}, Cell{"v6", "kafka", 2},
                      Cell{"v6", "kafka", 4}),
    CellName);

INSTANTIATE_TEST_SUITE_P(Versions, AsyncLifecycleTest,
                         ::testing::Values(Cell{"v3", "postgres", 1}, Cell{"v4", "redis", 1},
                                           Cell{"v5", "rabbitmq", 1}, Cell{"v6", "kafka", 1}),
                         CellName);

}  // namespace
}  // namespace mqlab
