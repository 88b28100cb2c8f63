// The worker: the consume loop, written once above the queue port for every backend.
//
// For each delivery: decode → StartAttempt in the store (PENDING|RUNNING → RUNNING, attempt + 1)
// → predict → Finish SUCCESS and ack; or, on a failed attempt, Requeue and retry with exponential
// backoff while attempts < max, else Finish FAILED and dead-letter. The store update always comes
// before the queue settlement: if the process dies in between, the message comes back, the store
// says the job is finished, and the duplicate is acknowledged and counted, never run again.
// A message the worker cannot decode or whose job is unknown is dead-lettered with the reason.
//
// Threading: Start() spawns `concurrency` slots. A slot is one model instance: its model thread
// takes a started job, predicts and hands the success to the completers; with receive-ahead (the
// default) its fetcher thread meanwhile receives and starts the slot's next job, so that the
// model never waits for the queue or the store between two jobs. The blocking client libraries
// behind the queue and store are used from these threads. Stop() is graceful: no new receives,
// in-flight jobs (the one ready for each slot included) finish; after the grace period it cancels
// the predictions still running (their deliveries are released unsettled, so they come back) and
// joins. Start/Stop are called from one controlling thread.
#ifndef MQLAB_WORKER_WORKER_H_
#define MQLAB_WORKER_WORKER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>

#include "metrics/mqlab_metrics.h"
#include "mqlab/common/clock.h"
#include "mqlab/model/predictor.h"
#include "mqlab/queue/job_queue.h"
#include "mqlab/store/job_store.h"

namespace mqlab::worker {

struct WorkerOptions {
  // Names this worker in the store's workerId column and in logs. Default: "<host>-<pid>".
  std::string worker_id;
  // Parallel consume loops in this process (one model instance each). Default: 1, as the
  // single-threaded Python worker of the original study.
  int concurrency = 1;
  // Backoff before attempt n + 1: min(max, base * 2^(n-1)) scaled by a random factor in
  // [0.5, 1) (equal jitter: retries of a burst of failures do not come back in lockstep).
  // Default: base 200 ms, max 30 s.
  std::chrono::milliseconds backoff_base{200};
  std::chrono::milliseconds backoff_max{30000};
  // How long one Receive waits; bounds how fast Stop is noticed. Default: 200 ms.
  std::chrono::milliseconds poll_timeout{200};
  // Pause after a failed Receive (server down) before trying again. Default: 500 ms.
  std::chrono::milliseconds error_pause{500};
  // Record successes (store Finish, then queue Ack) on completer threads, so that a slot runs
  // its next job while the last one is being recorded: the store's commit (a disk flush, 1-3 ms)
  // is then off the model's path, as River's completer takes it off its executors'. Up to 4
  // completer threads; each records what waits, up to `completion_batch` jobs, with one store
  // call; at most max(completion_batch, concurrency) successes wait or are being recorded (a slot
  // that finds no room waits). Order and guarantees are unchanged: Finish before Ack, and a
  // process that dies before either leaves the job to be delivered again. Default: true.
  bool async_completion = true;
  // Receive and start a slot's next job just before its model finishes the current one (a
  // fetcher thread per slot, holding one started job ready): the fetch begins when the running
  // prediction has `lead` left by the running mean of predictions (lead: twice the mean fetch,
  // 1 ms at least, half a prediction at most), or at once when the model is idle. So the round
  // trips are off the model's time, and a busy worker does not take a job from an idle one
  // early (a prefetching consumer's known flaw). The ready job is RUNNING in the store for
  // about `lead` before it runs. Off: the slot receives after it finishes a job, so every job
  // pays the receive and start round trips on the model's time. Default: true.
  bool receive_ahead = true;
  // Successes recorded in one store call (JobStore::FinishMany: one commit for the batch), taken
  // from what waits for the completers. Default: 64.
  int completion_batch = 64;

