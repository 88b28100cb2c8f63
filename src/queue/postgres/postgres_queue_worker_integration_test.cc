// The worker loop (src/worker) on V3 with the PostgreSQL store, end to end: 2,000 jobs through a
// worker of concurrency 4; a worker killed mid-job (a real process, SIGKILL) whose RUNNING job
// is rescued after its lease and completes with attempt 2; and the pickup latency with
// LISTEN/NOTIFY against polling, recorded as figures (RecordProperty), not asserted.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "common/logging.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"
#include "queue/postgres/pg_queue_test_support.h"
#include "services/process.h"
#include "tests/support/temp_dir.h"
#include "worker/worker.h"

namespace mqlab::queue {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

int Ms(Steady::duration d) {
  return static_cast<int>(std::chrono::duration_cast<milliseconds>(d).count());
}

class PostgresWorkerTest : public PgQueueTestBase {
 protected:
  std::unique_ptr<worker::Worker> MakeWorker(JobQueue& queue, store::JobStore& store,
                                             int concurrency, double fail_rate = 0) {
    predictor_ = std::make_unique<model::Predictor>(
        dir_.path(), model::PredictorOptions{.service_time = std::chrono::microseconds(0),
                                             .fail_rate = fail_rate,
                                             .seed = 7,
                                             .write_output = false});
    return std::make_unique<worker::Worker>(
        worker::WorkerOptions{.worker_id = "w-test", .concurrency = concurrency,
                              .backoff_base = milliseconds(5), .backoff_max = milliseconds(50),
                              .poll_timeout = milliseconds(100)},
        "postgres", queue, store, *predictor_, Clock::Real(), metrics_, NullLogger());
  }

  testing::TempDir dir_{"pgq-worker"};
  metrics::Registry registry_;
  metrics::MqlabMetrics metrics_{registry_};
  std::unique_ptr<model::Predictor> predictor_;
};

TEST_F(PostgresWorkerTest, TwoThousandJobsAllSucceedWithOneAttempt) {
  constexpr int kProducers = 4, kPerProducer = 500;
  PostgresQueueOptions o = Options();
  o.max_batch = 4;
  auto q = PostgresQueue::Open(o, store_->pool());  // the store's pool, as a V3 worker could
  ASSERT_TRUE(q) << q.error().ToString();
  auto w = MakeWorker(**q, *store_, 4);
  const auto start = Steady::now();
  w->Start();
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&] {
      for (int i = 0; i < kPerProducer; ++i) {
        Job job = CreateJob();  // the API's order: store the row, then enqueue
        auto s = (*q)->Enqueue(MessageFor(job));
        ASSERT_TRUE(s) << s.error().ToString();
      }
    });
  }
  for (auto& t : producers) t.join();
  const int total = kProducers * kPerProducer;
  EXPECT_TRUE(Eventually([&] { return w->stats().succeeded >= total; }, milliseconds(240000)))
      << w->stats().succeeded << " of " << total << " succeeded";
  const auto took = Steady::now() - start;
  EXPECT_TRUE(w->Stop(milliseconds(5000)));
  RecordProperty("jobs_per_second", static_cast<int>(total * 1000.0 / std::max(1, Ms(took))));
  auto counts = store_->CountByStatus("v3");
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)["SUCCESS"], total);
  EXPECT_EQ(counts->size(), 1u) << "every job SUCCESS, none left PENDING/RUNNING/FAILED";
  EXPECT_EQ(Column("SELECT count(*) FROM mqlab_jobs WHERE version = $1 AND attempts <> 1", "v3"),
            "0")
      << "no job ran twice";
  const worker::WorkerStats st = w->stats();
  EXPECT_EQ(st.duplicates, 0);
  EXPECT_EQ(st.retried, 0);
  EXPECT_EQ((*q)->Depth().value_or(-1), 0);
}

