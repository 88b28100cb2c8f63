// Prometheus for real (issue 7): the fixture's Prometheus (Debian's package, started through
// `mqlab services`) scrapes a running `mqlab api` and `mqlab worker --queue postgres` while jobs
// flow, and its HTTP API gives back what happened:
//   - a steady flow of 10 jobs/s for 12 s, 20 ms each: rate(mqlab_jobs_completed_total[8s]) is
//     about 10/s, and the processing-time histogram's mean about 20 ms;
//   - a backlog: with the worker paused (SIGSTOP), a burst of 40 jobs shows in Prometheus as
//     mqlab_queue_depth{backend="postgres"} ≥ 30 (the paused worker may hold a prefetched few);
//     resumed (SIGCONT), the depth comes back to 0;
//   - the counter itself: the worker's mqlab_jobs_completed_total ends at the number of jobs sent.
// The two processes are scrape targets of their own group (targets.d/, labels test and process),
// removed at the end, so the shared server is left as it was found.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "http/client.h"
#include "services/prometheus_query.h"
#include "services/prometheus_service.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_services.h"

namespace mqlab::services {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

// Polls `done` every 200 ms until it holds or `timeout` passes; its last answer.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  while (!done()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return true;
}

// "host:port" of a process's URL (its /metrics is what Prometheus scrapes).
std::string Address(const std::string& url) {
  auto u = http::ParseHttpUrl(url);
  return u ? u->HostPort() : "";
}

class PrometheusScrapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prom_ = mqlab::testing::TestPrometheus();
    ASSERT_FALSE(prom_.url.empty());
    pg_ = mqlab::testing::TestPostgresUrl();
    ASSERT_FALSE(pg_.empty());
    schema_ = mqlab::testing::UniqueSchemaName("prom");
    test_label_ = schema_;  // unique to this test run, across processes
    query_ = std::make_unique<PrometheusQuery>(prom_.url);
  }

  void TearDown() override {
    if (!prom_.runtime_dir.empty() && !test_label_.empty()) {
      EXPECT_TRUE(PrometheusService::RemoveTargetGroup(prom_.runtime_dir, test_label_));
    }
  }

  std::vector<std::string> Common() const {
    return {"--postgres-url", pg_,          "--pg-schema",
            schema_,          "--data-dir", (dir_.path() / "data").string(),
            "--log-level",    "warn"};
  }

  // The value of a one-element instant vector at `time` (now if nullopt); nullopt if empty.
  std::optional<double> Scalar(const std::string& expr, std::optional<double> time = {}) {
    auto r = query_->Instant(expr, time);
    EXPECT_TRUE(r) << expr << ": " << r.error().ToString();
    if (!r || r->empty()) return std::nullopt;
    return r->front().value;
  }

  // `selector` narrowed to this test's targets (and `more` labels).
  std::string Ours(std::string_view selector, Labels more = {}) const {
    more["test"] = test_label_;
    return WithLabels(selector, more);
  }

  // True once both targets have been scraped at or after `time` (Unix seconds).
  bool ScrapedSince(double time) {
    auto n = Scalar(fmt::format("count(timestamp({}) >= {:.3f})", Ours("up"), time));
    return n && *n >= 2;
  }

  mqlab::testing::TestPrometheusServer prom_;
  std::string pg_, schema_, test_label_;
  std::unique_ptr<PrometheusQuery> query_;
  mqlab::testing::TempDir dir_{"prom-scrape"};
};

