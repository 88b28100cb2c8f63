// The JobStore conformance suite: one set of cases every store must pass (river's driver tests).
//
// Use: include this header in exactly one test file per store and instantiate it with a factory
// that makes a fresh, empty store for each case (a new SQLite file, a new PostgreSQL schema):
//   INSTANTIATE_TEST_SUITE_P(Sqlite, JobStoreConformanceTest,
//                            ::testing::Values(StoreFactory{"Sqlite", MakeSqlite}),
//                            StoreFactoryName);
// The cases follow the contract written in include/mqlab/store/job_store.h; when it changes,
// change them. No case sleeps: concurrent cases release their threads together with a latch.
#ifndef MQLAB_STORE_STORE_CONFORMANCE_TEST_H_
#define MQLAB_STORE_STORE_CONFORMANCE_TEST_H_

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <deque>
#include <functional>
#include <latch>
#include <memory>
#include <ostream>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "mqlab/domain/job.h"
#include "mqlab/store/job_store.h"

namespace mqlab::store::testing {

// A store under test plus whatever must be cleaned up after the case (a file, a schema).
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  virtual JobStore& store() = 0;
};

struct StoreFactory {
  std::string name;  // the instantiation's label: "Sqlite", "Postgres"
  std::function<Result<std::unique_ptr<StoreUnderTest>>()> make;
};

inline void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }
inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

// A fixed instant with a sub-millisecond part, so that microsecond precision is checked.
inline WallTime T(int64_t offset_micros = 0) {
  return FromUnixMicros(1764089000123457 + offset_micros);
}

// Every field of Job; checklist: a field added to Job is added here (see job.h).
inline void ExpectSameJob(const Job& want, const Job& got) {
  EXPECT_EQ(want.id, got.id);
  EXPECT_EQ(want.version, got.version);
  EXPECT_EQ(want.status, got.status);
  EXPECT_EQ(want.input_path, got.input_path);
  EXPECT_EQ(want.output_path, got.output_path);
  EXPECT_EQ(want.error_message, got.error_message);
  EXPECT_EQ(want.attempts, got.attempts);
  EXPECT_EQ(want.max_attempts, got.max_attempts);
  EXPECT_EQ(want.worker_id, got.worker_id);
  EXPECT_EQ(want.request_id, got.request_id);
  EXPECT_EQ(want.created_at, got.created_at);
  EXPECT_EQ(want.updated_at, got.updated_at);
  EXPECT_EQ(want.started_at, got.started_at);
  EXPECT_EQ(want.finished_at, got.finished_at);
  EXPECT_EQ(want.idempotency_key, got.idempotency_key);
}

class JobStoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    auto made = GetParam().make();
    ASSERT_TRUE(made.has_value()) << made.error().ToString();
    sut_ = std::move(*made);
  }
  void TearDown() override { sut_.reset(); }

  JobStore& store() { return sut_->store(); }

  static Job NewPending(std::string_view version = "v3", WallTime created = T()) {
    Job job;
    job.id = NewJobId();
    job.version = std::string(version);
    job.input_path = "images/a.png";
    job.created_at = created;
    job.updated_at = created;
    return job;
  }
  // Creates a PENDING job and returns its id.
  std::string CreatePending(std::string_view version = "v3", WallTime created = T()) {
    Job job = NewPending(version, created);
    EXPECT_TRUE(store().Create(job).has_value());
    return job.id;
  }
  Job MustGet(std::string_view id) {
    auto job = store().Get(id);
    EXPECT_TRUE(job.has_value()) << job.error().ToString();
    return job.value_or(Job{});
  }
  int MustStart(std::string_view id, std::string_view worker = "w1", WallTime now = T(10)) {
    auto job = store().StartAttempt({.id = id, .worker_id = worker, .now = now});
    EXPECT_TRUE(job.has_value()) << job.error().ToString();
    return job ? job->attempts : -1;
  }
  static FinishParams Success(std::string_view id, int attempt, std::string_view output,
                              WallTime now = T(20)) {
    return {.id = id, .attempt = attempt, .outcome = JobStatus::kSuccess, .output_path = output,
            .now = now};
  }

  std::unique_ptr<StoreUnderTest> sut_;
};

// A Result's error code name, or "ok": failures then print both sides readably.
template <typename T>
std::string CodeOf(const Result<T>& r) {
  return r.has_value() ? "ok" : std::string(ErrorCodeName(r.error().code));
}

