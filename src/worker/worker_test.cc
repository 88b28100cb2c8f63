#include "worker/worker.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>

#include "common/logging.h"
#include "metrics/registry.h"
#include "queue/memory/memory_queue.h"
#include "store/sqlite/sqlite_store.h"
#include "tests/support/temp_dir.h"

namespace mqlab::worker {
namespace {

using std::chrono::milliseconds;

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open({.path = (dir_.path() / "jobs.db").string()});
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }

  std::string Submit(int max_attempts = 3) {
    Job job;
    job.id = NewJobId();
    job.version = "mem";
    job.input_path = "in.png";
    job.max_attempts = max_attempts;
    job.created_at = job.updated_at = Clock::Real().Now();
    EXPECT_TRUE(store_->Create(job));
    EXPECT_TRUE(queue_.Enqueue({.job_id = job.id, .attempt = 1, .enqueued_at = job.created_at}));
    return job.id;
  }

  std::unique_ptr<Worker> MakeWorker(model::PredictorOptions p, int concurrency = 1) {
    p.write_output = false;
    predictor_ = std::make_unique<model::Predictor>(dir_.path(), p);
    return std::make_unique<Worker>(
        WorkerOptions{.worker_id = "w-test", .concurrency = concurrency,
                      .backoff_base = milliseconds(1), .backoff_max = milliseconds(5),
                      .poll_timeout = milliseconds(20)},
        "memory", queue_, *store_, *predictor_, Clock::Real(), metrics_, NullLogger());
  }

  // Waits (polling with a deadline) until `done` holds.
  template <class F>
  bool Eventually(F done, milliseconds limit = milliseconds(20000)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(5));
    }
    return done();
  }

  JobStatus StatusOf(const std::string& id) { return store_->Get(id).value().status; }

  // A model taking `service` per job, writing no output.
  void UseModel(std::chrono::microseconds service) {
    predictor_ = std::make_unique<model::Predictor>(
        dir_.path(), model::PredictorOptions{.service_time = service, .write_output = false});
  }

  // A worker over `store` (a wrapper of store_), the memory queue and the model of UseModel.
  std::unique_ptr<Worker> WorkerOver(store::JobStore& store, WorkerOptions o) {
    return std::make_unique<Worker>(std::move(o), "memory", queue_, store, *predictor_,
                                    Clock::Real(), metrics_, NullLogger());
  }

  // Submits `n` jobs, runs `w` until all succeeded and stops it: every job SUCCESS, the queue
  // empty, nothing left in flight.
  void RunAll(Worker& w, int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(Submit());
    w.Start();
    ASSERT_TRUE(Eventually([&] { return w.stats().succeeded == n; }));
    EXPECT_TRUE(w.Stop(milliseconds(5000)));
    for (const auto& id : ids) EXPECT_EQ(StatusOf(id), JobStatus::kSuccess);
    EXPECT_EQ(queue_.Depth().value(), 0);
    EXPECT_EQ(w.in_flight(), 0);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  queue::MemoryQueue queue_;
  metrics::Registry registry_;
  metrics::MqlabMetrics metrics_{registry_};
  std::unique_ptr<model::Predictor> predictor_;
};

TEST_F(WorkerTest, RunsEveryJobToSuccessOnce) {
  auto w = MakeWorker({.service_time = std::chrono::microseconds(0)}, 4);
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(Submit());
  w->Start();
  ASSERT_TRUE(Eventually([&] { return w->stats().succeeded == 300; }));
  EXPECT_TRUE(w->Stop(milliseconds(5000)));
  for (const auto& id : ids) {
    Job job = store_->Get(id).value();
    EXPECT_EQ(job.status, JobStatus::kSuccess);
    EXPECT_EQ(job.attempts, 1);
    EXPECT_EQ(job.worker_id, "w-test");
    EXPECT_TRUE(job.finished_at.has_value());
  }
  EXPECT_EQ(w->stats().duplicates, 0);
  EXPECT_EQ(queue_.Depth().value(), 0);
  EXPECT_EQ(metrics_.jobs_completed_total.With({"memory", "SUCCESS"}).Value(), 300);
  EXPECT_EQ(metrics_.job_processing_seconds.With({"memory"}).Count(), 300u);
}

