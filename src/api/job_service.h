// JobService: accepting and looking up the jobs of one async version (mem, v3 … v6).
//
// Submit validates the input path, applies admission control (backpressure), stores the job
// PENDING, then enqueues its id. The order matters: a worker can only receive ids whose row
// exists. If the enqueue fails after the row was stored, the job is marked FAILED with the reason
// before the client hears of it, so nothing stays PENDING unseen: the client got an error, and
// GET shows why (DESIGN.md § Errors: "a job is either stored and will finish, or the client got an
// error saying it was not accepted").
//
// Admission (backpressure on): reject with kResourceExhausted when the queue's depth is at or over
// max_queue_depth, or when max_inflight submissions are already being stored/enqueued. The depth
// is sampled at most every depth_sample_interval, since for a remote backend it is a round trip;
// between samples the jobs this process admitted are added to the last sample.
// Backpressure off: everything is admitted up to the backend's own hard cap.
//
// Threading: Submit and Get block on the store and queue clients; call them from a blocking pool,
// never from an HTTP coroutine. All methods are thread-safe.
#ifndef MQLAB_API_JOB_SERVICE_H_
#define MQLAB_API_JOB_SERVICE_H_

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>

#include "metrics/mqlab_metrics.h"
#include "mqlab/common/clock.h"
#include "mqlab/domain/job.h"
#include "mqlab/queue/job_queue.h"
#include "mqlab/store/job_store.h"

namespace mqlab::api {

struct AdmissionOptions {
  bool backpressure = true;  // Default: on
  // Reject (429) while the backlog is at or above this. Default: 1000 jobs.
  int64_t max_queue_depth = 1000;
  // Reject (429) while this many submissions are in progress. Default: 256.
  int64_t max_inflight = 256;
  // Retry-After of a rejection. Default: 1 s.
  std::chrono::seconds retry_after{1};
  // How stale the sampled depth may be. Default: 50 ms.
  std::chrono::milliseconds depth_sample_interval{50};

  Status Validate() const;
};

struct JobServiceOptions {
  std::string version;  // "mem", "v3", … (the URL prefix and the job's version column)
  std::string backend;  // metrics label: "memory", "postgres", …
  std::filesystem::path data_dir;
  int max_attempts = 3;  // Default: 3
  AdmissionOptions admission;
};

// An Idempotency-Key header value: 1 to 255 visible ASCII characters (0x21–0x7e), as an opaque
// token (the IETF draft suggests a UUID; anything printable is accepted).
bool ValidIdempotencyKey(std::string_view key);

class JobService {
 public:
  // `store`, `queue`, `clock` and `metrics` must outlive the service.
  JobService(JobServiceOptions options, store::JobStore& store, queue::JobQueue& queue,
             const Clock& clock, metrics::MqlabMetrics& metrics);

  struct Submitted {
    Job job;
    bool replayed = false;  // an earlier submission with the same Idempotency-Key made this job
  };
  // Accepts a job. With an idempotency key (see ValidIdempotencyKey), the job of this version
  // created with the same key is returned as it is now (replayed) instead of a second one, before
  // any admission check; two concurrent submissions with one key store one job (the store's
  // unique key decides). A key whose job was rejected (not accepted) is free again.
  // Errors: kInvalidArgument (bad path), kAlreadyExists (the key was used with another
  // inputPath), kResourceExhausted (backpressure or the queue's hard cap), kUnavailable (store or
  // queue unreachable), kInternal.
  Result<Submitted> Submit(std::string_view input_path, std::string_view request_id,
                           std::string_view idempotency_key = {});
  // The job with this id, if it belongs to this version. kInvalidArgument for a malformed id,
  // kNotFound for an unknown one.
  Result<Job> Get(std::string_view id);

  const JobServiceOptions& options() const { return options_; }
  // Sampled backlog (for /metrics and admission); -1 if the queue cannot be asked.
  int64_t SampledDepth();

 private:
  Status Admit();
  // The job stored under `key`, as a replay; kNotFound if none; kAlreadyExists if it was created
  // for another input path.
  Result<Submitted> Replay(std::string_view key, std::string_view input_path);

  const JobServiceOptions options_;
  store::JobStore& store_;
  queue::JobQueue& queue_;
  const Clock& clock_;
  metrics::Counter& enqueued_;
  metrics::Counter& rejections_;
  metrics::Gauge& depth_gauge_;
  std::atomic<int64_t> inflight_{0};
  std::mutex depth_mu_;  // one refresher at a time
  std::atomic<int64_t> depth_{0};
  std::atomic<int64_t> depth_sampled_at_ns_{0};
  std::atomic<int64_t> admitted_since_sample_{0};
};

}  // namespace mqlab::api

#endif  // MQLAB_API_JOB_SERVICE_H_
