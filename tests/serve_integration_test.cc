// `mqlab serve` through real sockets and signals: the embedded default a new user tries first.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sstream>
#include <nlohmann/json.hpp>

#include "http/client.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

class ServeTest : public ::testing::Test {
 protected:
  std::unique_ptr<testing::MqlabProcess> StartServe(std::vector<std::string> extra) {
    std::vector<std::string> args = {"serve", "--listen", "127.0.0.1:0", "--data-dir",
                                     (dir_.path() / "data").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto p = testing::MqlabProcess::Start(args, dir_.path() / fmt::format("serve{}.log", runs_++));
    EXPECT_TRUE(p) << p.error().ToString();
    return p ? std::move(*p) : nullptr;
  }

  static http::Client ClientFor(const testing::MqlabProcess& p) {
    return http::Client(*http::ParseHttpUrl(p.url()));
  }

  static std::string Submit(http::Client& c, const std::string& input = "in/a.png") {
    auto res = c.Do(http::Verb::post, "/mem/ocr/jobs", json{{"inputPath", input}}.dump());
    EXPECT_TRUE(res) << res.error().ToString();
    if (!res) return "";
    EXPECT_EQ(res->result_int(), 202) << res->body();
    auto body = json::parse(res->body());
    EXPECT_EQ(body["status"], "PENDING");
    EXPECT_EQ((*res)[http::Field::location], "/mem/ocr/jobs/" + body["jobId"].get<std::string>());
    return body["jobId"];
  }

  static json Get(http::Client& c, const std::string& id) {
    auto res = c.Do(http::Verb::get, "/mem/ocr/jobs/" + id);
    EXPECT_TRUE(res && res->result_int() == 200);
    return res ? json::parse(res->body()) : json();
  }

  // Polls each job until it is finished; returns the final jobs.
  static std::map<std::string, json> AwaitAll(http::Client& c, const std::vector<std::string>& ids,
                                              seconds limit = seconds(120)) {
    std::map<std::string, json> done;
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (const auto& id : ids) {
      for (;;) {
        json j = Get(c, id);
        if (j["status"] == "SUCCESS" || j["status"] == "FAILED") {
          done[id] = j;
          break;
        }
        if (std::chrono::steady_clock::now() > deadline) return done;
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    return done;
  }

  static double MetricValue(http::Client& c, const std::string& series) {
    auto res = c.Do(http::Verb::get, "/metrics");
    EXPECT_TRUE(res && res->result_int() == 200);
    if (!res) return -1;
    std::istringstream in(res->body());
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with(series + " ")) return std::stod(line.substr(series.size() + 1));
    }
    return 0;
  }

  testing::TempDir dir_{"serve"};
  int runs_ = 0;
};

TEST_F(ServeTest, ThousandJobsAllSucceedNoneLostNoneRunTwice) {
  auto serve = StartServe({"--workers", "4", "--service-ms", "1", "--max-queue-depth", "100000"});
  ASSERT_NE(serve, nullptr);
  constexpr int kClients = 4, kPerClient = 250;
  std::vector<std::vector<std::string>> ids(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      http::Client c = ClientFor(*serve);
      for (int i = 0; i < kPerClient; ++i) ids[t].push_back(Submit(c, fmt::format("in/{}.png", i)));
    });
  }
  for (auto& t : threads) t.join();
  std::vector<std::string> all;
  for (auto& v : ids) all.insert(all.end(), v.begin(), v.end());
  ASSERT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 1000u);
  http::Client c = ClientFor(*serve);
  auto done = AwaitAll(c, all);
  ASSERT_EQ(done.size(), 1000u) << "jobs lost or stuck";
  for (const auto& [id, j] : done) {
    EXPECT_EQ(j["status"], "SUCCESS") << j.dump();
    EXPECT_EQ(j["attempts"], 1) << "ran more than once: " << j.dump();
    EXPECT_TRUE(std::filesystem::exists(dir_.path() / "data" / j["outputPath"].get<std::string>()));
  }
  EXPECT_EQ(MetricValue(c, R"(mqlab_jobs_completed_total{backend="memory",status="SUCCESS"})"), 1000);
  EXPECT_EQ(MetricValue(c, R"(mqlab_job_duplicates_total{backend="memory"})"), 0);
  EXPECT_EQ(MetricValue(c, R"(mqlab_jobs_enqueued_total{backend="memory"})"), 1000);
  serve->Signal(SIGTERM);
  EXPECT_EQ(serve->WaitExit(seconds(30)), 0) << serve->Log();
}

