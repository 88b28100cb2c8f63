#include "worker/worker.h"

#include <unistd.h>

#include <deque>
#include <functional>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace mqlab::worker {

namespace {

double Seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string DefaultWorkerId() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}-{}", host[0] ? host : "worker", getpid());
}

Status WorkerOptions::Validate() const {
  if (concurrency < 1 || concurrency > 1024) return InvalidArgument("concurrency must be in [1, 1024]");
  if (backoff_base.count() < 0 || backoff_max < backoff_base) {
    return InvalidArgument("backoff must satisfy 0 <= base <= max");
  }
  if (poll_timeout.count() <= 0) return InvalidArgument("poll timeout must be > 0");
  return Ok();
}

// The metric children this worker updates, looked up once.
struct Worker::Counters {
  Counters(metrics::MqlabMetrics& m, const std::string& b)
      : success(m.jobs_completed_total.With({b, "SUCCESS"})),
        failed(m.jobs_completed_total.With({b, "FAILED"})),
        queue_wait(m.job_queue_wait_seconds.With({b})),
        processing(m.job_processing_seconds.With({b})),
        end_to_end(m.job_end_to_end_seconds.With({b})),
        redeliveries(m.job_redeliveries_total.With({b})),
        duplicates(m.job_duplicates_total.With({b})),
        dead_letters(m.job_dead_letters_total.With({b})),
        inflight(m.inflight.With({"worker"})) {}

  metrics::Counter& success;
  metrics::Counter& failed;
  metrics::Histogram& queue_wait;
  metrics::Histogram& processing;
  metrics::Histogram& end_to_end;
  metrics::Counter& redeliveries;
  metrics::Counter& duplicates;
  metrics::Counter& dead_letters;
  metrics::Gauge& inflight;

  std::atomic<int64_t> received{0}, succeeded{0}, failed_jobs{0}, retried{0}, duplicate{0},
      dead{0}, abandoned{0};
};

// Completer threads: a bounded queue of completion tasks. Submit blocks while `capacity` tasks
// wait; Drain returns once every submitted task ran (then the threads are joined).
class Worker::Completer {
 public:
  using Task = std::move_only_function<void()>;
  Completer(int threads, size_t capacity) : capacity_(capacity) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Completer() { Drain(); }

  void Submit(Task task) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return tasks_.size() < capacity_; });
    tasks_.push_back(std::move(task));
    ready_.notify_one();
  }

  void Drain() {
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();  // each runs what is left before it exits
    threads_.clear();
  }

 private:
  void Run() {
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return closing_ || !tasks_.empty(); });
        if (tasks_.empty()) return;  // closing, and nothing left
        task = std::move(tasks_.front());
        tasks_.pop_front();
        space_.notify_one();
      }
      task();
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Task> tasks_;  // guarded by mu_
  bool closing_ = false;    // guarded by mu_
  std::vector<std::thread> threads_;
};

Worker::Worker(WorkerOptions options, std::string backend, queue::JobQueue& queue,
               store::JobStore& store, model::Predictor& predictor, const Clock& clock,
               metrics::MqlabMetrics& metrics, std::shared_ptr<spdlog::logger> log)
    : options_(std::move(options)),
      backend_(std::move(backend)),
      queue_(queue),
      store_(store),
      predictor_(predictor),
      clock_(clock),
      metrics_(metrics),
      log_(std::move(log)),
      counters_(std::make_unique<Counters>(metrics_, backend_)) {}

Worker::~Worker() { Stop(std::chrono::milliseconds(0)); }

void Worker::Start() {
  if (options_.async_completion) {
    completer_ = std::make_unique<Completer>(options_.concurrency,
                                             static_cast<size_t>(options_.concurrency));
  }
  std::lock_guard lock(mu_);
  running_threads_ = options_.concurrency;
  for (int i = 0; i < options_.concurrency; ++i) threads_.emplace_back([this] { Loop(); });
}

