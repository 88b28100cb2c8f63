// PostgresQueue: the V3 queue. The jobs table is the queue: a message is a row of mqlab_jobs.
//
// The queue named N is the set of rows whose `version` is N (the default name, "mqlab_jobs", is
// the study's V3: version "v3"), so V4-V6 rows in the same table are never touched and each test
// case has a queue of its own. Enqueue of a job whose row exists (the API stored it just before)
// writes nothing: it only NOTIFYs. Enqueue of an id with no row inserts a minimal PENDING row
// (ON CONFLICT DO NOTHING), so any producer works.
//
// Life of a row (the full table is in docs/notes-postgres.md):
//   claim     PENDING, free, due → leased: lease_owner = a token per claim, lease_expires_at =
//             now + lease (UPDATE … WHERE id = ANY(SELECT … FOR UPDATE SKIP LOCKED LIMIT n)).
//             The store's StartAttempt then makes it RUNNING; the lease stays.
//   heartbeat while a delivery is held, its lease is extended every lease/3, so a job longer
//             than the lease is not taken from a live worker.
//   Ack       nothing to do after the store's Finish (no lease, terminal); a row still
//             PENDING/RUNNING is marked settled (lease 'infinity': never claimed, never rescued).
//   Retry     → PENDING, free, run_after = now + delay, queue_attempt + 1.
//   DeadLetter records the reason (dead_letter_reason, dead_lettered_at) on the row.
//   release   (a Delivery destroyed unsettled) → PENDING, free, same attempt, at once.
//   rescue    a lease expired (its consumer died) → PENDING, free; the next StartAttempt counts
//             a new attempt. Run by every consumer every rescue_interval.
// Every settlement is guarded by the delivery's token (WHERE lease_owner = token): a consumer
// whose lease was rescued and re-claimed cannot touch the new holder's row.
//
// Wake-up: one dedicated LISTEN connection per queue (pg_listener.h; not from the pool), started
// by the first Receive. Receivers of one process share claims: one of them claims for all that
// wait (up to max_batch rows in one statement) while the others wait on a condition variable;
// they claim again on a NOTIFY for this queue, a local Enqueue/Retry/release, a local retry
// falling due, or poll_interval after the last empty claim (the fallback when notifications are
// lost, e.g. while the listener reconnects).
//
// Threading: every method may be called from any thread. Receive, Enqueue and settlements each
// borrow one pooled connection per statement. Two background threads per consumer queue: the
// listener and the lease keeper (heartbeat + rescue). A Delivery may outlive the queue (it
// shares the queue's state), but once the queue is closed its lease is no longer extended.
#ifndef MQLAB_QUEUE_POSTGRES_POSTGRES_QUEUE_H_
#define MQLAB_QUEUE_POSTGRES_POSTGRES_QUEUE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "mqlab/queue/job_queue.h"
#include "queue/registry.h"

namespace mqlab::store {
class PgPool;
}

namespace mqlab::queue {

struct PostgresQueueOptions {
  // libpq URL (MQLAB_POSTGRES_URL). Default: none, required unless a pool is given.
  std::string url;
  // Schema of mqlab_jobs (the store's). Default: "public". Ignored when a pool is given.
  std::string schema = "public";
  // The queue: rows of mqlab_jobs with this version. Default: "v3".
  std::string version = "v3";
  // How long a claimed row stays its consumer's without a heartbeat. Default: 30 s.
  std::chrono::milliseconds lease{30000};
  // Lease extension period for held deliveries. Default: 0, meaning lease / 3.
  std::chrono::milliseconds heartbeat_interval{0};
  // How often this consumer returns expired leases. Default: 0, meaning lease / 4 within
  // [100 ms, 5 s]: a dead consumer's job comes back at most lease + this after its last heartbeat.
  std::chrono::milliseconds rescue_interval{0};
  // Claim again after this long without a wake-up (the fallback to LISTEN). Default: 1 s.
  std::chrono::milliseconds poll_interval{1000};
  // LISTEN for NOTIFY wake-ups; off means pure polling (a study variable). Default: true.
  bool listen = true;
  // Most rows one claim takes for the receivers waiting at that moment (never more than are
  // waiting, so no consumer hoards rows another idle one could run). Default: 16.
  int max_batch = 16;
  // Connections of the queue's own pool (not used when a pool is given). Default: 4.
  int pool_size = 4;
  // libpq connect_timeout unless the URL sets one. Default: 5 s.
  int connect_timeout_seconds = 5;
  // Names this consumer in lease tokens (lease_owner). Default: "" → "<host>-<pid>-<random>".
  std::string consumer_id;

  Status Validate() const;
};

class PostgresQueue final : public JobQueue {
 public:
  // Opens a pool of its own through the job store (PgStore::Open), which creates or migrates the
  // schema. kUnavailable (fast, with advice) when no server answers.
  static Result<std::unique_ptr<PostgresQueue>> Open(const PostgresQueueOptions& options);
  // Shares `pool` (PgStore::pool()), whose schema must already be migrated (the store did it).
  // `pool` must outlive the queue and every Delivery it returns; size it for both users.
  static Result<std::unique_ptr<PostgresQueue>> Open(const PostgresQueueOptions& options,
                                                     store::PgPool& pool);
  ~PostgresQueue() override;  // Close()

  std::string_view kind() const override { return "postgres"; }
  Capabilities capabilities() const override;
  Status Enqueue(const Message& message) override;
  Result<std::unique_ptr<Delivery>> Receive(const ReceiveParams& params) override;
  Result<int64_t> Depth() override;
  Result<std::vector<DeadLetter>> PeekDeadLetters(size_t limit) override;
  // Wakes receivers, stops the background threads, and releases claimed rows not handed out.
  void Close() override;

  class Core;  // shared with deliveries (pg_queue_core.h)
  class Background;

 private:
  explicit PostgresQueue(std::shared_ptr<Core> core);
  void StartBackground();

  std::shared_ptr<Core> core_;
  std::mutex background_mu_;
  bool background_started_ = false;  // guarded by background_mu_
  std::unique_ptr<Background> background_;
};

// QueueOptions → PostgresQueueOptions: version from the name ("mqlab_jobs" → "v3"), lease,
// max_batch = prefetch, pool_size = prefetch + 2 (at least 4), consumer_id.
PostgresQueueOptions PostgresOptionsFrom(const QueueOptions& options);
// The registry's factory (registry.cc: {"postgres", "v3", OpenPostgresQueue}).
Result<std::unique_ptr<JobQueue>> OpenPostgresQueue(const QueueOptions& options);

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_POSTGRES_POSTGRES_QUEUE_H_