TEST_F(ServeTest, BadInputGetsClearJsonErrorsAndStoresNothing) {
  auto serve = StartServe({"--workers", "1", "--service-ms", "0"});
  ASSERT_NE(serve, nullptr);
  http::Client c = ClientFor(*serve);
  struct Case {
    http::Verb method;
    std::string target;
    std::string body;
    int status;
    std::string code;
  };
  const std::string unknown = "0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e";
  std::vector<Case> cases = {
      {http::Verb::post, "/mem/ocr/jobs", "{not json", 400, "bad_json"},
      {http::Verb::post, "/mem/ocr/jobs", "[1,2]", 400, "bad_json"},
      {http::Verb::post, "/mem/ocr/jobs", "{}", 400, "missing_field"},
      {http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":42})", 400, "bad_json"},
      {http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"../etc/passwd"})", 400,
       "invalid_input_path"},
      {http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"/etc/passwd"})", 400,
       "invalid_input_path"},
      {http::Verb::get, "/mem/ocr/jobs/not-a-uuid", "", 400, "bad_job_id"},
      {http::Verb::get, "/mem/ocr/jobs/" + unknown, "", 404, "not_found"},
      {http::Verb::get, "/nope", "", 404, "not_found"},
      {http::Verb::delete_, "/mem/ocr/jobs", "", 405, "method_not_allowed"},
      {http::Verb::post, "/v3/ocr/jobs", R"({"inputPath":"a.png"})", 503, "backend_not_configured"},
      {http::Verb::get, "/v6/ocr/jobs/" + unknown, "", 503, "backend_not_configured"},
      {http::Verb::post, "/v0/ocr/sync", R"({"inputPath":"a.png"})", 503, "backend_not_configured"},
  };
  for (const Case& k : cases) {
    auto res = c.Do(k.method, k.target, k.body);
    ASSERT_TRUE(res) << k.target << ": " << res.error().ToString();
    EXPECT_EQ(res->result_int(), k.status) << k.target << " " << k.body << " → " << res->body();
    auto j = json::parse(res->body(), nullptr, false);
    ASSERT_TRUE(j.is_object()) << res->body();
    EXPECT_EQ(j["error"], k.code) << k.target << " " << k.body << " → " << res->body();
    EXPECT_TRUE(j["message"].is_string() && !j["message"].get<std::string>().empty());
    EXPECT_EQ((*res)[http::Field::content_type], "application/json");
  }
  // A body over the 1 MiB limit: 413, then the server closes the connection.
  std::string huge = R"({"inputPath":")" + std::string(2 * 1024 * 1024, 'a') + R"("})";
  auto res = c.Do(http::Verb::post, "/mem/ocr/jobs", huge);
  ASSERT_TRUE(res) << res.error().ToString();
  EXPECT_EQ(res->result_int(), 413);
  EXPECT_EQ(json::parse(res->body())["error"], "body_too_large");
  // Nothing was stored or enqueued by any of these.
  http::Client fresh = ClientFor(*serve);
  EXPECT_EQ(MetricValue(fresh, R"(mqlab_jobs_enqueued_total{backend="memory"})"), 0);
  // And the service still works.
  std::string id = Submit(fresh);
  auto done = AwaitAll(fresh, {id});
  EXPECT_EQ(done[id]["status"], "SUCCESS");
}

TEST_F(ServeTest, GracefulStopFinishesInFlightAndRestartRunsTheRest) {
  const std::vector<std::string> flags = {"--workers", "2", "--service-ms", "300"};
  auto serve = StartServe(flags);
  ASSERT_NE(serve, nullptr);
  std::vector<std::string> ids;
  {
    http::Client c = ClientFor(*serve);
    for (int i = 0; i < 10; ++i) ids.push_back(Submit(c));
    // Wait until two jobs are in flight.
    auto deadline = std::chrono::steady_clock::now() + seconds(20);
    int running = 0;
    while (running < 2 && std::chrono::steady_clock::now() < deadline) {
      running = 0;
      for (const auto& id : ids) running += Get(c, id)["status"] == "RUNNING";
    }
    // Two predicting, and with receive-ahead up to two more started and ready for their slots.
    ASSERT_GE(running, 2);
    ASSERT_LE(running, 4);
  }
  serve->Signal(SIGTERM);
  ASSERT_EQ(serve->WaitExit(seconds(30)), 0) << serve->Log();
  auto again = StartServe(flags);
  ASSERT_NE(again, nullptr);
  EXPECT_NE(again->Log().find("recovered"), std::string::npos) << again->Log();
  http::Client c = ClientFor(*again);
  auto done = AwaitAll(c, ids);
  ASSERT_EQ(done.size(), ids.size());
  for (const auto& [id, j] : done) {
    EXPECT_EQ(j["status"], "SUCCESS") << j.dump();
    EXPECT_EQ(j["attempts"], 1) << "a graceful stop interrupts nothing: " << j.dump();
  }
  again->Signal(SIGINT);
  EXPECT_EQ(again->WaitExit(seconds(30)), 0);
}