  Status Validate() const;
  // The prefetch this worker asks of its queue (RabbitMQ basic.qos, Redis's read count): per slot
  // one running, one ready (receive-ahead) and two being recorded (async completion). More
  // successes may wait for the completers (up to max(completion_batch, concurrency)) only where
  // the queue does not count them against a prefetch (PostgreSQL, Kafka); elsewhere the fetchers
  // wait for acks to free room. Not more: a queue shared by several worker processes hands a
  // process up to its prefetch at once, and what one process holds the others cannot run.
  int Prefetch() const;
};

// Running totals, for tests and the end-of-run log line.
struct WorkerStats {
  int64_t received = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;         // finished FAILED after the last attempt
  int64_t retried = 0;        // failed attempts sent back with backoff
  int64_t duplicates = 0;     // deliveries of jobs already finished (acked, skipped)
  int64_t dead_lettered = 0;  // includes malformed and unknown-job messages
  int64_t abandoned = 0;      // released unsettled (store unreachable, or cancelled at stop)
};

class Worker {
 public:
  // `queue`, `store`, `predictor`, `clock`, `metrics` and `log` must outlive the Worker.
  // `backend` labels the metrics ("memory", "postgres", ...).
  Worker(WorkerOptions options, std::string backend, queue::JobQueue& queue,
         store::JobStore& store, model::Predictor& predictor, const Clock& clock,
         metrics::MqlabMetrics& metrics, std::shared_ptr<spdlog::logger> log);
  ~Worker();  // Stop(0) if still running

  void Start();
  // Stops taking work and waits up to `grace` for in-flight jobs; then cancels what still runs.
  // Returns true if everything in flight finished within the grace period.
  bool Stop(std::chrono::milliseconds grace);

  // Handles one delivery to its settlement, completion included, on the calling thread (exposed
  // for tests; the slots run the same steps, completing on the completers).
  void Handle(std::unique_ptr<queue::Delivery> delivery) { Process(std::move(delivery), false); }

  WorkerStats stats() const;
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  struct Counters;
  struct InFlight;
  struct Started;
  struct Completion;
  struct Slot;
  class Timing;
  class Completer;
  // Inline receive: the slot's one thread receives, starts and runs each job.
  void Loop();
  // Receive-ahead: the slot's fetcher fills `slot.ready`; its model thread runs what is there.
  void FetchLoop(Slot& slot);
  void ModelLoop(Slot& slot);
  // One Receive; nullptr on timeout, stop, or error (after the error pause).
  std::unique_ptr<queue::Delivery> ReceiveNext();
  // Decodes and starts the delivery's attempt; settles it here (nullopt) when it is malformed, a
  // duplicate, an unknown job, or the store is unreachable.
  std::optional<Started> Begin(std::unique_ptr<queue::Delivery> delivery);
  // Predicts a started job; records its outcome (a success on the completers if `async`).
  void Run(Started started, bool async);
  void Process(std::unique_ptr<queue::Delivery> delivery, bool async);
  // Finish SUCCESS (one store call for the batch), then each Ack, counters.
  void CompleteSuccesses(std::span<Completion> batch);
  void Settle(Completion& c, const Status& done);
  void ExitThread();
  std::chrono::milliseconds Backoff(int attempt);
  void OnPredictFailed(queue::Delivery& d, const Job& job, const Error& error);
  // True when the store shows the job unfinished with fewer attempts than `attempt`: this
  // attempt's start did not survive (a store that restarted before flushing it). Its delivery
  // must then come back, not be acknowledged: the job still has to run.
  bool StartWasLost(const std::string& id, int attempt);

  const WorkerOptions options_;
  const std::string backend_;
  queue::JobQueue& queue_;
  store::JobStore& store_;
  model::Predictor& predictor_;
  const Clock& clock_;
  metrics::MqlabMetrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Counters> counters_;
  std::unique_ptr<Timing> timing_;  // when receive-ahead fetches

  std::atomic<bool> stopping_{false};
  std::stop_source cancel_;  // cancels running predictions once the grace period is over
  std::atomic<int64_t> in_flight_{0};
  std::mutex mu_;  // guards running_threads_, rng_
  std::condition_variable all_exited_;
  int running_threads_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Slot>> slots_;  // with receive_ahead, while started
  std::unique_ptr<Completer> completer_;      // when options_.async_completion, while started
};

// "<hostname>-<pid>".
std::string DefaultWorkerId();

}  // namespace mqlab::worker

#endif  // MQLAB_WORKER_WORKER_H_
