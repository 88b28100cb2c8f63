// Recorder and the summary renderings, without sockets: events at chosen times, merged from two
// "threads".
#include "load/recorder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace mqlab::load {
namespace {

using namespace std::chrono_literals;

class RecorderTest : public ::testing::Test {
 protected:
  const SteadyTime t0_ = SteadyTime(100s);
  const SteadyTime start_ = t0_ + 1s;  // one second of warm-up
  Recorder a_{Model::kOpen, start_, start_ + 3s, 10ms};
  Recorder b_{Model::kOpen, start_, start_ + 3s, 10ms};

  // A request intended at `at`, sent `delay` later, answered `latency` after `at`.
  static void Request(Recorder& r, SteadyTime at, Nanos delay, Nanos latency, int status = 200) {
    r.Scheduled(at);
    r.Sent(at, at + delay);
    r.Response(at, at + delay, at + latency, status);
  }

  LoadSummary Merged() {
    a_.Finish();
    b_.Finish();
    LoadSummary s;
    Recorder::Merge({&a_, &b_}, s);
    return s;
  }
};

TEST_F(RecorderTest, MergesCountsAndPercentilesAcrossThreads) {
  Request(a_, t0_ + 500ms, 0ms, 5ms);  // warm-up: counted only as such
  for (int i = 0; i < 100; ++i) {
    // Second 0: 1..100 ms; second 1 (thread b): 101..200 ms.
    Request(a_, start_ + 100ms + i * 1ms, 0ms, Nanos((i + 1) * 1ms));
    Request(b_, start_ + 1100ms + i * 1ms, 0ms, Nanos((i + 101) * 1ms));
  }
  Request(b_, start_ + 2100ms, 50ms, 60ms, 503);  // late (50 ms > 10 ms) and an error
  b_.Scheduled(start_ + 2200ms);
  b_.Dropped(start_ + 2200ms, DropReason::kBacklogFull, start_ + 2200ms);
  b_.Scheduled(start_ + 2300ms);
  b_.Sent(start_ + 2300ms, start_ + 2300ms);
  b_.Timeout(start_ + 2300ms, start_ + 2400ms);

  LoadSummary s = Merged();
  EXPECT_EQ(s.warmup_requests, 1u);
  EXPECT_EQ(s.scheduled, 203u);
  EXPECT_EQ(s.sent, 202u);
  EXPECT_EQ(s.completed, 201u);
  EXPECT_EQ(s.status_2xx, 200u);
  EXPECT_EQ(s.by_status.at(503), 1u);
  EXPECT_EQ(s.timeouts, 1u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.dropped_backlog_full, 1u);
  EXPECT_EQ(s.late, 1u);
  EXPECT_EQ(s.errors(), 2u);  // the 503 and the timeout
  EXPECT_EQ(s.latency.clock, "intended");
  EXPECT_EQ(s.latency.count, 201u);
  // Latencies 1..200 ms and one of 60 ms: the median is the 101st value, 100 ms.
  EXPECT_NEAR(s.latency.p50_ms, 100, 100 * 0.01);
  EXPECT_NEAR(s.latency.p99_ms, 198, 198 * 0.01);
  EXPECT_DOUBLE_EQ(s.latency.max_ms, 200);
  EXPECT_EQ(s.latency_2xx.count, 200u);
  EXPECT_EQ(s.service_time.clock, "actual");
  EXPECT_NEAR(s.service_time.p50_ms, 100, 1);  // sent on time except one: nearly the same
  EXPECT_NEAR(s.send_delay.max_ms, 50, 0.5);

  ASSERT_EQ(s.series.size(), 3u);
  EXPECT_EQ(s.series[0].completed, 100u);
  EXPECT_NEAR(s.series[0].p50_ms, 50, 50 * 0.01);
  EXPECT_NEAR(s.series[1].p99_ms, 199, 199 * 0.01);
  EXPECT_EQ(s.series[2].status_5xx, 1u);
  EXPECT_EQ(s.series[2].late, 1u);
  EXPECT_EQ(s.series[2].dropped, 1u);
  EXPECT_EQ(s.series[2].timeouts, 1u);
  // Completed inside the measured time, left as a count for the caller to divide.
  EXPECT_DOUBLE_EQ(s.achieved_rate, 201);
}

TEST_F(RecorderTest, ClosedModelMeasuresFromTheActualSend) {
  Recorder c(Model::kClosed, start_, start_ + 3s, 10ms);
  c.Sent(start_, start_);
  c.Response(start_, start_, start_ + 7ms, 200);
  c.Finish();
  LoadSummary s;
  Recorder::Merge({&c}, s);
  EXPECT_EQ(s.scheduled, 1u);  // a closed model schedules what it sends
  EXPECT_EQ(s.late, 0u);
  EXPECT_EQ(s.latency.clock, "actual");
  EXPECT_EQ(s.service_time.count, 0u);
  EXPECT_NEAR(s.latency.p50_ms, 7, 0.07);
}

TEST_F(RecorderTest, RecordsFollowedJobsOnTheirClocks) {
  const WallTime wall = WallTime(1000s);
  a_.Accepted(true);
  a_.Accepted(false);
  a_.Poll(false);
  a_.Poll(true);
  // Intended at start_ (wall 1000 s), created 5 ms later, finished 105 ms after the origin,
  // seen by a poll 130 ms after the origin.
  a_.JobFinished(start_, wall, start_ + 130ms, wall + 5ms, wall + 105ms, true);
  a_.Unfinished(2);
  LoadSummary s = Merged();
  EXPECT_EQ(s.follow.accepted, 2u);
  EXPECT_EQ(s.follow.followed, 1u);
  EXPECT_EQ(s.follow.succeeded, 1u);
  EXPECT_EQ(s.follow.unfinished, 2u);
  EXPECT_EQ(s.follow.polls, 2u);
  EXPECT_EQ(s.follow.poll_errors, 1u);
  EXPECT_NEAR(s.follow.e2e.p50_ms, 105, 1.05);
  EXPECT_NEAR(s.follow.e2e_observed.p50_ms, 130, 1.3);
  EXPECT_NEAR(s.follow.job_server.p50_ms, 100, 1);
  EXPECT_EQ(s.follow.job_server.clock, "wall");
}

// Throughput counts what completes inside the measured window [start_, start_ + 3 s), whatever
// its send time: a warm-up request or job finishing inside it counts; a measured one finishing
// after it does not; only the measured ones count in every other figure.
TEST_F(RecorderTest, ThroughputCountsCompletionsInsideTheWindowWhateverTheirSendTime) {
  Request(a_, start_ - 50ms, 0ms, 80ms);           // warm-up, answered inside: counts
  Request(a_, start_ - 200ms, 0ms, 100ms);         // warm-up, answered before: does not
  Request(a_, start_ + 1s, 0ms, 10ms);             // measured, inside: counts
  Request(a_, start_ + 1s, 0ms, 10ms, 503);        // a rejection is no throughput
  Request(b_, start_ + 2990ms, 0ms, 30ms);         // measured, answered after the window
  const WallTime wall = WallTime(1000s);           // the wall clock of start_
  auto job = [&](Recorder& r, Nanos sent, Nanos finished, Nanos seen) {
    r.JobFinished(start_ + sent, wall + sent, start_ + seen, wall + sent, wall + finished, true);
  };
  job(a_, -100ms, 20ms, 400ms);   // warm-up job, finished inside (seen later): counts
  job(a_, 2s, 2500ms, 3200ms);    // finished inside, seen after the window: counts
  job(b_, 2900ms, 3100ms, 3150ms);  // finished after: does not
  LoadSummary s = Merged();
  EXPECT_DOUBLE_EQ(s.ok_per_second, 2.0);          // counts; run_load divides by the seconds
  EXPECT_DOUBLE_EQ(s.follow.jobs_per_second, 2.0);
  EXPECT_EQ(s.follow.succeeded, 2u) << "the warm-up job is in no other figure";
  EXPECT_EQ(s.warmup_requests, 2u);
  EXPECT_EQ(s.status_2xx, 2u);
}

TEST_F(RecorderTest, SummaryRendersAsJsonCsvAndText) {
  Request(a_, start_ + 10ms, 20ms, 30ms);
  Request(a_, start_ + 1010ms, 0ms, 8ms, 429);
  LoadSummary s = Merged();
  s.options.url = "http://127.0.0.1:1/x";
  s.options.rate = 2;
  s.options.duration = 3s;
  s.options.headers = {{"Authorization", "Bearer secret"}, {"X-Trace", "on"}};
  s.measured_seconds = 3;
  s.warnings = {"GENERATOR BEHIND: test"};
  nlohmann::json j = ToJson(s);
  EXPECT_EQ(j["schema"], "mqlab.load/1");
  EXPECT_EQ(j["parameters"]["model"], "open");
  EXPECT_EQ(j["parameters"]["headers"][0], "Authorization: ***");
  EXPECT_EQ(j["parameters"]["headers"][1], "X-Trace: on");
  EXPECT_EQ(j["counts"]["byStatus"]["429"], 1);
  EXPECT_EQ(j["latencyMs"]["clock"], "intended");
  EXPECT_EQ(j["serviceTimeMs"]["clock"], "actual");
  EXPECT_TRUE(j["follow"].is_null());
  EXPECT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["warnings"][0], "GENERATOR BEHIND: test");

  std::string csv = SeriesCsv(s);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "second,sent,completed,2xx,3xx,4xx,5xx,timeouts,connection_errors,dropped,late,"
            "jobs_finished,p50_ms,p99_ms");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3);

  std::string text = FormatSummary(s);
  EXPECT_NE(text.find("from intended send"), std::string::npos) << text;
  EXPECT_NE(text.find("429 1"), std::string::npos) << text;
  EXPECT_NE(text.find("!!! GENERATOR BEHIND"), std::string::npos) << text;
}

}  // namespace
}  // namespace mqlab::load
