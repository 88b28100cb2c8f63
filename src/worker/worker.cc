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
  if (completion_batch < 1 || completion_batch > 10000) {
    return InvalidArgument("completion batch must be in [1, 10000]");
  }
  return Ok();
}

namespace {

// Completer threads and the successes they may hold (waiting or being recorded).
int CompleterThreads(const WorkerOptions& o) { return std::clamp(o.concurrency, 1, 4); }
int CompleterCapacity(const WorkerOptions& o) { return std::max(o.completion_batch, o.concurrency); }

}  // namespace

int WorkerOptions::Prefetch() const {
  return concurrency * ((receive_ahead ? 2 : 1) + (async_completion ? 2 : 0));
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

// Counts a delivery in flight from its receipt to its settlement (moved along with it).
struct Worker::InFlight {
  explicit InFlight(Worker* worker) : w(worker) {
    w->in_flight_++;
    w->counters_->inflight.Inc();
  }
  InFlight(InFlight&& o) noexcept : w(std::exchange(o.w, nullptr)) {}
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
  ~InFlight() {
    if (!w) return;
    w->in_flight_--;
    w->counters_->inflight.Dec();
  }
  Worker* w;
};

// A delivery whose attempt started in the store, waiting for (or in) its prediction. The
// in-flight count is declared first so that it is left last, after the delivery is released.
struct Worker::Started {
  InFlight in_flight;
  std::unique_ptr<queue::Delivery> delivery;
  Job job;  // as StartAttempt returned it: RUNNING, attempts = this attempt
};

// A successful prediction waiting for its Finish and Ack.
struct Worker::Completion {
  InFlight in_flight;
  std::unique_ptr<queue::Delivery> delivery;
  Job job;
  std::string output;
  WallTime now;
};

// One slot with receive-ahead: the job its fetcher started for the model thread.
struct Worker::Slot {
  using Steady = std::chrono::steady_clock;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Started> ready;  // guarded by mu
  bool fetcher_done = false;     // guarded by mu
  bool busy = false;             // the model runs a job; guarded by mu
  Steady::time_point busy_since; // guarded by mu
};

// Running means of the time a prediction takes and of the time a fetch (Receive + start) takes
// when a job was waiting; they place a slot's receive-ahead just before its model frees up.
class Worker::Timing {
 public:
  void Predicted(std::chrono::nanoseconds d) { Update(predict_ns_, d); }
  void Fetched(std::chrono::nanoseconds d) {
    // A fetch that waited for a job to arrive says nothing about the round trips.
    if (d < Expected() || Expected().count() == 0) Update(fetch_ns_, d);
  }
  std::chrono::nanoseconds Expected() const {
    return std::chrono::nanoseconds(static_cast<int64_t>(predict_ns_.load()));
  }
  // How long before the model's expected end the fetcher starts: twice a fetch, at least 1 ms,
  // at most half a prediction.
  std::chrono::nanoseconds Lead() const {
    const double fetch2 = 2 * fetch_ns_.load(), half = predict_ns_.load() / 2;
    return std::chrono::nanoseconds(static_cast<int64_t>(std::min(std::max(fetch2, 1e6), half)));
  }

 private:
  static void Update(std::atomic<double>& mean, std::chrono::nanoseconds d) {
    const double x = static_cast<double>(d.count());
    double m = mean.load();
    // The first sample sets the mean; then an exponential moving average (weight 1/8).
    while (!mean.compare_exchange_weak(m, m == 0 ? x : m + (x - m) / 8)) {
    }
  }
  std::atomic<double> predict_ns_{0}, fetch_ns_{0};
};

// Completer threads: a bounded queue of successes. Submit blocks while `capacity` successes wait
// or are being recorded; each thread takes up to `batch` of them at once. Drain returns once
// every submitted success was recorded (then the threads are joined).
class Worker::Completer {
 public:
  using Record = std::function<void(std::span<Completion>)>;
  Completer(int threads, size_t capacity, size_t batch, Record record)
      : capacity_(capacity), batch_(batch), record_(std::move(record)) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Completer() { Drain(); }

  void Submit(Completion c) {
    std::unique_lock lock(mu_);
    space_.wait(lock, [&] { return outstanding_ < capacity_; });
    ++outstanding_;
    items_.push_back(std::move(c));
    ready_.notify_one();
  }

  void Drain() {
    {
      std::lock_guard lock(mu_);
      if (closing_) return;
      closing_ = true;
    }
    ready_.notify_all();
    for (auto& t : threads_) t.join();  // each records what is left before it exits
    threads_.clear();
  }

 private:
  void Run() {
    std::vector<Completion> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [&] { return closing_ || !items_.empty(); });
        if (items_.empty()) return;  // closing, and nothing left
        while (!items_.empty() && batch.size() < batch_) {
          batch.push_back(std::move(items_.front()));
          items_.pop_front();
        }
      }
      record_(batch);
      const size_t n = batch.size();
      batch.clear();
      {
        std::lock_guard lock(mu_);
        outstanding_ -= n;
      }
      space_.notify_all();
    }
  }

  const size_t capacity_, batch_;
  const Record record_;
  std::mutex mu_;
  std::condition_variable ready_, space_;
  std::deque<Completion> items_;  // guarded by mu_
  size_t outstanding_ = 0;        // waiting or being recorded; guarded by mu_
  bool closing_ = false;          // guarded by mu_
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
      counters_(std::make_unique<Counters>(metrics_, backend_)),
      timing_(std::make_unique<Timing>()) {}