TEST_F(WorkerTest, FailingModelRetriesThenFailsAndDeadLetters) {
  auto w = MakeWorker({.service_time = std::chrono::microseconds(0), .fail_rate = 1.0});
  std::string id = Submit(/*max_attempts=*/3);
  w->Start();
  ASSERT_TRUE(Eventually([&] { return StatusOf(id) == JobStatus::kFailed; }));
  w->Stop(milliseconds(5000));
  Job job = store_->Get(id).value();
  EXPECT_EQ(job.attempts, 3);
  EXPECT_EQ(job.error_message, "simulated model failure");
  EXPECT_EQ(w->stats().retried, 2);
  EXPECT_EQ(w->stats().failed, 1);
  auto dead = queue_.PeekDeadLetters(10).value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message.job_id, id);
  EXPECT_EQ(dead[0].message.attempt, 3);
  EXPECT_NE(dead[0].reason.find("failed after 3 attempts"), std::string::npos) << dead[0].reason;
}

TEST_F(WorkerTest, DuplicateDeliveryOfFinishedJobIsAckedAndSkipped) {
  auto w = MakeWorker({.service_time = std::chrono::microseconds(0)});
  std::string id = Submit();
  w->Start();
  ASSERT_TRUE(Eventually([&] { return StatusOf(id) == JobStatus::kSuccess; }));
  Job before = store_->Get(id).value();
  ASSERT_TRUE(queue_.Enqueue({.job_id = id, .attempt = 1, .enqueued_at = Clock::Real().Now()}));
  ASSERT_TRUE(Eventually([&] { return w->stats().duplicates == 1; }));
  w->Stop(milliseconds(5000));
  Job after = store_->Get(id).value();
  EXPECT_EQ(after.attempts, before.attempts) << "a finished job never runs again";
  EXPECT_EQ(ToUnixMicros(*after.finished_at), ToUnixMicros(*before.finished_at));
  EXPECT_EQ(w->stats().succeeded, 1);
  EXPECT_EQ(metrics_.job_duplicates_total.With({"memory"}).Value(), 1);
  EXPECT_TRUE(queue_.PeekDeadLetters(10).value().empty());
}

TEST_F(WorkerTest, UnknownJobIsDeadLettered) {
  auto w = MakeWorker({.service_time = std::chrono::microseconds(0)});
  std::string ghost = NewJobId();
  ASSERT_TRUE(queue_.Enqueue({.job_id = ghost, .attempt = 1, .enqueued_at = Clock::Real().Now()}));
  w->Start();
  ASSERT_TRUE(Eventually([&] { return w->stats().dead_lettered == 1; }));
  w->Stop(milliseconds(5000));
  auto dead = queue_.PeekDeadLetters(10).value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message.job_id, ghost);
  EXPECT_NE(dead[0].reason.find("unknown job"), std::string::npos);
}

// A delivery whose payload did not decode, as a broker adapter hands it over.
class MalformedDelivery final : public queue::Delivery {
 public:
  explicit MalformedDelivery(std::string* reason)
      : Delivery(queue::Message{}, "message is not a JSON object"), reason_(reason) {}
  Status Ack() override { return Ok(); }
  Status Retry(milliseconds) override { return Ok(); }
  Status DeadLetter(std::string_view reason) override {
    *reason_ = std::string(reason);
    return Ok();
  }

 private:
  std::string* reason_;
};

TEST_F(WorkerTest, MalformedMessageIsDeadLetteredWithReason) {
  auto w = MakeWorker({.service_time = std::chrono::microseconds(0)});
  std::string reason;
  w->Handle(std::make_unique<MalformedDelivery>(&reason));
  EXPECT_EQ(reason, "malformed message: message is not a JSON object");
  EXPECT_EQ(w->stats().dead_lettered, 1);
}