bool Worker::Stop(std::chrono::milliseconds grace) {
  if (threads_.empty()) return true;
  stopping_ = true;
  bool drained;
  {
    std::unique_lock lock(mu_);
    drained = all_exited_.wait_for(lock, grace, [&] { return running_threads_ == 0; });
  }
  if (!drained) {
    log_->warn("worker: grace period of {} ms over with {} jobs in flight; cancelling them "
               "(they will be delivered again)", grace.count(), in_flight_.load());
    cancel_.request_stop();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
  // Completions are store and queue calls (bounded by their timeouts), never a prediction: they
  // all run, so every job that finished predicting is recorded before Stop returns.
  if (completer_) completer_->Drain();
  completer_.reset();
  return drained;
}

WorkerStats Worker::stats() const {
  const Counters& c = *counters_;
  return WorkerStats{c.received.load(), c.succeeded.load(), c.failed_jobs.load(),
                     c.retried.load(),  c.duplicate.load(), c.dead.load(), c.abandoned.load()};
}

void Worker::Loop() {
  while (!stopping_.load()) {
    auto d = queue_.Receive({.timeout = options_.poll_timeout});
    if (!d) {
      if (stopping_.load()) break;
      log_->error("worker: receive from {} failed: {}", backend_, d.error().ToString());
      std::unique_lock lock(mu_);
      all_exited_.wait_for(lock, options_.error_pause, [&] { return stopping_.load(); });
      continue;
    }
    if (*d) Process(std::move(*d), completer_ != nullptr);
  }
  std::lock_guard lock(mu_);
  if (--running_threads_ == 0) all_exited_.notify_all();
}

std::chrono::milliseconds Worker::Backoff(int attempt) {
  using std::chrono::milliseconds;
  const int shift = std::clamp(attempt - 1, 0, 30);
  const double cap = static_cast<double>(options_.backoff_max.count());
  const double base = std::min(cap, static_cast<double>(options_.backoff_base.count()) *
                                        static_cast<double>(1ull << shift));
  std::lock_guard lock(mu_);
  double factor = std::uniform_real_distribution<double>(0.5, 1.0)(rng_);
  return milliseconds(static_cast<int64_t>(base * factor));
}

void Worker::Process(std::unique_ptr<queue::Delivery> delivery, bool async_completion) {
  Counters& c = *counters_;
  c.received++;
  in_flight_++;
  c.inflight.Inc();
  // Leaves the in-flight count when destroyed: at the end of this call, or at the end of the
  // completion task when the success is recorded on a completer.
  struct Exit {
    Worker* w;
    explicit Exit(Worker* worker) : w(worker) {}
    Exit(Exit&& o) noexcept : w(std::exchange(o.w, nullptr)) {}
    Exit(const Exit&) = delete;
    ~Exit() {
      if (!w) return;
      w->in_flight_--;
      w->counters_->inflight.Dec();
    }
  } exit{this};

  queue::Delivery& d = *delivery;
  if (!d.decode_error().empty()) {
    log_->warn("worker: malformed message dead-lettered: {}", d.decode_error());
    c.dead_letters.Inc();
    c.dead++;
    (void)d.DeadLetter(fmt::format("malformed message: {}", d.decode_error()));
    return;
  }
  const queue::Message& msg = d.message();
  const WallTime received_at = clock_.Now();
  auto job = store_.StartAttempt({.id = msg.job_id, .worker_id = options_.worker_id,
                                  .now = received_at});
  if (!job) {
    const Error& e = job.error();
    if (e.code == ErrorCode::kFailedPrecondition) {
      // Finished already: a duplicate delivery. Acknowledge it and move on.
      c.duplicates.Inc();
      c.duplicate++;
      (void)d.Ack();
    } else if (e.code == ErrorCode::kNotFound) {
      log_->warn("worker: job {} is not in the store; dead-lettering", msg.job_id);
      c.dead_letters.Inc();
      c.dead++;
      (void)d.DeadLetter("unknown job: not in the store");
    } else {
      // The store is unreachable: leave the message for later; nothing was recorded.
      log_->error("worker: cannot start job {}: {}", msg.job_id, e.ToString());
      c.abandoned++;
      (void)d.Retry(Backoff(1));
    }
    return;
  }
  const int attempt = job->attempts;
  if (attempt > msg.attempt) c.redeliveries.Inc();  // an attempt was abandoned or ran twice
  c.queue_wait.Observe(std::max(0.0, Seconds(received_at - msg.enqueued_at)));
  log_->debug("worker: job {} attempt {} started (request {})", job->id, attempt, msg.request_id);

  const auto started = clock_.Steady();
  auto result = predictor_.Predict(
      {.job_id = job->id, .input_path = job->input_path, .attempt = attempt}, cancel_.get_token());
  c.processing.Observe(Seconds(clock_.Steady() - started));
  if (!result) {
    if (result.error().code == ErrorCode::kAborted) {  // cancelled at shutdown
      c.abandoned++;
      return;  // `delivery` is released unsettled on return
    }
    OnPredictFailed(d, *job, result.error());
    return;
  }
  const WallTime now = clock_.Now();
  if (async_completion) {
    completer_->Submit([this, d = std::move(delivery), job = std::move(*job), attempt,
                        output = std::move(result->output_path), now,
                        leave = std::move(exit)]() mutable {
      CompleteSuccess(*d, job, attempt, output, now);
    });
    return;
  }
  CompleteSuccess(d, *job, attempt, result->output_path, now);
}

void Worker::CompleteSuccess(queue::Delivery& d, const Job& job, int attempt,
                             const std::string& output, WallTime now) {
  Counters& c = *counters_;
  auto done = store_.Finish({.id = job.id, .attempt = attempt, .outcome = JobStatus::kSuccess,
                             .output_path = output, .now = now});
  if (!done) {
    if (done.error().transient()) {
      log_->error("worker: cannot record job {}: {}", job.id, done.error().ToString());
      c.abandoned++;
      (void)d.Retry(Backoff(1));  // it will run again: at least once
      return;
    }
    if (StartWasLost(job.id, attempt)) {
      log_->warn("worker: job {}: the store lost attempt {}'s start (a restart?); running it again",
                 job.id, attempt);
      c.abandoned++;
      (void)d.Retry(Backoff(1));
      return;
    }
    // Another attempt took over (kAborted) or finished it (kFailedPrecondition).
    c.duplicates.Inc();
    c.duplicate++;
    (void)d.Ack();
    return;
  }
  if (auto s = d.Ack(); !s) {
    log_->warn("worker: ack of job {} failed ({}); a duplicate delivery will be skipped",
               job.id, s.error().ToString());
  }
  c.success.Inc();
  c.succeeded++;
  c.end_to_end.Observe(std::max(0.0, Seconds(now - job.created_at)));
}

bool Worker::StartWasLost(const std::string& id, int attempt) {
  auto now = store_.Get(id);
  return now && !IsTerminal(now->status) && now->attempts < attempt;
}

void Worker::OnPredictFailed(queue::Delivery& d, const Job& job, const Error& error) {
  Counters& c = *counters_;
  const int attempt = job.attempts;
  const WallTime now = clock_.Now();
  if (attempt < job.max_attempts) {
    auto s = store_.Requeue({.id = job.id, .attempt = attempt, .error_message = error.message,
                             .now = now});
    if (!s && !s.error().transient() && !StartWasLost(job.id, attempt)) {
      // stale attempt or finished elsewhere
      c.duplicates.Inc();
      c.duplicate++;
      (void)d.Ack();
      return;
    }
    c.retried++;
    (void)d.Retry(Backoff(attempt));
    return;
  }
  auto s = store_.Finish({.id = job.id, .attempt = attempt, .outcome = JobStatus::kFailed,
                          .error_message = error.message, .now = now});
  if (!s && (s.error().transient() || StartWasLost(job.id, attempt))) {
    c.abandoned++;
    (void)d.Retry(Backoff(1));
    return;
  }
  log_->info("worker: job {} failed after {} attempts: {}", job.id, attempt, error.message);
  c.failed.Inc();
  c.failed_jobs++;
  c.dead++;
  c.dead_letters.Inc();
  c.end_to_end.Observe(std::max(0.0, Seconds(now - job.created_at)));
  (void)d.DeadLetter(fmt::format("failed after {} attempts: {}", attempt, error.message));
}

}  // namespace mqlab::worker