TEST_F(PrometheusScrapeTest, CompletedRateAndQueueDepthComeBackFromPrometheus) {
  std::vector<std::string> api_args = {"api", "--listen",          "127.0.0.1:0", "--backpressure",
                                       "off", "--max-queue-depth", "100000"};
  for (const auto& a : Common()) api_args.push_back(a);
  auto api = mqlab::testing::MqlabProcess::Start(api_args, dir_.path() / "api.log");
  ASSERT_TRUE(api) << api.error().ToString();
  // Concurrency 1 and a fixed 20 ms model: the worker can do 50 jobs/s.
  std::vector<std::string> worker_args = {
      "worker", "--queue",      "postgres", "--metrics-listen", "127.0.0.1:0", "--concurrency",
      "1",      "--service-ms", "20",       "--worker-id",      "prom-w0"};
  for (const auto& a : Common()) worker_args.push_back(a);
  auto worker =
      mqlab::testing::MqlabProcess::Start(worker_args, dir_.path() / "worker.log", "metrics on");
  ASSERT_TRUE(worker) << worker.error().ToString();

  // The scrape interval the launcher configures (PrometheusServiceOptions: 1 s).
  auto interval = query_->ScrapeIntervalSeconds();
  ASSERT_TRUE(interval) << interval.error().ToString();
  EXPECT_LE(*interval, 1.0);

  ASSERT_TRUE(PrometheusService::WriteTargetGroup(
      prom_.runtime_dir, test_label_,
      {{.addresses = {Address((*api)->url())},
        .labels = {{"test", test_label_}, {"process", "api"}}},
       {.addresses = {Address((*worker)->url())},
        .labels = {{"test", test_label_}, {"process", "worker"}}}}));
  // Discovery takes up to ~7 s (prometheus_service.h); 60 s is for a loaded machine.
  ASSERT_TRUE(
      PollUntil([&] { return Scalar(fmt::format("count({} == 1)", Ours("up"))).value_or(0) >= 2; },
                seconds(60)))
      << "Prometheus never scraped both targets; see "
      << (prom_.runtime_dir / "prometheus" / "server.log");

  // A steady flow: 10 jobs/s, evenly spaced, for 12 s.
  http::Client client(*http::ParseHttpUrl((*api)->url()));
  auto submit = [&] {
    auto res = client.Do(http::Verb::post, "/v3/ocr/jobs", R"({"inputPath":"scans/p.png"})");
    ASSERT_TRUE(res) << res.error().ToString();
    ASSERT_EQ(res->result_int(), 202) << res->body();
  };
  constexpr int kRate = 10, kFlowSeconds = 12;
  int sent = 0;
  const auto flow_start = SteadyClock::now();
  for (int i = 0; i < kRate * kFlowSeconds; ++i) {
    std::this_thread::sleep_until(flow_start + milliseconds(1000 * i / kRate));
    ASSERT_NO_FATAL_FAILURE(submit());
    ++sent;
  }
  std::this_thread::sleep_until(flow_start + seconds(kFlowSeconds));
  const double flow_end = UnixNow();

  // The completion rate over the flow's last 8 s (its first seconds left out), once Prometheus
  // has scraped past that moment.
  const double at = flow_end - 0.5;
  ASSERT_TRUE(PollUntil([&] { return ScrapedSince(at); }, seconds(30)));
  const std::string done =
      Ours("mqlab_jobs_completed_total",
           {{"process", "worker"}, {"backend", "postgres"}, {"status", "SUCCESS"}});
  auto rate = Scalar(fmt::format("sum(rate({}[8s]))", done), at);
  ASSERT_TRUE(rate) << "no completed jobs in Prometheus";
  // ±30 %: rate() extrapolates over 1 s scrapes that a loaded machine delays; nothing scraped
  // gives no value, a wrong counter (per attempt, or not incremented) a value far off.
  EXPECT_NEAR(*rate, kRate, 0.3 * kRate);
  RecordProperty("completed_per_s", fmt::format("{:.2f}", *rate));
  const Labels worker_postgres = {{"process", "worker"}, {"backend", "postgres"}};
  auto mean = Scalar(
      fmt::format("sum(rate({}[8s])) / sum(rate({}[8s]))",
                  Ours("mqlab_job_processing_seconds_sum", worker_postgres),
                  Ours("mqlab_job_processing_seconds_count", worker_postgres)),
      at);
  ASSERT_TRUE(mean);
  EXPECT_GE(*mean, 0.019) << "a job takes its service time";
  EXPECT_LE(*mean, 0.060);
  RecordProperty("mean_processing_s", fmt::format("{:.4f}", *mean));

  // A backlog: the worker paused, a burst the queue has to hold.
  const std::string depth = fmt::format(
      "max({})", Ours("mqlab_queue_depth", {{"process", "api"}, {"backend", "postgres"}}));
  ASSERT_TRUE(PollUntil([&] { return Scalar(depth) == 0.0; }, seconds(30)))
      << "the flow's jobs were not all taken";
  ::kill((*worker)->pid(), SIGSTOP);
  struct Resume {  // never leave the worker stopped, whatever fails below
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{(*worker)->pid()};
  constexpr int kBurst = 40;
  for (int i = 0; i < kBurst; ++i) {
    ASSERT_NO_FATAL_FAILURE(submit());
    ++sent;
  }
  double seen = 0;
  EXPECT_TRUE(PollUntil(
      [&] {
        seen = Scalar(depth).value_or(0);
        return seen >= kBurst - 10;
      },
      seconds(30)))
      << "queue depth in Prometheus: " << seen;
  RecordProperty("queue_depth_seen", static_cast<int>(seen));
  ::kill((*worker)->pid(), SIGCONT);
  EXPECT_TRUE(PollUntil([&] { return Scalar(depth) == 0.0; }, seconds(30)))
      << "the backlog never drained in Prometheus' eyes";

  // Every job done, and the counter says so.
  std::optional<double> total;
  EXPECT_TRUE(PollUntil(
      [&] {
        total = Scalar(fmt::format("sum({})", done));
        return total == static_cast<double>(sent);
      },
      seconds(30)))
      << "mqlab_jobs_completed_total in Prometheus: " << total.value_or(-1) << ", sent " << sent;

  for (auto* p : {&*worker, &*api}) {
    (*p)->Signal(SIGTERM);
    EXPECT_EQ((*p)->WaitExit(seconds(30)), 0) << (*p)->Log();
  }
}

}  // namespace
}  // namespace mqlab::services