Worker::~Worker() { Stop(std::chrono::milliseconds(0)); }

void Worker::Start() {
  if (options_.async_completion) {
    completer_ = std::make_unique<Completer>(
        CompleterThreads(options_), static_cast<size_t>(CompleterCapacity(options_)),
        static_cast<size_t>(options_.completion_batch),
        [this](std::span<Completion> batch) { CompleteSuccesses(batch); });
  }
  std::lock_guard lock(mu_);
  running_threads_ = options_.concurrency;
  for (int i = 0; i < options_.concurrency; ++i) {
    if (!options_.receive_ahead) {
      threads_.emplace_back([this] { Loop(); });
      continue;
    }
    Slot& slot = *slots_.emplace_back(std::make_unique<Slot>());
    threads_.emplace_back([this, &slot] { FetchLoop(slot); });
    threads_.emplace_back([this, &slot] { ModelLoop(slot); });
  }
}

bool Worker::Stop(std::chrono::milliseconds grace) {
  if (threads_.empty()) return true;
  stopping_ = true;
  for (auto& slot : slots_) {  // wake fetchers waiting for room
    { std::lock_guard lock(slot->mu); }
    slot->cv.notify_all();
  }
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
  slots_.clear();  // each model thread ran its slot's ready job before it exited
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

std::unique_ptr<queue::Delivery> Worker::ReceiveNext() {
  auto d = queue_.Receive({.timeout = options_.poll_timeout});
  if (d) return std::move(*d);
  if (stopping_.load()) return nullptr;
  log_->error("worker: receive from {} failed: {}", backend_, d.error().ToString());
  std::unique_lock lock(mu_);
  all_exited_.wait_for(lock, options_.error_pause, [&] { return stopping_.load(); });
  return nullptr;
}

void Worker::ExitThread() {
  std::lock_guard lock(mu_);
  if (--running_threads_ == 0) all_exited_.notify_all();
}

void Worker::Loop() {
  while (!stopping_.load()) {
    if (auto d = ReceiveNext()) Process(std::move(d), completer_ != nullptr);
  }
  ExitThread();
}

void Worker::FetchLoop(Slot& slot) {
  using Steady = Slot::Steady;
  for (;;) {
    {
      // Fetch when the slot has nothing ready and its model is idle or about to be: fetching at
      // the start of a long prediction would hold a job that another, idle consumer could run.
      std::unique_lock lock(slot.mu);
      for (;;) {
        if (stopping_.load()) break;
        if (slot.ready) {
          slot.cv.wait(lock);
          continue;
        }
        if (!slot.busy) break;
        const auto at = slot.busy_since + timing_->Expected() - timing_->Lead();
        if (Steady::now() >= at) break;
        slot.cv.wait_until(lock, at);
      }
    }
    if (stopping_.load()) break;
    const auto fetch_start = Steady::now();
    auto d = ReceiveNext();
    if (!d) continue;
    auto started = Begin(std::move(d));
    if (!started) continue;
    timing_->Fetched(Steady::now() - fetch_start);
    {
      std::lock_guard lock(slot.mu);
      slot.ready.emplace(std::move(*started));
    }
    slot.cv.notify_all();
  }
  {
    std::lock_guard lock(slot.mu);
    slot.fetcher_done = true;
  }
  slot.cv.notify_all();
}

void Worker::ModelLoop(Slot& slot) {
  for (;;) {
    std::optional<Started> job;
    {
      std::unique_lock lock(slot.mu);
      slot.busy = false;
      slot.cv.notify_all();  // an idle model: the fetcher fetches now
      slot.cv.wait(lock, [&] { return slot.ready.has_value() || slot.fetcher_done; });
      if (!slot.ready) break;  // the fetcher stopped and nothing is left
      job.emplace(std::move(*slot.ready));
      slot.ready.reset();
      slot.busy = true;
      slot.busy_since = Slot::Steady::now();
    }
    slot.cv.notify_all();  // room for the next one: the fetcher receives it near this one's end
    Run(std::move(*job), completer_ != nullptr);
  }
  ExitThread();
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

void Worker::Process(std::unique_ptr<queue::Delivery> delivery, bool async) {
  if (auto started = Begin(std::move(delivery))) Run(std::move(*started), async);
}

std::optional<Worker::Started> Worker::Begin(std::unique_ptr<queue::Delivery> delivery) {
  Counters& c = *counters_;
  c.received++;
  InFlight in_flight(this);
  queue::Delivery& d = *delivery;
  if (!d.decode_error().empty()) {
    log_->warn("worker: malformed message dead-lettered: {}", d.decode_error());
    c.dead_letters.Inc();
    c.dead++;
    (void)d.DeadLetter(fmt::format("malformed message: {}", d.decode_error()));
    return std::nullopt;
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
    return std::nullopt;
  }
  if (job->attempts > msg.attempt) c.redeliveries.Inc();  // an attempt was abandoned or ran twice
  c.queue_wait.Observe(std::max(0.0, Seconds(received_at - msg.enqueued_at)));
  log_->debug("worker: job {} attempt {} started (request {})", job->id, job->attempts,
              msg.request_id);
  return Started{std::move(in_flight), std::move(delivery), std::move(*job)};
}

void Worker::Run(Started s, bool async) {
  Counters& c = *counters_;
  const auto started = clock_.Steady();
  auto result = predictor_.Predict(
      {.job_id = s.job.id, .input_path = s.job.input_path, .attempt = s.job.attempts},
      cancel_.get_token());
  const auto took = clock_.Steady() - started;
  c.processing.Observe(Seconds(took));
  timing_->Predicted(took);
  if (!result) {
    if (result.error().code == ErrorCode::kAborted) {  // cancelled at shutdown
      c.abandoned++;
      return;  // the delivery is released unsettled on return
    }
    OnPredictFailed(*s.delivery, s.job, result.error());
    return;
  }
  Completion done{std::move(s.in_flight), std::move(s.delivery), std::move(s.job),
                  std::move(result->output_path), clock_.Now()};
  if (async) {
    completer_->Submit(std::move(done));
    return;
  }
  CompleteSuccesses(std::span<Completion>(&done, 1));
}

void Worker::CompleteSuccesses(std::span<Completion> batch) {
  std::vector<store::FinishParams> params;
  params.reserve(batch.size());
  for (const Completion& c : batch) {
    params.push_back({.id = c.job.id, .attempt = c.job.attempts,
                      .outcome = JobStatus::kSuccess, .output_path = c.output, .now = c.now});
  }
  std::vector<Status> done;
  if (params.size() == 1) {
    done.push_back(store_.Finish(params[0]));
  } else {
    done = store_.FinishMany(params);
  }
  for (size_t i = 0; i < batch.size(); ++i) Settle(batch[i], done[i]);
}

void Worker::Settle(Completion& job_done, const Status& done) {
  Counters& c = *counters_;
  queue::Delivery& d = *job_done.delivery;
  const Job& job = job_done.job;
  const int attempt = job.attempts;
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
  c.end_to_end.Observe(std::max(0.0, Seconds(job_done.now - job.created_at)));
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