TEST_P(JobStoreConformanceTest, CreateGetRoundTripsEveryField) {
  Job fresh = NewPending();
  ASSERT_TRUE(store().Create(fresh).has_value());
  ExpectSameJob(fresh, MustGet(fresh.id));

  Job full;  // every field set, odd characters included
  full.id = NewJobId();
  full.version = "v6";
  full.status = JobStatus::kFailed;
  full.input_path = "images/l'été \"quoted\" 漢字.png";
  full.output_path = "outputs/x;y.json";
  full.error_message = "model said: 'no'\nsecond line";
  full.attempts = 2;
  full.max_attempts = 5;
  full.worker_id = "worker-7/thread-2";
  full.request_id = "req-0001";
  full.created_at = T(1);
  full.updated_at = T(2);
  full.started_at = T(3);
  full.finished_at = T(4);
  full.idempotency_key = "order-42/retry \"1\"";
  ASSERT_TRUE(store().Create(full).has_value());
  ExpectSameJob(full, MustGet(full.id));
}

TEST_P(JobStoreConformanceTest, IdsAreCanonicalLowercase) {
  Job job = NewPending();
  const std::string lower = job.id;
  std::string upper = lower;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  job.id = upper;
  ASSERT_TRUE(store().Create(job).has_value());
  EXPECT_EQ(MustGet(lower).id, lower);
  EXPECT_EQ(MustGet(upper).id, lower);
}

TEST_P(JobStoreConformanceTest, DuplicateCreateIsAlreadyExists) {
  Job job = NewPending();
  ASSERT_TRUE(store().Create(job).has_value());
  Job again = NewPending("v4");
  again.id = job.id;
  auto s = store().Create(again);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kAlreadyExists) << s.error().ToString();
  EXPECT_EQ(MustGet(job.id).version, "v3");  // the first one is untouched
}

TEST_P(JobStoreConformanceTest, UnknownIdIsNotFound) {
  const std::string id = NewJobId();
  EXPECT_EQ(CodeOf(store().Get(id)), "not_found");
  EXPECT_EQ(CodeOf(store().Get("not-a-uuid")), "not_found");
  EXPECT_EQ(CodeOf(store().StartAttempt({.id = id, .worker_id = "w", .now = T()})), "not_found");
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 1, "o"))), "not_found");
  EXPECT_EQ(CodeOf(store().Requeue({.id = id, .attempt = 1, .now = T()})), "not_found");
  Job bad = NewPending();
  bad.id = "not-a-uuid";
  EXPECT_EQ(CodeOf(store().Create(bad)), "invalid_argument");
}

TEST_P(JobStoreConformanceTest, StartAttemptIncrementsAttemptsAndSetsRunning) {
  const std::string id = CreatePending();
  auto first = store().StartAttempt({.id = id, .worker_id = "w1", .now = T(10)});
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  EXPECT_EQ(first->status, JobStatus::kRunning);
  EXPECT_EQ(first->attempts, 1);
  EXPECT_EQ(first->worker_id, "w1");
  EXPECT_EQ(first->started_at, T(10));
  EXPECT_EQ(first->updated_at, T(10));
  EXPECT_EQ(first->created_at, T());
  EXPECT_EQ(first->finished_at, std::nullopt);
  ExpectSameJob(*first, MustGet(id));

  // A takeover (the first worker's lease expired): RUNNING -> RUNNING, a new attempt.
  auto second = store().StartAttempt({.id = id, .worker_id = "w2", .now = T(11)});
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(second->attempts, 2);
  EXPECT_EQ(second->worker_id, "w2");
  EXPECT_EQ(second->started_at, T(11));
}

TEST_P(JobStoreConformanceTest, StartAttemptOnFinishedJobIsFailedPrecondition) {
  for (JobStatus outcome : {JobStatus::kSuccess, JobStatus::kFailed}) {
    const std::string id = CreatePending();
    ASSERT_EQ(MustStart(id), 1);
    ASSERT_TRUE(store().Finish({.id = id, .attempt = 1, .outcome = outcome, .now = T(20)}));
    Job before = MustGet(id);
    auto again = store().StartAttempt({.id = id, .worker_id = "w2", .now = T(30)});
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition) << again.error().ToString();
    ExpectSameJob(before, MustGet(id));  // a finished job never runs again
  }
}