// Failed attempts go through the store's Requeue and the queue's Retry (backoff held in
// run_after), and jobs out of attempts through Finish FAILED and DeadLetter: nothing is left
// behind, no job runs more than its max attempts, every FAILED job has its dead letter.
TEST_F(PostgresWorkerTest, FailedAttemptsAreRetriedThenDeadLettered) {
  constexpr int kJobs = 200;
  auto q = PostgresQueue::Open(Options(), store_->pool());
  ASSERT_TRUE(q) << q.error().ToString();
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE((*q)->Enqueue(MessageFor(CreateJob())));
  auto w = MakeWorker(**q, *store_, 4, /*fail_rate=*/0.5);
  w->Start();
  EXPECT_TRUE(Eventually([&] { return w->stats().succeeded + w->stats().failed >= kJobs; },
                         milliseconds(120000)));
  EXPECT_TRUE(w->Stop(milliseconds(5000)));
  auto counts = store_->CountByStatus("v3");
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)["SUCCESS"] + (*counts)["FAILED"], kJobs) << "nothing left PENDING/RUNNING";
  EXPECT_GT((*counts)["FAILED"], 0) << "at 50% failures over 3 attempts, ~12% fail";
  const worker::WorkerStats st = w->stats();
  EXPECT_GT(st.retried, 0);
  EXPECT_EQ(st.duplicates, 0);
  EXPECT_EQ(Column("SELECT count(*) FROM mqlab_jobs WHERE version = $1 AND "
                   "(attempts > max_attempts OR attempts <> queue_attempt)",
                   "v3"),
            "0")
      << "one start per delivery, and never beyond max attempts";
  auto dead = (*q)->PeekDeadLetters(kJobs);
  ASSERT_TRUE(dead);
  EXPECT_EQ(static_cast<int64_t>(dead->size()), (*counts)["FAILED"]);
  for (const DeadLetter& d : *dead) {
    EXPECT_EQ(d.message.attempt, 3);
    EXPECT_NE(d.reason.find("failed after 3 attempts"), std::string::npos) << d.reason;
  }
  EXPECT_EQ((*q)->Depth().value_or(-1), 0);
}

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The probe (tests/tools/queue_probe.cc) claims one row and hangs; the test starts the job in the
// store as the probe's worker loop would have (RUNNING, attempt 1), then kills the probe. The
// row's lease, no longer extended, expires; a rescuer returns it; a live worker runs attempt 2.
TEST_F(PostgresWorkerTest, KilledWorkersRunningJobIsRescuedAndCompletesWithAttemptTwo) {
  // The probe opens its queue through the registry, in the default schema: so does this test.
  auto pub = store::PgStore::Open({.url = url_, .pool_size = 6});
  ASSERT_TRUE(pub) << pub.error().ToString();
  const std::string version = "mqlab_k_" + NewJobId().substr(0, 8);
  Job job;
  job.id = NewJobId();
  job.version = version;
  job.input_path = "in.png";
  job.created_at = job.updated_at = Clock::Real().Now();
  ASSERT_TRUE((*pub)->Create(job));
  PostgresQueueOptions o = Options(version);
  o.schema = "public";
  auto producer = OpenQueue(o);
  ASSERT_TRUE(producer);
  ASSERT_TRUE(producer->Enqueue(MessageFor(job)));

  testing::TempDir dir("pgq-probe");
  auto pid = services::Spawn(
      {.argv = {MQLAB_QUEUE_PROBE, "--kind", "postgres", "--url", url_, "--name", version,
                "--lease-ms", std::to_string(o.lease.count())},
       .output = dir.path() / "probe.log"});
  ASSERT_TRUE(pid) << pid.error().ToString();
  std::string log;
  ASSERT_TRUE(Eventually([&] {
    log = ReadFile(dir.path() / "probe.log");
    return log.find("received") != std::string::npos || log.find("error") != std::string::npos;
  }, milliseconds(60000)));
  ASSERT_NE(log.find("received " + job.id), std::string::npos) << log;
  auto first =
      (*pub)->StartAttempt({.id = job.id, .worker_id = "probe", .now = Clock::Real().Now()});
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->attempts, 1);
  kill(*pid, SIGKILL);
  ASSERT_TRUE(services::WaitGone(*pid, std::chrono::seconds(10)));
  const auto killed_at = Steady::now();

  auto consumer = OpenQueue(o);
  ASSERT_TRUE(consumer);
  auto w = MakeWorker(*consumer, **pub, 1);
  w->Start();
  EXPECT_TRUE(Eventually([&] { return (*pub)->Get(job.id)->status == JobStatus::kSuccess; },
                         milliseconds(30000)));
  const auto took = Steady::now() - killed_at;
  EXPECT_TRUE(w->Stop(milliseconds(5000)));
  RecordProperty("rescued_and_done_ms", Ms(took));
  Job done = (*pub)->Get(job.id).value();
  EXPECT_EQ(done.status, JobStatus::kSuccess);
  EXPECT_EQ(done.attempts, 2);
  EXPECT_EQ(done.worker_id, "w-test");
  EXPECT_LE(took, milliseconds(8000)) << "later than lease + rescue interval + slack";
}

