// V0-V2 end to end with real `mqlab ocr-server` and `mqlab api` processes, and backpressure on
// both kinds of version.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/client.h"
#include "services/process.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

struct Outcome {
  int status = 0;
  double ms = 0;
  std::string retry_after;
  json body;
};

class SyncTest : public ::testing::Test {
 protected:
  std::unique_ptr<testing::MqlabProcess> Start(std::vector<std::string> args) {
    auto p = testing::MqlabProcess::Start(args, dir_.path() / fmt::format("p{}.log", n_++));
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? std::move(*p) : nullptr;
  }
  std::unique_ptr<testing::MqlabProcess> StartOcr(int port, std::vector<std::string> extra) {
    std::vector<std::string> args = {"ocr-server", "--listen", fmt::format("127.0.0.1:{}", port),
                                     "--data-dir", data()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Start(args);
  }
  std::unique_ptr<testing::MqlabProcess> StartApi(const std::vector<std::string>& ocr_urls,
                                                  std::vector<std::string> extra) {
    std::vector<std::string> args = {"api", "--listen", "127.0.0.1:0", "--data-dir", data()};
    for (const auto& u : ocr_urls) {
      args.push_back("--ocr-url");
      args.push_back(u);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Start(args);
  }
  std::string data() const { return (dir_.path() / "data").string(); }

  // Sends `n` requests at once (one connection each) and returns their outcomes.
  static std::vector<Outcome> Burst(const std::string& url, const std::string& target, int n) {
    std::vector<Outcome> out(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        http::Client c(*http::ParseHttpUrl(url));
        auto t0 = SteadyClock::now();
        auto res = c.Do(http::Verb::post, target, R"({"inputPath":"scans/a.png"})");
        out[i].ms = std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
        if (!res) return;
        out[i].status = res->result_int();
        out[i].retry_after = std::string((*res)[http::Field::retry_after]);
        out[i].body = json::parse(res->body(), nullptr, false);
      });
    }
    for (auto& t : threads) t.join();
    return out;
  }

  static int Port() { return services::FreeLoopbackPort().value(); }

  testing::TempDir dir_{"sync"};
  int n_ = 0;
};

TEST_F(SyncTest, EveryVersionAnswersWithTheResultAndV2SpreadsTheLoad) {
  auto ocr1 = StartOcr(Port(), {"--service-ms", "50"});
  auto ocr2 = StartOcr(Port(), {"--service-ms", "50"});
  ASSERT_TRUE(ocr1 && ocr2);
  auto api = StartApi({ocr1->url(), ocr2->url()}, {});
  ASSERT_NE(api, nullptr);
  EXPECT_NE(api->Log().find("v0, v1, v2"), std::string::npos) << api->Log();
  http::Client c(*http::ParseHttpUrl(api->url()));
  for (const char* v : {"v0", "v1", "v2"}) {
    auto res = c.Do(http::Verb::post, fmt::format("/{}/ocr/sync", v), R"({"inputPath":"in/x.png"})");
    ASSERT_TRUE(res) << res.error().ToString();
    ASSERT_EQ(res->result_int(), 200) << v << ": " << res->body();
    auto j = json::parse(res->body());
    EXPECT_EQ(j["status"], "SUCCESS");
    EXPECT_EQ(j["version"], v);
    EXPECT_EQ(j["inputPath"], "in/x.png");
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / j["outputPath"].get<std::string>()));
  }
  // V2 spreads concurrent calls over both servers.
  auto outcomes = Burst(api->url(), "/v2/ocr/sync", 16);
  std::map<std::string, int> per_server;
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.status, 200) << o.body.dump();
    per_server[o.body["ocrServer"]]++;
  }
  ASSERT_EQ(per_server.size(), 2u);
  for (const auto& [server, n] : per_server) EXPECT_GE(n, 4) << server;
  // Bad input is 400 before any OCR call.
  auto bad = c.Do(http::Verb::post, "/v1/ocr/sync", R"({"inputPath":"../x"})");
  EXPECT_EQ(bad->result_int(), 400);
  EXPECT_EQ(json::parse(bad->body())["error"], "invalid_input_path");
}

TEST_F(SyncTest, BackpressureOnRejectsFastAndKeepsAcceptedLatencyBounded) {
  // One model instance at 100 ms: capacity 10/s. V1 lets 1 call run and 2 wait.
  auto ocr = StartOcr(Port(), {"--service-ms", "100", "--queue", "1000"});
  ASSERT_NE(ocr, nullptr);
  auto api = StartApi({ocr->url()}, {"--v1-executor", "1", "--v1-queue", "2", "--v0-threads", "1",
                                     "--v0-queue", "2"});
  ASSERT_NE(api, nullptr);
  for (const char* v : {"v0", "v1"}) {
    auto outcomes = Burst(api->url(), fmt::format("/{}/ocr/sync", v), 30);  // 3 s of work at once
    int ok = 0, rejected = 0;
    double worst_ok = 0;
    for (const auto& o : outcomes) {
      if (o.status == 200) {
        ++ok;
        worst_ok = std::max(worst_ok, o.ms);
      } else {
        ASSERT_EQ(o.status, 503) << v << " " << o.body.dump();
        EXPECT_EQ(o.body["error"], "overloaded");
        EXPECT_EQ(o.retry_after, "1");
        EXPECT_LT(o.ms, 1000) << "a rejection must be immediate";
        ++rejected;
      }
    }
    EXPECT_GE(ok, 3) << v;
    EXPECT_GE(rejected, 20) << v;
    EXPECT_LT(worst_ok, 2000) << v << ": accepted requests waited behind at most 3 others";
  }
}