TEST_P(JobStoreConformanceTest, FinishIsIdempotentForTheSameOutcomeAndAttempt) {
  const std::string id = CreatePending();
  ASSERT_EQ(MustStart(id), 1);
  ASSERT_TRUE(store().Finish(Success(id, 1, "out/first.json", T(20))).has_value());
  Job done = MustGet(id);
  EXPECT_EQ(done.status, JobStatus::kSuccess);
  EXPECT_EQ(done.output_path, "out/first.json");
  EXPECT_EQ(done.finished_at, T(20));
  EXPECT_EQ(done.updated_at, T(20));

  // The duplicate (a redelivered message) is acknowledged and changes nothing.
  EXPECT_TRUE(store().Finish(Success(id, 1, "out/second.json", T(99))).has_value());
  ExpectSameJob(done, MustGet(id));

  // The other outcome for the same attempt is refused.
  auto failed = store().Finish(
      {.id = id, .attempt = 1, .outcome = JobStatus::kFailed, .error_message = "x", .now = T(30)});
  EXPECT_EQ(CodeOf(failed), "failed_precondition");
  ExpectSameJob(done, MustGet(id));
}

TEST_P(JobStoreConformanceTest, FinishFailedRecordsTheError) {
  const std::string id = CreatePending();
  ASSERT_EQ(MustStart(id), 1);
  ASSERT_TRUE(store().Finish({.id = id, .attempt = 1, .outcome = JobStatus::kFailed,
                              .error_message = "model crashed", .now = T(20)}));
  Job job = MustGet(id);
  EXPECT_EQ(job.status, JobStatus::kFailed);
  EXPECT_EQ(job.error_message, "model crashed");
  EXPECT_EQ(job.finished_at, T(20));
}

TEST_P(JobStoreConformanceTest, StaleAttemptIsAborted) {
  const std::string id = CreatePending();
  ASSERT_EQ(MustStart(id, "w1", T(10)), 1);
  ASSERT_EQ(MustStart(id, "w2", T(11)), 2);  // w1 was presumed dead
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 1, "out/w1.json"))), "aborted");
  EXPECT_EQ(CodeOf(store().Requeue({.id = id, .attempt = 1, .now = T(12)})), "aborted");
  Job running = MustGet(id);
  EXPECT_EQ(running.status, JobStatus::kRunning);
  EXPECT_EQ(running.worker_id, "w2");

  ASSERT_TRUE(store().Finish(Success(id, 2, "out/w2.json")).has_value());
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 1, "out/w1.json"))), "aborted");
  EXPECT_EQ(MustGet(id).output_path, "out/w2.json");
}

TEST_P(JobStoreConformanceTest, FinishOfAnAttemptNotRunningIsFailedPrecondition) {
  const std::string id = CreatePending();
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 1, "o"))), "failed_precondition");
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 0, "o"))), "failed_precondition");
  EXPECT_EQ(CodeOf(store().Requeue({.id = id, .attempt = 1, .now = T()})), "failed_precondition");
  EXPECT_EQ(MustGet(id).status, JobStatus::kPending);

  ASSERT_EQ(MustStart(id), 1);
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 2, "o"))), "failed_precondition");  // never started
  auto running = store().Finish({.id = id, .attempt = 1, .outcome = JobStatus::kRunning});
  EXPECT_EQ(CodeOf(running), "invalid_argument");
  ASSERT_TRUE(store().Requeue({.id = id, .attempt = 1, .error_message = "e", .now = T(30)}));
  EXPECT_EQ(CodeOf(store().Finish(Success(id, 1, "o"))), "failed_precondition");  // requeued
  EXPECT_EQ(MustGet(id).status, JobStatus::kPending);
}