// After a malformed and an unknown message, each dead-lettered with its reason, the worker goes
// on with the next job.
TEST_F(WorkerTest, GoesOnAfterMalformedAndUnknownMessages) {
  auto w = MakeWorker({.service_time = std::chrono::microseconds(0)});
  std::string reason;
  w->Handle(std::make_unique<MalformedDelivery>(&reason));
  EXPECT_EQ(reason, "malformed message: message is not a JSON object");
  const std::string ghost = NewJobId();
  ASSERT_TRUE(queue_.Enqueue({.job_id = ghost, .attempt = 1, .enqueued_at = Clock::Real().Now()}));
  const std::string real = Submit();
  w->Start();
  ASSERT_TRUE(Eventually([&] { return w->stats().succeeded == 1; }));
  EXPECT_TRUE(w->Stop(milliseconds(5000)));
  EXPECT_EQ(w->stats().dead_lettered, 2);
  EXPECT_EQ(StatusOf(real), JobStatus::kSuccess);
  auto dead = queue_.PeekDeadLetters(10).value();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message.job_id, ghost);
  EXPECT_NE(dead[0].reason.find("unknown job"), std::string::npos) << dead[0].reason;
}

TEST_F(WorkerTest, StopDrainsJobsInFlight) {
  auto w = MakeWorker({.service_time = milliseconds(300)}, 2);
  std::string a = Submit(), b = Submit();
  w->Start();
  ASSERT_TRUE(Eventually([&] { return w->in_flight() == 2; }));
  EXPECT_TRUE(w->Stop(milliseconds(10000)));
  EXPECT_EQ(StatusOf(a), JobStatus::kSuccess);
  EXPECT_EQ(StatusOf(b), JobStatus::kSuccess);
}