TEST_F(ServeTest, KilledMidRunLosesNothingAfterRestart) {
  const std::vector<std::string> flags = {"--workers", "2", "--service-ms", "200"};
  auto serve = StartServe(flags);
  ASSERT_NE(serve, nullptr);
  std::vector<std::string> ids;
  {
    http::Client c = ClientFor(*serve);
    for (int i = 0; i < 8; ++i) ids.push_back(Submit(c));
    auto deadline = std::chrono::steady_clock::now() + seconds(20);
    while (Get(c, ids[0])["status"] != "RUNNING" && std::chrono::steady_clock::now() < deadline) {
    }
  }
  serve->Signal(SIGKILL);
  serve->WaitExit(seconds(10));
  auto again = StartServe(flags);
  ASSERT_NE(again, nullptr);
  http::Client c = ClientFor(*again);
  auto done = AwaitAll(c, ids);
  ASSERT_EQ(done.size(), ids.size());
  for (const auto& [id, j] : done) EXPECT_EQ(j["status"], "SUCCESS") << j.dump();
}

TEST_F(ServeTest, HealthReadinessAndMetricsEndpoints) {
  auto serve = StartServe({"--workers", "1"});
  ASSERT_NE(serve, nullptr);
  http::Client c = ClientFor(*serve);
  auto h = c.Do(http::Verb::get, "/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->result_int(), 200);
  auto r = c.Do(http::Verb::get, "/readyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result_int(), 200);
  auto m = c.Do(http::Verb::get, "/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->result_int(), 200);
  for (const char* name :
       {"mqlab_http_requests_total", "mqlab_http_request_duration_seconds_bucket",
        "mqlab_queue_depth{backend=\"memory\"}", "process_resident_memory_bytes",
        "process_cpu_seconds_total", "process_open_fds"}) {
    EXPECT_NE(m->body().find(name), std::string::npos) << name;
  }
  EXPECT_NE(m->body().find(R"(route="/readyz",code="200")"), std::string::npos) << m->body();
}

TEST_F(ServeTest, ApiTokenGuardsEverythingButHealthz) {
  auto serve = StartServe({"--workers", "1", "--api-token", "s3cret"});
  ASSERT_NE(serve, nullptr);
  http::Client c = ClientFor(*serve);
  EXPECT_EQ(c.Do(http::Verb::get, "/healthz")->result_int(), 200);
  auto denied = c.Do(http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"a.png"})");
  EXPECT_EQ(denied->result_int(), 401);
  EXPECT_EQ(json::parse(denied->body())["error"], "unauthorized");
  auto wrong = c.Do(http::Verb::get, "/metrics", "", {{"Authorization", "Bearer s3creT"}});
  EXPECT_EQ(wrong->result_int(), 401);
  auto ok = c.Do(http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"a.png"})",
                 {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(ok->result_int(), 202);
}

TEST_F(ServeTest, IdempotencyKeyReturnsTheSameJobNeverASecondOne) {
  auto serve = StartServe({"--workers", "2"});
  ASSERT_NE(serve, nullptr);
  http::Client c = ClientFor(*serve);
  auto post = [&](const std::string& key, const std::string& input) {
    return c.Do(http::Verb::post, "/mem/ocr/jobs", json{{"inputPath", input}}.dump(),
                {{"Idempotency-Key", key}});
  };
  auto first = post("order-1", "in/a.png");
  ASSERT_TRUE(first && first->result_int() == 202) << (first ? first->body() : "");
  EXPECT_EQ((*first)["Idempotent-Replayed"], "");
  const std::string id = json::parse(first->body())["jobId"];
  AwaitAll(c, {id});
  auto again = post("order-1", "in/a.png");
  ASSERT_TRUE(again && again->result_int() == 202) << (again ? again->body() : "");
  EXPECT_EQ((*again)["Idempotent-Replayed"], "true");
  EXPECT_EQ(json::parse(again->body())["jobId"], id);
  EXPECT_EQ(json::parse(again->body())["status"], "SUCCESS");  // the job as it is now
  EXPECT_EQ((*again)[http::Field::location], "/mem/ocr/jobs/" + id);

  auto reused = post("order-1", "in/other.png");
  ASSERT_TRUE(reused);
  EXPECT_EQ(reused->result_int(), 422) << reused->body();
  EXPECT_EQ(json::parse(reused->body())["error"], "idempotency_key_reused");
  auto bad = post(std::string(256, 'k'), "in/a.png");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->result_int(), 400);
  EXPECT_EQ(json::parse(bad->body())["error"], "invalid_idempotency_key");
  auto other_key = post("order-2", "in/a.png");
  ASSERT_TRUE(other_key && other_key->result_int() == 202);
  EXPECT_NE(json::parse(other_key->body())["jobId"], id);

  // Eight clients racing with one key: one job, every answer names it.
  std::vector<std::string> ids(8);
  std::vector<std::thread> racers;
  for (size_t i = 0; i < ids.size(); ++i) {
    racers.emplace_back([&, i] {
      http::Client own = ClientFor(*serve);
      auto res = own.Do(http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"in/race.png"})",
                        {{"Idempotency-Key", "race"}});
      if (res && res->result_int() == 202) ids[i] = json::parse(res->body())["jobId"];
    });
  }
  for (auto& t : racers) t.join();
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 1u) << fmt::format("{}", ids);
  EXPECT_FALSE(ids[0].empty());
  auto metrics = c.Do(http::Verb::get, "/metrics");
  ASSERT_TRUE(metrics);
  // a.png, order-2 and the race: three jobs enqueued in all.
  EXPECT_NE(metrics->body().find("mqlab_jobs_enqueued_total{backend=\"memory\"} 3"),
            std::string::npos)
      << metrics->body().substr(0, 4000);
}