TEST_P(JobStoreConformanceTest, RequeueReturnsRunningToPendingKeepingTheError) {
  const std::string id = CreatePending();
  ASSERT_EQ(MustStart(id), 1);
  ASSERT_TRUE(store().Requeue({.id = id, .attempt = 1, .error_message = "timeout", .now = T(30)}));
  Job pending = MustGet(id);
  EXPECT_EQ(pending.status, JobStatus::kPending);
  EXPECT_EQ(pending.error_message, "timeout");
  EXPECT_EQ(pending.attempts, 1);
  EXPECT_EQ(pending.updated_at, T(30));
  EXPECT_EQ(pending.finished_at, std::nullopt);

  // A duplicate requeue of the same attempt is OK and changes nothing.
  EXPECT_TRUE(store().Requeue({.id = id, .attempt = 1, .error_message = "dup", .now = T(31)}));
  ExpectSameJob(pending, MustGet(id));

  ASSERT_EQ(MustStart(id, "w2", T(40)), 2);
  ASSERT_TRUE(store().Finish(Success(id, 2, "out.json", T(50))).has_value());
  EXPECT_EQ(CodeOf(store().Requeue({.id = id, .attempt = 2, .now = T(60)})),
            "failed_precondition");
}

TEST_P(JobStoreConformanceTest, RejectFailsAJobNeverStarted) {
  const std::string id = CreatePending();
  ASSERT_TRUE(store().Reject({.id = id, .error_message = "enqueue failed", .now = T(5)}));
  Job job = MustGet(id);
  EXPECT_EQ(job.status, JobStatus::kFailed);
  EXPECT_EQ(job.error_message, "enqueue failed");
  EXPECT_EQ(job.finished_at, T(5));
  EXPECT_EQ(job.updated_at, T(5));
  EXPECT_EQ(job.attempts, 0);
  EXPECT_EQ(CodeOf(store().Reject({.id = id, .now = T(6)})), "failed_precondition");
  EXPECT_EQ(CodeOf(store().StartAttempt({.id = id, .worker_id = "w", .now = T(7)})),
            "failed_precondition");
  ExpectSameJob(job, MustGet(id));

  const std::string started = CreatePending();
  ASSERT_EQ(MustStart(started), 1);
  EXPECT_EQ(CodeOf(store().Reject({.id = started, .now = T(8)})), "failed_precondition");
  ASSERT_TRUE(store().Requeue({.id = started, .attempt = 1, .now = T(9)}));
  EXPECT_EQ(CodeOf(store().Reject({.id = started, .now = T(10)})), "failed_precondition");
  EXPECT_EQ(MustGet(started).status, JobStatus::kPending);
  EXPECT_EQ(CodeOf(store().Reject({.id = NewJobId(), .now = T(11)})), "not_found");
}

TEST_P(JobStoreConformanceTest, RecoverReturnsUnfinishedJobsOldestFirst) {
  const std::string newest = CreatePending("mem", T(300));
  const std::string oldest = CreatePending("mem", T(100));
  const std::string running = CreatePending("mem", T(200));
  const std::string done = CreatePending("mem", T(50));
  const std::string other = CreatePending("v3", T(10));
  ASSERT_EQ(MustStart(running), 1);
  ASSERT_EQ(MustStart(done), 1);
  ASSERT_TRUE(store().Finish(Success(done, 1, "o")).has_value());
  ASSERT_EQ(MustStart(other), 1);

  auto ids = store().Recover({.version = "mem", .now = T(1000)});
  ASSERT_TRUE(ids.has_value()) << ids.error().ToString();
  EXPECT_EQ(*ids, (std::vector<std::string>{oldest, running, newest}));
  Job orphan = MustGet(running);
  EXPECT_EQ(orphan.status, JobStatus::kPending);
  EXPECT_EQ(orphan.updated_at, T(1000));
  EXPECT_EQ(orphan.attempts, 1);
  EXPECT_EQ(MustGet(done).status, JobStatus::kSuccess);
  EXPECT_EQ(MustGet(other).status, JobStatus::kRunning);  // another version: untouched

  auto limited = store().Recover({.version = "mem", .now = T(1001), .limit = 2});
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(*limited, (std::vector<std::string>{oldest, running}));
  auto none = store().Recover({.version = "v9", .now = T(1002)});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
}

TEST_P(JobStoreConformanceTest, CountByStatusOmitsEmptyStatuses) {
  for (int i = 0; i < 3; ++i) CreatePending("v5");
  const std::string a = CreatePending("v5");
  const std::string b = CreatePending("v5");
  CreatePending("v6");
  ASSERT_EQ(MustStart(a), 1);
  ASSERT_EQ(MustStart(b), 1);
  ASSERT_TRUE(store().Finish(Success(b, 1, "o")).has_value());
  auto counts = store().CountByStatus("v5");
  ASSERT_TRUE(counts.has_value()) << counts.error().ToString();
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"PENDING", 3}, {"RUNNING", 1},
                                                     {"SUCCESS", 1}}));
  auto empty = store().CountByStatus("v9");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(store().Ping().has_value());
}