TEST_F(WorkerTest, StopPastGraceCancelsAndReleasesTheJob) {
  auto w = MakeWorker({.service_time = std::chrono::seconds(60)});
  std::string id = Submit();
  w->Start();
  ASSERT_TRUE(Eventually([&] { return w->in_flight() == 1; }));
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(w->Stop(milliseconds(100)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(StatusOf(id), JobStatus::kRunning);  // a later worker takes it over
  EXPECT_EQ(queue_.Depth().value(), 1) << "the released message is back in the queue";
  EXPECT_EQ(w->stats().abandoned, 1);
}

TEST_F(WorkerTest, BackoffOptionsValidate) {
  EXPECT_TRUE(WorkerOptions{}.Validate());
  EXPECT_FALSE((WorkerOptions{.completion_batch = 0}).Validate());
  // Prefetch: per slot one running, one ready, two being recorded; inline modes drop theirs.
  EXPECT_EQ((WorkerOptions{.concurrency = 3}).Prefetch(), 12);
  EXPECT_EQ((WorkerOptions{.concurrency = 3, .async_completion = false}).Prefetch(), 6);
  EXPECT_EQ((WorkerOptions{.concurrency = 3, .async_completion = false, .receive_ahead = false})
                .Prefetch(),
            3);
  EXPECT_FALSE((WorkerOptions{.concurrency = 0}).Validate());
  EXPECT_FALSE(
      (WorkerOptions{.backoff_base = milliseconds(10), .backoff_max = milliseconds(5)}).Validate());
}

// A JobStore that forwards every call to `inner`: test stores override what they change.
class ForwardingStore : public store::JobStore {
 public:
  explicit ForwardingStore(store::JobStore& inner) : inner_(inner) {}
  Status Create(const Job& job) override { return inner_.Create(job); }
  Result<Job> Get(std::string_view id) override { return inner_.Get(id); }
  Result<Job> FindByIdempotencyKey(std::string_view v, std::string_view k) override {
    return inner_.FindByIdempotencyKey(v, k);
  }
  Result<Job> StartAttempt(const store::StartParams& p) override { return inner_.StartAttempt(p); }
  Status Finish(const store::FinishParams& p) override { return inner_.Finish(p); }
  std::vector<Status> FinishMany(std::span<const store::FinishParams> p) override {
    return inner_.FinishMany(p);
  }
  Status Requeue(const store::RequeueParams& p) override { return inner_.Requeue(p); }
  Status Reject(const store::RejectParams& p) override { return inner_.Reject(p); }
  Result<std::vector<std::string>> Recover(const store::RecoverParams& p) override {
    return inner_.Recover(p);
  }
  Result<std::map<std::string, int64_t>> CountByStatus(std::string_view v) override {
    return inner_.CountByStatus(v);
  }
  Status Ping() override { return inner_.Ping(); }

 protected:
  store::JobStore& inner_;
};

// A store whose Finish takes `finish_delay`, and which notes whether a StartAttempt ever began
// while a Finish was in progress (the next job started while the last one was being recorded).
class SlowFinishStore final : public ForwardingStore {
 public:
  SlowFinishStore(store::JobStore& inner, milliseconds finish_delay)
      : ForwardingStore(inner), delay_(finish_delay) {}
  Result<Job> StartAttempt(const store::StartParams& p) override {
    if (finishing_.load() > 0) overlapped_ = true;
    return inner_.StartAttempt(p);
  }
  Status Finish(const store::FinishParams& p) override {
    return FinishMany(std::span<const store::FinishParams>(&p, 1)).front();
  }
  std::vector<Status> FinishMany(std::span<const store::FinishParams> p) override {
    finishing_++;
    calls_++;
    size_t seen = largest_batch_.load();
    while (p.size() > seen && !largest_batch_.compare_exchange_weak(seen, p.size())) {
    }
    std::this_thread::sleep_for(delay_);
    auto s = inner_.FinishMany(p);
    finishing_--;
    return s;
  }
  bool overlapped() const { return overlapped_.load(); }
  int calls() const { return calls_.load(); }
  size_t largest_batch() const { return largest_batch_.load(); }

 private:
  const milliseconds delay_;
  std::atomic<int> finishing_{0}, calls_{0};
  std::atomic<size_t> largest_batch_{0};
  std::atomic<bool> overlapped_{false};
};

class CompletionTest : public WorkerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(CompletionTest, NextJobStartsWhileTheLastIsRecordedOnlyWithAsyncCompletion) {
  // Jobs of 10 ms and a Finish of 40 ms: the starts are spread over the run, so with async
  // completion some begin while a Finish is in progress (a batch of several, or one).
  const bool async = GetParam();
  SlowFinishStore slow(*store_, milliseconds(40));
  UseModel(std::chrono::microseconds(10000));
  // Without receive-ahead, so that only the completion mode decides whether a start can overlap
  // a Finish (with it, the slot's fetcher starts the next job during an inline Finish too).
  auto w = WorkerOver(slow, WorkerOptions{.worker_id = "w-test", .concurrency = 1,
                         .poll_timeout = milliseconds(20), .async_completion = async,
                         .receive_ahead = false});
  RunAll(*w, 8);
  EXPECT_EQ(slow.overlapped(), async)
      << (async ? "the loop waited for each Finish" : "a job started during a Finish inline");
}

TEST_P(CompletionTest, StopRecordsEveryJobThatFinishedPredicting) {
  SlowFinishStore slow(*store_, milliseconds(60));
  predictor_ = std::make_unique<model::Predictor>(
      dir_.path(), model::PredictorOptions{.service_time = std::chrono::microseconds(0),
                                           .write_output = false});
  auto w = WorkerOver(slow, WorkerOptions{.worker_id = "w-test", .concurrency = 2,
                         .poll_timeout = milliseconds(20), .async_completion = GetParam()});
  for (int i = 0; i < 40; ++i) Submit();
  w->Start();
  ASSERT_TRUE(Eventually([&] { return w->stats().received >= 6; }));
  EXPECT_TRUE(w->Stop(milliseconds(10000)));  // completions waiting on the completers included
  const WorkerStats st = w->stats();
  EXPECT_EQ(st.succeeded, st.received) << "every job taken was recorded and acknowledged";
  auto counts = store_->CountByStatus("mem").value();
  EXPECT_EQ(counts["SUCCESS"], st.succeeded);
  EXPECT_EQ(counts["RUNNING"], 0) << "nothing left half-done";
  EXPECT_EQ(counts["PENDING"] + st.received, 40);
  EXPECT_EQ(queue_.Depth().value(), 40 - st.received);
}

TEST_P(CompletionTest, SuccessesWaitingForTheCompletersAreRecordedInBatches) {
  // A slow commit (40 ms) and instant jobs: with async completion the successes that pile up
  // behind one commit are recorded by the next in one store call; inline, one call per job.
  const bool async = GetParam();
  SlowFinishStore slow(*store_, milliseconds(40));
  UseModel(std::chrono::microseconds(0));
  auto w = WorkerOver(slow, WorkerOptions{.worker_id = "w-test", .concurrency = 1,
                         .poll_timeout = milliseconds(20), .async_completion = async,
                         .completion_batch = 16});
  RunAll(*w, 40);
  if (async) {
    EXPECT_GT(slow.largest_batch(), 1u);
    EXPECT_LE(slow.largest_batch(), 16u) << "completion_batch bounds a store call";
    EXPECT_LT(slow.calls(), 40);
  } else {
    EXPECT_EQ(slow.largest_batch(), 1u);
    EXPECT_EQ(slow.calls(), 40);
  }
}

INSTANTIATE_TEST_SUITE_P(Worker, CompletionTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Async" : "Inline";
                         });

// A store that records, at each StartAttempt, how many jobs of the version are RUNNING already:
// with receive-ahead a slot starts its next job while its model runs the current one.
class StartCountingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<Job> StartAttempt(const store::StartParams& p) override {
    auto counts = inner_.CountByStatus("mem");
    if (counts) {
      int64_t running = (*counts)["RUNNING"];
      int64_t seen = most_running_.load();
      while (running > seen && !most_running_.compare_exchange_weak(seen, running)) {
      }
    }
    return inner_.StartAttempt(p);
  }
  int64_t most_running() const { return most_running_.load(); }

 private:
  std::atomic<int64_t> most_running_{0};
};