// Pickup latency, one job at a time at random gaps: from the moment the API's store.Create
// returned (the row is committed and visible) to the consumer's Receive returning; with LISTEN
// that includes the API's Enqueue (the NOTIFY), with polling the wait for the next poll. The
// consumer is another queue object (another pool: another process as far as PostgreSQL knows),
// so only NOTIFY or its polling can wake it.
std::vector<int64_t> PickupLatenciesMicros(PgQueueTestBase& t, store::PgStore& store,
                                           PostgresQueue& producer, PostgresQueue& consumer,
                                           const std::string& version, int samples);

TEST_F(PostgresWorkerTest, PickupLatencyListenNotifyVersusPolling) {
  constexpr int kSamples = 25;
  auto p50 = [](std::vector<int64_t> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? -1 : v[v.size() / 2];
  };
  for (bool listen : {true, false}) {
    const std::string version = listen ? "v3-listen" : "v3-poll";
    PostgresQueueOptions o = Options(version);
    o.listen = listen;
    o.poll_interval = milliseconds(100);
    auto producer = OpenQueue(o);
    auto consumer = OpenQueue(o);
    ASSERT_TRUE(producer && consumer);
    EXPECT_EQ(consumer->capabilities().push_wakeup, listen);
    auto lat = PickupLatenciesMicros(*this, *store_, *producer, *consumer, version, kSamples);
    ASSERT_EQ(lat.size(), static_cast<size_t>(kSamples)) << "every job picked up";
    RecordProperty(listen ? "pickup_p50_us_listen" : "pickup_p50_us_poll_100ms",
                   static_cast<int>(p50(lat)));
    RecordProperty(listen ? "pickup_max_us_listen" : "pickup_max_us_poll_100ms",
                   static_cast<int>(*std::max_element(lat.begin(), lat.end())));
  }
}

std::vector<int64_t> PickupLatenciesMicros(PgQueueTestBase&, store::PgStore& store,
                                           PostgresQueue& producer, PostgresQueue& consumer,
                                           const std::string& version, int samples) {
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> gap_ms(0, 150);
  std::vector<int64_t> out;
  // The consumer blocks in Receive the whole time, as an idle worker does.
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Steady::time_point> received;
  std::atomic<bool> stop{false};
  std::thread consumer_thread([&] {
    while (!stop.load()) {
      auto d = consumer.Receive({.timeout = milliseconds(200)});
      if (!d || !*d) continue;
      const auto at = Steady::now();
      (void)(*d)->Ack();
      std::lock_guard lock(mu);
      received = at;
      cv.notify_all();
    }
  });
  for (int i = 0; i < samples; ++i) {
    // Arrivals at random moments: a poller's phase is then random too. A pause modelling load,
    // not a wait for an event.
    std::this_thread::sleep_for(milliseconds(gap_ms(rng)));
    Job job;
    job.id = NewJobId();
    job.version = version;
    job.input_path = "in.png";
    job.created_at = job.updated_at = Clock::Real().Now();
    if (!store.Create(job)) break;
    const auto stored = Steady::now();  // the row is committed: a poller could see it from here
    if (!producer.Enqueue({.job_id = job.id, .attempt = 1, .enqueued_at = job.created_at})) break;
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return received.has_value(); })) break;
    // A poll may land between the commit and `stored`: that pickup counts as immediate.
    out.push_back(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(*received - stored).count()));
    received.reset();
  }
  stop = true;
  consumer_thread.join();
  return out;
}

}  // namespace
}  // namespace mqlab::queue