constexpr int kThreads = 8;

TEST_P(JobStoreConformanceTest, ConcurrentStartAttemptsAreAllCounted) {
  const std::string id = CreatePending();
  std::latch go(kThreads);
  std::vector<Result<Job>> results(kThreads, Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      results[i] = store().StartAttempt({.id = id, .worker_id = "w" + std::to_string(i),
                                         .now = T(i)});
    });
  }
  for (auto& t : threads) t.join();
  std::set<int> attempts;
  for (const auto& r : results) {
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    attempts.insert(r->attempts);
  }
  EXPECT_EQ(attempts.size(), static_cast<size_t>(kThreads));  // each saw its own attempt
  EXPECT_EQ(*attempts.begin(), 1);
  EXPECT_EQ(MustGet(id).attempts, kThreads);
}

// Runs Finish of attempt 1 from kThreads threads at once; thread i uses outcome(i), output
// "out-i" and now T(100 + i). Returns each thread's result.
inline std::vector<Status> RaceFinish(JobStore& store, const std::string& id,
                                      const std::function<JobStatus(int)>& outcome) {
  std::latch go(kThreads);
  std::vector<Status> results(kThreads, Internal("not run"));
  std::vector<std::string> outputs(kThreads);
  for (int i = 0; i < kThreads; ++i) outputs[i] = "out-" + std::to_string(i);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      results[i] = store.Finish({.id = id, .attempt = 1, .outcome = outcome(i),
                                 .output_path = outputs[i], .now = T(100 + i)});
    });
  }
  for (auto& t : threads) t.join();
  return results;
}

TEST_P(JobStoreConformanceTest, ConcurrentFinishOfOneAttemptAppliesOnce) {
  for (int round = 0; round < 5; ++round) {
    const std::string id = CreatePending();
    ASSERT_EQ(MustStart(id), 1);
    auto results = RaceFinish(store(), id, [](int) { return JobStatus::kSuccess; });
    for (const auto& r : results) EXPECT_TRUE(r.has_value()) << r.error().ToString();
    // The row is one thread's write, whole: its output and its time.
    Job job = MustGet(id);
    ASSERT_EQ(job.status, JobStatus::kSuccess);
    ASSERT_TRUE(job.output_path.starts_with("out-"));
    int winner = std::stoi(job.output_path.substr(4));
    EXPECT_EQ(job.finished_at, T(100 + winner));
    EXPECT_EQ(job.updated_at, T(100 + winner));
  }
}

TEST_P(JobStoreConformanceTest, ConcurrentFinishWithDifferentOutcomesHasOneWinner) {
  for (int round = 0; round < 5; ++round) {
    const std::string id = CreatePending();
    ASSERT_EQ(MustStart(id), 1);
    auto outcome = [](int i) { return i % 2 == 0 ? JobStatus::kSuccess : JobStatus::kFailed; };
    auto results = RaceFinish(store(), id, outcome);
    Job job = MustGet(id);
    ASSERT_TRUE(IsTerminal(job.status));
    // Exactly one write applied: every thread of the winning outcome is OK (one applied, the rest
    // idempotent), every thread of the other outcome is refused.
    for (int i = 0; i < kThreads; ++i) {
      if (outcome(i) == job.status) {
        EXPECT_TRUE(results[i].has_value()) << i << ": " << results[i].error().ToString();
      } else {
        EXPECT_EQ(CodeOf(results[i]), "failed_precondition") << i;
      }
    }
    int winner = std::stoi(job.output_path.substr(4));
    EXPECT_EQ(outcome(winner), job.status);
    EXPECT_EQ(job.finished_at, T(100 + winner));
  }
}