class ReceiveAheadTest : public WorkerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ReceiveAheadTest, ASlotStartsItsNextJobWhileItsModelRunsOnlyWithReceiveAhead) {
  const bool ahead = GetParam();
  StartCountingStore counting(*store_);
  UseModel(std::chrono::microseconds(30000));
  auto w = WorkerOver(counting, WorkerOptions{.worker_id = "w-test", .concurrency = 1,
                         .poll_timeout = milliseconds(20), .async_completion = false,
                         .receive_ahead = ahead});
  RunAll(*w, 6);
  // One model: without receive-ahead a job starts only after the last one was recorded.
  EXPECT_EQ(counting.most_running(), ahead ? 1 : 0);
}

TEST_P(ReceiveAheadTest, StopRunsTheReadyJobAndCancelTheRestReleasesIt) {
  // Stop with grace: the job ready for the slot runs too (received == succeeded). Stop with no
  // grace: the running prediction and the ready job are released unsettled and come back.
  StartCountingStore counting(*store_);
  UseModel(std::chrono::microseconds(50000));
  WorkerOptions o{.worker_id = "w-test", .concurrency = 1, .poll_timeout = milliseconds(20),
                  .receive_ahead = GetParam()};
  for (int i = 0; i < 10; ++i) Submit();
  {
    auto w = WorkerOver(counting, o);
    w->Start();
    ASSERT_TRUE(Eventually([&] { return w->stats().succeeded >= 1; }));
    EXPECT_TRUE(w->Stop(milliseconds(5000)));
    const WorkerStats st = w->stats();
    EXPECT_EQ(st.succeeded, st.received);
    EXPECT_EQ(st.abandoned, 0);
    EXPECT_EQ(queue_.Depth().value(), 10 - st.received);
  }
  {
    auto w = WorkerOver(counting, o);
    const int64_t before = queue_.Depth().value();
    w->Start();
    ASSERT_TRUE(Eventually([&] { return w->in_flight() == (GetParam() ? 2 : 1); }));
    EXPECT_FALSE(w->Stop(milliseconds(0)));
    const WorkerStats st = w->stats();
    EXPECT_EQ(st.succeeded, 0);
    EXPECT_EQ(st.abandoned, st.received);
    EXPECT_EQ(w->in_flight(), 0);
    // Released unsettled: back in the queue (the memory queue returns them at once).
    EXPECT_TRUE(Eventually([&] { return queue_.Depth().value() == before; }));
  }
}

