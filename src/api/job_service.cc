#include "api/job_service.h"

#include <fmt/format.h>

#include "mqlab/domain/input_path.h"

namespace mqlab::api {

Status AdmissionOptions::Validate() const {
  if (max_queue_depth < 1) return InvalidArgument("max queue depth must be >= 1");
  if (max_inflight < 1) return InvalidArgument("max in-flight must be >= 1");
  if (retry_after.count() < 0) return InvalidArgument("retry-after must be >= 0");
  return Ok();
}

JobService::JobService(JobServiceOptions options, store::JobStore& store, queue::JobQueue& queue,
                       const Clock& clock, metrics::MqlabMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      queue_(queue),
      clock_(clock),
      enqueued_(metrics.jobs_enqueued_total.With({options_.backend})),
      rejections_(metrics.backpressure_rejections_total.With({options_.version})),
      depth_gauge_(metrics.queue_depth.With({options_.backend})) {}

int64_t JobService::SampledDepth() {
  const int64_t now = clock_.Steady().time_since_epoch().count();
  const int64_t interval =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.admission.depth_sample_interval)
          .count();
  if (now - depth_sampled_at_ns_.load() >= interval) {
    std::unique_lock lock(depth_mu_, std::try_to_lock);
    if (lock.owns_lock()) {  // others use the previous sample meanwhile
      auto d = queue_.Depth();
      admitted_since_sample_.store(0);
      depth_.store(d ? *d : -1);
      depth_sampled_at_ns_.store(now);
      depth_gauge_.Set(static_cast<double>(depth_.load()));
    }
  }
  // Between samples, count what this process admitted: the backlog can only have grown by that
  // much from here (workers may have drained some, which the next sample sees).
  return depth_.load() + admitted_since_sample_.load();
}

Status JobService::Admit() {
  const AdmissionOptions& a = options_.admission;
  if (!a.backpressure) return Ok();
  if (inflight_.load() > a.max_inflight) {
    rejections_.Inc();
    return ResourceExhausted(fmt::format("backpressure: {} submissions in flight (limit {})",
                                         inflight_.load(), a.max_inflight));
  }
  const int64_t depth = SampledDepth();
  if (depth >= a.max_queue_depth) {
    rejections_.Inc();
    return ResourceExhausted(
        fmt::format("backpressure: queue depth {} at or over {}", depth, a.max_queue_depth));
  }
  return Ok();
}

bool ValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 255) return false;
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

Result<JobService::Submitted> JobService::Replay(std::string_view key,
                                                 std::string_view input_path) {
  auto found = store_.FindByIdempotencyKey(options_.version, key);
  if (!found) return std::unexpected(found.error());
  if (found->input_path != input_path) {
    return AlreadyExists(fmt::format(
        "Idempotency-Key already used for job {} with another inputPath ('{}')", found->id,
        found->input_path));
  }
  return Submitted{.job = std::move(*found), .replayed = true};
}

Result<JobService::Submitted> JobService::Submit(std::string_view input_path,
                                                 std::string_view request_id,
                                                 std::string_view idempotency_key) {
  auto path = ConfineToDataDir(options_.data_dir, input_path);
  if (!path) return std::unexpected(path.error());
  if (!idempotency_key.empty()) {
    if (!ValidIdempotencyKey(idempotency_key)) {
      return InvalidArgument("Idempotency-Key must be 1 to 255 visible ASCII characters");
    }
    // A replay creates nothing, so it is answered even under backpressure.
    auto replay = Replay(idempotency_key, *path);
    if (replay || replay.error().code != ErrorCode::kNotFound) return replay;
  }
  inflight_++;
  struct Leave {
    std::atomic<int64_t>& n;
    ~Leave() { n--; }
  } leave{inflight_};
  if (auto s = Admit(); !s) return std::unexpected(s.error());

  Job job;
  job.id = NewJobId();
  job.version = options_.version;
  job.status = JobStatus::kPending;
  job.input_path = std::move(*path);
  job.max_attempts = options_.max_attempts;
  job.request_id = std::string(request_id);
  job.idempotency_key = std::string(idempotency_key);
  job.created_at = job.updated_at = clock_.Now();
  admitted_since_sample_++;
  if (auto s = store_.Create(job); !s) {
    // Lost a race with a concurrent submission of the same key: answer with its job. (If that
    // one was rejected in the meantime, its key is free again and the client may retry.)
    if (s.error().code == ErrorCode::kAlreadyExists && !idempotency_key.empty()) {
      auto replay = Replay(idempotency_key, job.input_path);
      if (replay || replay.error().code != ErrorCode::kNotFound) return replay;
      return Unavailable("a concurrent submission with this Idempotency-Key was just rejected");
    }
    return std::unexpected(s.error());
  }

  queue::Message m{.job_id = job.id, .attempt = 1, .enqueued_at = clock_.Now(),
                   .request_id = job.request_id};
  if (auto s = queue_.Enqueue(m); !s) {
    // V3: the stored row is the message; workers poll for it even without the wake-up.
    if (queue_.capabilities().store_is_queue) {
      enqueued_.Inc();
      return Submitted{.job = std::move(job)};
    }
    // Stored but not queued: fail it visibly rather than leave it PENDING forever.
    const std::string reason = fmt::format("not enqueued: {}", s.error().message);
    auto marked = store_.Reject({.id = job.id, .error_message = reason, .now = clock_.Now()});
    if (!marked) {
      return Internal(fmt::format("{}; and marking the job FAILED failed too: {}", reason,
                                  marked.error().ToString()));
    }
    if (s.error().code == ErrorCode::kResourceExhausted) rejections_.Inc();
    return std::unexpected(s.error());
  }
  enqueued_.Inc();
  return Submitted{.job = std::move(job)};
}

Result<Job> JobService::Get(std::string_view id) {
  if (!IsValidJobId(id)) return InvalidArgument("job id must be a UUID");
  std::string lower(id);
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto job = store_.Get(lower);
  if (!job) return job;
  if (job->version != options_.version) {
    return NotFound(fmt::format("no {} job with id {}", options_.version, lower));
  }
  return job;
}

}  // namespace mqlab::api