TEST_P(JobStoreConformanceTest, ConcurrentCreatesAreAllStored) {
  constexpr int kJobs = 2000;
  std::vector<Job> jobs;
  for (int i = 0; i < kJobs; ++i) jobs.push_back(NewPending("v4", T(i)));
  std::latch go(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      go.arrive_and_wait();
      for (int i = t; i < kJobs; i += kThreads) {
        if (!store().Create(jobs[i]).has_value()) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto counts = store().CountByStatus("v4");
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ((*counts)["PENDING"], kJobs);
  for (const Job& job : jobs) {
    auto got = store().Get(job.id);
    ASSERT_TRUE(got.has_value()) << job.id << ": " << got.error().ToString();
    EXPECT_EQ(got->created_at, job.created_at);
  }
}


TEST_P(JobStoreConformanceTest, IdempotencyKeyFindsTheOneJobPerVersion) {
  Job first = NewPending("v4");
  first.idempotency_key = "client-key-1";
  ASSERT_TRUE(store().Create(first).has_value());
  auto found = store().FindByIdempotencyKey("v4", "client-key-1");
  ASSERT_TRUE(found.has_value()) << found.error().ToString();
  ExpectSameJob(first, *found);
  EXPECT_EQ(CodeOf(store().FindByIdempotencyKey("v4", "client-key-2")), "not_found");
  EXPECT_EQ(CodeOf(store().FindByIdempotencyKey("v5", "client-key-1")), "not_found");

  Job second = NewPending("v4");  // another id, the same key: refused
  second.idempotency_key = "client-key-1";
  auto s = store().Create(second);
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, ErrorCode::kAlreadyExists) << s.error().ToString();
  EXPECT_EQ(CodeOf(store().Get(second.id)), "not_found");

  Job other_version = NewPending("v5");  // keys are scoped to a version
  other_version.idempotency_key = "client-key-1";
  EXPECT_TRUE(store().Create(other_version).has_value());
  Job no_key_a = NewPending("v4"), no_key_b = NewPending("v4");  // no key: never a conflict
  EXPECT_TRUE(store().Create(no_key_a).has_value());
  EXPECT_TRUE(store().Create(no_key_b).has_value());
  EXPECT_EQ(CodeOf(store().FindByIdempotencyKey("v4", "")), "not_found");
}

TEST_P(JobStoreConformanceTest, RejectReleasesTheIdempotencyKey) {
  Job job = NewPending("v4");
  job.idempotency_key = "retry-me";
  ASSERT_TRUE(store().Create(job).has_value());
  ASSERT_TRUE(store().Reject({.id = job.id, .error_message = "queue full", .now = T(5)}));
  EXPECT_EQ(CodeOf(store().FindByIdempotencyKey("v4", "retry-me")), "not_found");
  EXPECT_EQ(MustGet(job.id).idempotency_key, "");
  Job again = NewPending("v4");
  again.idempotency_key = "retry-me";
  ASSERT_TRUE(store().Create(again).has_value());
  auto found = store().FindByIdempotencyKey("v4", "retry-me");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, again.id);

  // A finished job keeps its key: a late retry of the client still finds it.
  ASSERT_EQ(MustStart(again.id), 1);
  ASSERT_TRUE(store().Finish(Success(again.id, 1, "out/x.json")));
  auto finished = store().FindByIdempotencyKey("v4", "retry-me");
  ASSERT_TRUE(finished.has_value());
  EXPECT_EQ(finished->status, JobStatus::kSuccess);
}