TEST_F(ServeTest, MetricsListenServesMetricsApartFromTheApi) {
  auto serve = StartServe({"--workers", "1", "--api-token", "s3cret", "--metrics-listen",
                           "127.0.0.1:0"});
  ASSERT_NE(serve, nullptr);
  const std::string log = serve->Log();
  const auto at = log.find("metrics on http://");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string metrics_url = log.substr(at + 11, log.find("/metrics", at + 11) - (at + 11));
  ASSERT_NE(metrics_url, serve->url()) << "the metrics listener has its own port";
  http::Client api = ClientFor(*serve);
  auto on_api = api.Do(http::Verb::get, "/metrics", "", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(on_api);
  EXPECT_EQ(on_api->result_int(), 404) << "no /metrics on the API's listener";
  auto submitted = api.Do(http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"a.png"})",
                          {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(submitted && submitted->result_int() == 202);

  http::Client ops(*http::ParseHttpUrl(metrics_url));
  auto metrics = ops.Do(http::Verb::get, "/metrics");  // no token asked on the ops listener
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->result_int(), 200);
  EXPECT_NE(metrics->body().find("mqlab_jobs_enqueued_total{backend=\"memory\"} 1"),
            std::string::npos);
  EXPECT_EQ(ops.Do(http::Verb::get, "/readyz")->result_int(), 200);
  EXPECT_EQ(ops.Do(http::Verb::post, "/mem/ocr/jobs", R"({"inputPath":"a.png"})")->result_int(),
            404)
      << "the ops listener serves no API";
}

TEST(CliTest, MisuseIsOneLineAndExitCode2) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"serve", "--bogus"}, {"serve", "--workers", "0"},
        {"serve", "--service-dist", "normal"}, {"frobnicate"}, {}, {"worker"},
        {"serve", "--listen", "nonsense"}, {"serve", "--metrics-listen", "nonsense"},
        {"api", "--metrics-listen", ":x"}, {"serve", "--completion", "later"},
        {"serve", "--receive", "later"}, {"worker", "--queue", "redis", "--receive", "x"},
        {"overload", "--only", "v9"}, {"overload", "--backpressure", "maybe"},
        {"overload", "--multiple", "0.5"}}) {
    auto r = testing::RunMqlab(args);
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(args, " ")) << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_TRUE(r.output.starts_with("mqlab: ")) << r.output;
  }
}

TEST(CliTest, EverySubcommandHasHelp) {
  for (const char* cmd : {"serve", "api", "worker", "services", "overload", "chaos"}) {
    auto r = testing::RunMqlab({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find("--"), std::string::npos) << r.output;
  }
}

TEST(CliTest, MissingServerIsOneClearLine) {
  for (std::vector<std::string> args :
       {std::vector<std::string>{"worker", "--queue", "postgres", "--postgres-url",
                                 "postgresql://postgres:pw@127.0.0.1:1/postgres"},
        {"api", "--listen", "127.0.0.1:0", "--store",
         "postgresql://postgres:pw@127.0.0.1:1/postgres"}}) {
    auto r = testing::RunMqlab(args);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find("mqlab services up postgres"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("pw@"), std::string::npos) << "password printed: " << r.output;
  }
}

TEST(CliTest, FlagsComeFromEnvironment) {
  testing::TempDir dir;
  setenv("MQLAB_WORKERS", "3", 1);
  auto p = testing::MqlabProcess::Start(
      {"serve", "--listen", "127.0.0.1:0", "--data-dir", (dir.path() / "d").string()},
      dir.path() / "log");
  unsetenv("MQLAB_WORKERS");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_NE((*p)->Log().find("(3 workers"), std::string::npos) << (*p)->Log();
}

}  // namespace
}  // namespace mqlab
