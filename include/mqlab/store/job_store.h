// JobStore: where jobs live and where their transitions are guarded.
//
// The store is the source of truth for a job's status; queues only carry job ids. Every transition
// is a conditional update checked in the store (CanTransition in job.h), so that at-least-once
// delivery can never run a finished job again or let a late worker overwrite a newer attempt:
//   StartAttempt  PENDING|RUNNING -> RUNNING, attempts += 1; fails with kFailedPrecondition on a
//                 finished job (the caller acknowledges the delivery and counts a duplicate).
//   Finish        RUNNING(attempt) -> SUCCESS|FAILED. Idempotent: finishing a job that already
//                 finished with the same outcome and attempt is OK and changes nothing. A stale
//                 attempt (another attempt started since) gets kAborted.
//   FinishMany    Finish for a batch, with one durable commit for the whole batch where the store
//                 can do so (see FinishMany below).
//   Requeue       RUNNING(attempt) -> PENDING, for a retry with backoff.
//   Reject        PENDING with no attempt yet -> FAILED, for a job stored whose enqueue then
//                 failed (the API tells the client, and GET shows the reason).
//
// Implementations: SQLite (the embedded default) and PostgreSQL. Both pass the same conformance
// suite (src/store/store_conformance_test.h).
// Thread-safety: every method may be called from any thread concurrently.
#ifndef MQLAB_STORE_JOB_STORE_H_
#define MQLAB_STORE_JOB_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/common/clock.h"
#include "mqlab/common/status.h"
#include "mqlab/domain/job.h"

namespace mqlab::store {

struct FinishParams {
  std::string_view id;
  int attempt = 0;  // the attempt being finished, as returned by StartAttempt
  JobStatus outcome = JobStatus::kSuccess;  // kSuccess or kFailed
  std::string_view output_path;    // for kSuccess
  std::string_view error_message;  // for kFailed
  WallTime now{};
};

struct RequeueParams {
  std::string_view id;
  int attempt = 0;
  std::string_view error_message;  // why the attempt failed; kept while PENDING
  WallTime now{};
};

struct RejectParams {
  std::string_view id;
  std::string_view error_message;
  WallTime now{};
};

struct StartParams {
  std::string_view id;
  std::string_view worker_id;
  WallTime now{};
};

// Options of Recover (start-up of an embedded process).
struct RecoverParams {
  std::string_view version;  // only jobs of this version
  WallTime now{};
  size_t limit = 100000;
};

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Stores a new PENDING job. kAlreadyExists if the id is taken.
  virtual Status Create(const Job& job) = 0;
  // kNotFound for an unknown id.
  virtual Result<Job> Get(std::string_view id) = 0;
  // The job of `version` created with this Idempotency-Key (Job::idempotency_key); kNotFound if
  // none holds it. Create with a key already held fails with kAlreadyExists, so two concurrent
  // submissions with one key store one job; a rejected job releases its key (see Reject).
  virtual Result<Job> FindByIdempotencyKey(std::string_view version, std::string_view key) = 0;
  // Starts a new attempt; returns the job as it is now (RUNNING, attempts incremented).
  virtual Result<Job> StartAttempt(const StartParams& params) = 0;
  virtual Status Finish(const FinishParams& params) = 0;
  // Finishes a batch of jobs: the result i is exactly what Finish(params[i]) would have returned
  // (OK, also for an idempotent repeat; kAborted for a stale attempt; kFailedPrecondition for a job
  // finished with another outcome; kNotFound; kInvalidArgument; a transient error), in order.
  // Where the store can, the batch is one durable commit (PostgreSQL: one statement and one
  // synchronous commit; SQLite: one transaction), so a completer can acknowledge many deliveries
  // for the price of one fsync. A crash before that commit loses none of them: their deliveries
  // are not acknowledged yet, so they are delivered again, and Finish is idempotent. A transient
  // error of the batch's commit is returned for every item it covered. The items should name
  // distinct jobs (two items for one job are each answered as a separate Finish would be, in
  // order, but may cost the batch its single commit). The default implementation calls Finish
  // for each item.
  virtual std::vector<Status> FinishMany(std::span<const FinishParams> params);
  virtual Status Requeue(const RequeueParams& params) = 0;
  // PENDING with attempts == 0 -> FAILED (finished_at set), releasing its idempotency key (the
  // client was told the job was not accepted). kFailedPrecondition otherwise.
  virtual Status Reject(const RejectParams& params) = 0;
  // Jobs of a version that are not finished (PENDING or RUNNING), oldest first. RUNNING ones are
  // returned to PENDING: the caller guarantees no worker of this version is alive (an embedded
  // process at start-up), so they are orphans of a previous run.
  virtual Result<std::vector<std::string>> Recover(const RecoverParams& params) = 0;
  // Number of jobs by status, e.g. {"PENDING": 3, "SUCCESS": 10}; statuses with no jobs omitted.
  virtual Result<std::map<std::string, int64_t>> CountByStatus(std::string_view version) = 0;
  // Cheap liveness probe for /readyz.
  virtual Status Ping() = 0;
};

}  // namespace mqlab::store

#endif  // MQLAB_STORE_JOB_STORE_H_