TEST_P(JobStoreConformanceTest, ConcurrentCreatesWithOneKeyStoreOneJob) {
  std::vector<Job> jobs;
  for (int i = 0; i < kThreads * 4; ++i) {
    jobs.push_back(NewPending("v6", T(i)));
    jobs.back().idempotency_key = "same-key";
  }
  std::latch go(kThreads);
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      go.arrive_and_wait();
      for (size_t i = t; i < jobs.size(); i += kThreads) {
        auto s = store().Create(jobs[i]);
        if (s.has_value()) {
          created.fetch_add(1);
        } else if (s.error().code == ErrorCode::kAlreadyExists) {
          refused.fetch_add(1);
        } else {
          other.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(refused.load(), static_cast<int>(jobs.size()) - 1);
  EXPECT_EQ(other.load(), 0);
  auto counts = store().CountByStatus("v6");
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ((*counts)["PENDING"], 1);
}

// --- FinishMany ---

// One FinishMany case of every kind, on fresh jobs: the params, and the job each item names (if
// it exists) to compare the rows afterwards. Strings live in `text` (a deque: stable views).
struct FinishBatchCase {
  std::deque<std::string> text;
  std::vector<FinishParams> params;
  std::vector<std::optional<std::string>> job_of;  // per item
  std::vector<std::string> want;                   // per item: the code Finish gives
};

// Odd characters for the array encoding: quotes, backslash, comma, braces, a literal NULL.
inline constexpr std::string_view kOddOutput = "out/\"a\",{b}\\c NULL ''.json";
inline constexpr std::string_view kOddError = "NULL";

TEST_P(JobStoreConformanceTest, FinishManyAnswersEachItemAsFinishWould) {
  auto make_case = [&]() {
    FinishBatchCase c;
    auto keep = [&c](std::string v) -> std::string_view { return c.text.emplace_back(std::move(v)); };
    auto add = [&c](FinishParams p, std::optional<std::string> job, std::string want) {
      c.params.push_back(p);
      c.job_of.push_back(std::move(job));
      c.want.push_back(std::move(want));
    };
    const std::string running = CreatePending();
    EXPECT_EQ(MustStart(running), 1);
    add(Success(keep(running), 1, kOddOutput, T(20)), running, "ok");
    const std::string failing = CreatePending();
    EXPECT_EQ(MustStart(failing), 1);
    add({.id = keep(failing), .attempt = 1, .outcome = JobStatus::kFailed,
         .error_message = kOddError, .now = T(21)},
        failing, "ok");
    const std::string stale = CreatePending();
    EXPECT_EQ(MustStart(stale), 1);
    EXPECT_EQ(MustStart(stale, "w2", T(11)), 2);
    add(Success(keep(stale), 1, "o", T(22)), stale, "aborted");
    add(Success(keep(NewJobId()), 1, "o"), std::nullopt, "not_found");
    add(Success("not-a-uuid", 1, "o"), std::nullopt, "not_found");
    const std::string done_same = CreatePending();
    EXPECT_EQ(MustStart(done_same), 1);
    EXPECT_TRUE(store().Finish(Success(done_same, 1, "first", T(15))).has_value());
    add(Success(keep(done_same), 1, "second", T(23)), done_same, "ok");
    const std::string done_other = CreatePending();
    EXPECT_EQ(MustStart(done_other), 1);
    EXPECT_TRUE(store().Finish(Success(done_other, 1, "first", T(15))).has_value());
    add({.id = keep(done_other), .attempt = 1, .outcome = JobStatus::kFailed,
         .error_message = "late", .now = T(24)},
        done_other, "failed_precondition");
    const std::string invalid = CreatePending();
    EXPECT_EQ(MustStart(invalid), 1);
    add({.id = keep(invalid), .attempt = 1, .outcome = JobStatus::kRunning, .now = T(25)},
        invalid, "invalid_argument");
    const std::string pending = CreatePending();
    add(Success(keep(pending), 1, "o", T(26)), pending, "failed_precondition");
    const std::string upper_job = CreatePending();
    EXPECT_EQ(MustStart(upper_job), 1);
    std::string upper = upper_job;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    add(Success(keep(upper), 1, "upper", T(27)), upper_job, "ok");
    // Two more items for `running` (item 0): each sees what the earlier one did.
    add({.id = keep(running), .attempt = 1, .outcome = JobStatus::kFailed, .now = T(28)}, running,
        "failed_precondition");
    add(Success(keep(running), 1, "again", T(29)), running, "ok");
    return c;
  };
  // The same case twice: one item by item with Finish, one with FinishMany.
  FinishBatchCase one_by_one = make_case();
  FinishBatchCase batch = make_case();
  std::vector<std::string> finish_codes, many_codes;
  for (const FinishParams& p : one_by_one.params) finish_codes.push_back(CodeOf(store().Finish(p)));
  std::vector<Status> many = store().FinishMany(batch.params);
  ASSERT_EQ(many.size(), batch.params.size());
  for (const Status& r : many) many_codes.push_back(CodeOf(r));
  EXPECT_EQ(finish_codes, one_by_one.want);
  EXPECT_EQ(many_codes, batch.want);
  for (size_t i = 0; i < batch.params.size(); ++i) {
    if (!batch.job_of[i]) continue;
    Job want = MustGet(*one_by_one.job_of[i]);
    want.id = *batch.job_of[i];
    ExpectSameJob(want, MustGet(*batch.job_of[i]));
  }
  // The rows hold what was sent, odd characters and all.
  Job ok = MustGet(*batch.job_of[0]);
  EXPECT_EQ(ok.status, JobStatus::kSuccess);
  EXPECT_EQ(ok.output_path, kOddOutput);
  EXPECT_EQ(ok.finished_at, T(20));
  EXPECT_EQ(ok.updated_at, T(20));
  Job failed = MustGet(*batch.job_of[1]);
  EXPECT_EQ(failed.status, JobStatus::kFailed);
  EXPECT_EQ(failed.error_message, kOddError);
  EXPECT_EQ(failed.finished_at, T(21));
  EXPECT_EQ(MustGet(*batch.job_of[5]).output_path, "first");
  EXPECT_EQ(MustGet(*batch.job_of[9]).output_path, "upper");
}

TEST_P(JobStoreConformanceTest, FinishManyOfNothingIsNothing) {
  EXPECT_TRUE(store().FinishMany({}).empty());
}

TEST_P(JobStoreConformanceTest, FinishManyAppliesALargeBatch) {
  constexpr int kJobs = 500;
  std::vector<std::string> ids, outputs;
  for (int i = 0; i < kJobs; ++i) {
    ids.push_back(CreatePending("v3", T(i)));
    ASSERT_EQ(MustStart(ids.back()), 1);
    outputs.push_back("out/" + std::to_string(i) + ".json");
  }
  std::vector<FinishParams> params;
  for (int i = 0; i < kJobs; ++i) {
    if (i % 5 == 4) {
      params.push_back({.id = ids[i], .attempt = 1, .outcome = JobStatus::kFailed,
                        .error_message = outputs[i], .now = T(1000 + i)});
    } else {
      params.push_back(Success(ids[i], 1, outputs[i], T(1000 + i)));
    }
  }
  std::vector<Status> results = store().FinishMany(params);
  ASSERT_EQ(results.size(), static_cast<size_t>(kJobs));
  for (int i = 0; i < kJobs; ++i) EXPECT_TRUE(results[i].has_value()) << i << ": " << CodeOf(results[i]);
  auto counts = store().CountByStatus("v3");
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"FAILED", kJobs / 5},
                                                     {"SUCCESS", kJobs - kJobs / 5}}));
  for (int i = 0; i < kJobs; ++i) {
    Job job = MustGet(ids[i]);
    EXPECT_EQ(job.status, i % 5 == 4 ? JobStatus::kFailed : JobStatus::kSuccess) << i;
    EXPECT_EQ(i % 5 == 4 ? job.error_message : job.output_path, outputs[i]) << i;
    EXPECT_EQ(job.finished_at, T(1000 + i)) << i;
  }
  // The whole batch again (a redelivery): every item OK, nothing changes.
  Job before = MustGet(ids[7]);
  for (auto& p : params) p.now = T(5000);
  for (const Status& r : store().FinishMany(params)) EXPECT_TRUE(r.has_value()) << CodeOf(r);
  ExpectSameJob(before, MustGet(ids[7]));
}