TEST_F(SyncTest, BackpressureOffAcceptsEverythingAndQueueingGrows) {
  auto ocr = StartOcr(Port(), {"--service-ms", "100", "--queue", "1000"});
  ASSERT_NE(ocr, nullptr);
  auto api = StartApi({ocr->url()}, {"--backpressure", "off", "--v1-executor", "1"});
  ASSERT_NE(api, nullptr);
  auto outcomes = Burst(api->url(), "/v1/ocr/sync", 30);
  double worst = 0;
  for (const auto& o : outcomes) {
    EXPECT_EQ(o.status, 200) << o.body.dump();
    worst = std::max(worst, o.ms);
  }
  EXPECT_GT(worst, 2500) << "30 calls of 100 ms through one slot: the last waits ~3 s";
  http::Client c(*http::ParseHttpUrl(api->url()));
  EXPECT_EQ(c.Do(http::Verb::get, "/healthz")->result_int(), 200) << "the API survived";
}

TEST_F(SyncTest, OcrServerDownGives502AndServiceResumesWhenItReturns) {
  const int port = Port();
  auto ocr = StartOcr(port, {"--service-ms", "10"});
  ASSERT_NE(ocr, nullptr);
  const std::string ocr_url = ocr->url();
  auto api = StartApi({ocr_url}, {});
  ASSERT_NE(api, nullptr);
  http::Client c(*http::ParseHttpUrl(api->url()));
  for (const char* v : {"v0", "v1", "v2"}) {
    EXPECT_EQ(c.Do(http::Verb::post, fmt::format("/{}/ocr/sync", v), R"({"inputPath":"a"})")
                  ->result_int(),
              200);
  }
  ocr->Signal(SIGKILL);
  ocr->WaitExit(seconds(10));
  for (const char* v : {"v0", "v1", "v2"}) {
    auto t0 = SteadyClock::now();
    auto res = c.Do(http::Verb::post, fmt::format("/{}/ocr/sync", v), R"({"inputPath":"a"})");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 502) << v << " " << res->body();
    EXPECT_EQ(json::parse(res->body())["error"], "upstream_unavailable");
    EXPECT_LT(SteadyClock::now() - t0, seconds(5)) << "OCR server down must fail fast";
  }
  auto back = StartOcr(port, {"--service-ms", "10"});
  ASSERT_NE(back, nullptr);
  for (const char* v : {"v0", "v1", "v2"}) {
    auto res = c.Do(http::Verb::post, fmt::format("/{}/ocr/sync", v), R"({"inputPath":"a"})");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 200) << v << " " << res->body();
  }
}

TEST_F(SyncTest, SlowOcrServerGives504) {
  auto ocr = StartOcr(Port(), {"--service-ms", "3000"});
  ASSERT_NE(ocr, nullptr);
  auto api = StartApi({ocr->url()}, {"--ocr-timeout", "0.3"});
  ASSERT_NE(api, nullptr);
  http::Client c(*http::ParseHttpUrl(api->url()));
  for (const char* v : {"v1", "v2", "v0"}) {
    auto res = c.Do(http::Verb::post, fmt::format("/{}/ocr/sync", v), R"({"inputPath":"a"})");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result_int(), 504) << v << " " << res->body();
    EXPECT_EQ(json::parse(res->body())["error"], "timeout");
  }
}

TEST_F(SyncTest, OcrServerQueueIsBounded) {
  auto ocr = StartOcr(Port(), {"--service-ms", "300", "--queue", "1"});
  ASSERT_NE(ocr, nullptr);
  auto outcomes = Burst(ocr->url(), "/predict", 6);
  int ok = 0, rejected = 0;
  for (const auto& o : outcomes) {
    if (o.status == 200) ++ok;
    if (o.status == 503) {
      ++rejected;
      EXPECT_EQ(o.body["error"], "overloaded");
    }
  }
  EXPECT_EQ(ok, 2) << "one running, one waiting";
  EXPECT_EQ(rejected, 4);
}

TEST_F(SyncTest, AsyncBackpressureAnswers429WithRetryAfterAndLosesNothing) {
  auto serve = Start({"serve", "--listen", "127.0.0.1:0", "--data-dir", data(), "--workers", "1",
                      "--service-ms", "100", "--max-queue-depth", "5"});
  ASSERT_NE(serve, nullptr);
  http::Client c(*http::ParseHttpUrl(serve->url()));
  std::vector<std::string> accepted;
  int rejected = 0;
  for (int i = 0; i < 40; ++i) {
    auto t0 = SteadyClock::now();
    auto res = c.Do(http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"a.png"})");
    ASSERT_TRUE(res);
    if (res->result_int() == 202) {
      accepted.push_back(json::parse(res->body())["jobId"]);
    } else {
      ASSERT_EQ(res->result_int(), 429) << res->body();
      EXPECT_EQ(json::parse(res->body())["error"], "backpressure");
      EXPECT_EQ((*res)[http::Field::retry_after], "1");
      EXPECT_LT(SteadyClock::now() - t0, milliseconds(500));
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 20);
  EXPECT_GE(accepted.size(), 5u);
  auto deadline = SteadyClock::now() + seconds(60);
  for (const auto& id : accepted) {
    std::string status;
    while (SteadyClock::now() < deadline) {
      status = json::parse(c.Do(http::Verb::get, "/mem/ocr/jobs/" + id)->body())["status"];
      if (status == "SUCCESS") break;
      std::this_thread::sleep_for(milliseconds(20));
    }
    EXPECT_EQ(status, "SUCCESS") << "an accepted job must finish";
  }
}

}  // namespace
}  // namespace mqlab