// Records when each StartAttempt and each Finish ran.
class StartTimesStore final : public ForwardingStore {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  using ForwardingStore::ForwardingStore;
  Result<Job> StartAttempt(const store::StartParams& p) override {
    Note(starts_);
    return inner_.StartAttempt(p);
  }
  Status Finish(const store::FinishParams& p) override {
    Note(finishes_);
    return inner_.Finish(p);
  }
  std::vector<TimePoint> starts() { return Get(starts_); }
  std::vector<TimePoint> finishes() { return Get(finishes_); }

 private:
  void Note(std::vector<TimePoint>& v) {
    std::lock_guard lock(mu_);
    v.push_back(std::chrono::steady_clock::now());
  }
  std::vector<TimePoint> Get(const std::vector<TimePoint>& v) {
    std::lock_guard lock(mu_);
    return v;
  }
  std::mutex mu_;
  std::vector<TimePoint> starts_, finishes_;
};

TEST_F(WorkerTest, ReceiveAheadFetchesNearTheEndOfThePredictionNotAtItsStart) {
  // 100 ms jobs: once the worker knows how long they take, job k+1 is fetched and started just
  // before job k ends (its Finish), not as job k begins (~100 ms before): a busy worker does not
  // hold a job another consumer could run for the whole prediction.
  StartTimesStore times(*store_);
  UseModel(std::chrono::microseconds(100000));
  auto w = WorkerOver(times, WorkerOptions{.worker_id = "w-test", .concurrency = 1,
                         .poll_timeout = milliseconds(20), .async_completion = false,
                         .receive_ahead = true});
  RunAll(*w, 6);
  auto starts = times.starts();
  auto finishes = times.finishes();
  ASSERT_EQ(starts.size(), 6u);
  ASSERT_EQ(finishes.size(), 6u);
  for (size_t k = 2; k + 1 < starts.size(); ++k) {  // the first fetches have no running mean yet
    EXPECT_LT(finishes[k] - starts[k + 1], milliseconds(50)) << "job " << k + 1 << " fetched early";
  }
}

INSTANTIATE_TEST_SUITE_P(Worker, ReceiveAheadTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Ahead" : "Inline";
                         });


// A store that "forgets" every start once (as a server restarted before flushing it would): the
// row stays PENDING with no attempt while the worker runs attempt 1.
class ForgetfulStartStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  Result<Job> StartAttempt(const store::StartParams& p) override {
    auto job = inner_.Get(p.id);
    if (!forgot_.contains(std::string(p.id)) && job && job->status == JobStatus::kPending) {
      forgot_.insert(std::string(p.id));
      Job pretend = *job;  // what the worker is told, though nothing was kept
      pretend.status = JobStatus::kRunning;
      pretend.attempts += 1;
      return pretend;
    }
    return inner_.StartAttempt(p);
  }

 private:
  std::set<std::string> forgot_;
};

TEST_F(WorkerTest, AJobWhoseStartTheStoreLostRunsAgainInsteadOfBeingAcked) {
  ForgetfulStartStore forgetful(*store_);
  predictor_ = std::make_unique<model::Predictor>(
      dir_.path(), model::PredictorOptions{.service_time = std::chrono::microseconds(0),
                                           .write_output = false});
  auto w = WorkerOver(forgetful, WorkerOptions{.worker_id = "w-test", .concurrency = 1,
                         .backoff_base = milliseconds(1), .backoff_max = milliseconds(5),
                         .poll_timeout = milliseconds(20)});
  const std::string id = Submit();
  w->Handle(queue_.Receive({}).value());  // Finish finds no attempt 1: the delivery comes back
  EXPECT_EQ(StatusOf(id), JobStatus::kPending);
  EXPECT_EQ(w->stats().duplicates, 0) << "not mistaken for a duplicate and acknowledged";
  ASSERT_TRUE(Eventually([&] { return queue_.Depth().value() == 1; }));
  auto again = queue_.Receive({.timeout = milliseconds(2000)});
  ASSERT_TRUE(again && *again);
  w->Handle(std::move(*again));
  EXPECT_EQ(StatusOf(id), JobStatus::kSuccess);
  EXPECT_EQ(store_->Get(id).value().attempts, 1);
}

}  // namespace
}  // namespace mqlab::worker