TEST_P(JobStoreConformanceTest, ConcurrentFinishManyOverDisjointJobs) {
  constexpr int kPerThread = 40;
  std::vector<std::vector<std::string>> ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      ids[t].push_back(CreatePending("v5"));
      ASSERT_EQ(MustStart(ids[t].back()), 1);
    }
  }
  std::latch go(kThreads);
  std::vector<std::vector<Status>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<FinishParams> params;
      // Batches of 10, the thread's index in the output path.
      go.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        params.push_back(Success(ids[t][i], 1, t % 2 == 0 ? "even" : "odd", T(200 + t)));
        if (params.size() == 10) {
          for (Status& r : store().FinishMany(params)) results[t].push_back(std::move(r));
          params.clear();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(results[t].size(), static_cast<size_t>(kPerThread));
    for (const Status& r : results[t]) EXPECT_TRUE(r.has_value()) << t << ": " << CodeOf(r);
    for (const std::string& id : ids[t]) {
      Job job = MustGet(id);
      EXPECT_EQ(job.status, JobStatus::kSuccess);
      EXPECT_EQ(job.output_path, t % 2 == 0 ? "even" : "odd");
      EXPECT_EQ(job.finished_at, T(200 + t));
    }
  }
  auto counts = store().CountByStatus("v5");
  ASSERT_TRUE(counts.has_value());
  EXPECT_EQ(*counts, (std::map<std::string, int64_t>{{"SUCCESS", kThreads * kPerThread}}));
}

}  // namespace mqlab::store::testing

#endif  // MQLAB_STORE_STORE_CONFORMANCE_TEST_H_
