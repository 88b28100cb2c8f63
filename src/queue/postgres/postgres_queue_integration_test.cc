// The V3 queue on a real PostgreSQL: the shared queue suites (conformance; killed consumer,
// restart, outage), then what only this backend has: the row is the message (an Enqueue of a
// stored job writes nothing), the store's Requeue and the queue's Retry, Ack after Finish,
// heartbeats. The worker on top of it: postgres_queue_worker_integration_test.cc.
#include "queue/postgres/postgres_queue.h"

#include <gtest/gtest.h>

#include "queue/postgres/pg_queue_test_support.h"
#include "queue/queue_conformance_test.h"
#include "queue/server_queue_suite.h"

namespace mqlab::queue {
namespace {

using std::chrono::milliseconds;
using Steady = std::chrono::steady_clock;

// Short enough that the crash cases finish quickly; rescues run every quarter lease.
constexpr milliseconds kLease{2000};
// A killed consumer's row: lease (at most, after its last heartbeat) + a rescue round + wake-up.
constexpr milliseconds kRedeliveryBound{6000};

std::unique_ptr<JobQueue> OpenForSuite(const std::string& name) {
  const std::string url = testing::TestPostgresUrl();
  if (url.empty()) return nullptr;
  auto q = PostgresQueue::Open({.url = url, .version = name, .lease = kLease});
  EXPECT_TRUE(q) << q.error().ToString();
  return q ? std::move(*q) : nullptr;
}

INSTANTIATE_TEST_SUITE_P(Postgres, QueueConformanceTest,
                         ::testing::Values(QueueFactoryParam{"postgres", OpenForSuite,
                                                             kRedeliveryBound}));

ServerQueueParam ServerParam() {
  ServerQueueParam p;
  p.kind = "postgres";
  p.options.lease = kLease;
  p.redelivery_bound = kRedeliveryBound;
  return p;
}

INSTANTIATE_TEST_SUITE_P(Postgres, ServerQueueTest, ::testing::Values(ServerParam()));

// --- PostgreSQL-specific cases ----------------------------------------------------------------

using PostgresQueueTest = PgQueueTestBase;

TEST_F(PostgresQueueTest, EnqueueOfAStoredJobWritesNothingAndTheRowIsTheMessage) {
  auto q = PostgresQueue::Open(Options(), store_->pool());
  ASSERT_TRUE(q) << q.error().ToString();
  Job job = CreateJob();
  const std::string before = RowVersion(job.id);
  ASSERT_TRUE((*q)->Enqueue(MessageFor(job)));
  ASSERT_TRUE((*q)->Enqueue(MessageFor(job))) << "enqueue is idempotent";
  EXPECT_EQ(RowVersion(job.id), before) << "the row already is the message: nothing to write";
  EXPECT_EQ(Column("SELECT count(*) FROM mqlab_jobs WHERE id = $1", job.id), "1");
  EXPECT_EQ((*q)->Depth().value_or(-1), 1);

  auto other = PostgresQueue::Open(Options("v3-other"), store_->pool());
  ASSERT_TRUE(other);
  auto wrong = (*other)->Enqueue(MessageFor(job));
  ASSERT_FALSE(wrong) << "a job of another queue is not taken over";
  EXPECT_EQ(wrong.error().code, ErrorCode::kFailedPrecondition);

  auto d = (*q)->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(d) << d.error().ToString();
  ASSERT_NE(*d, nullptr);
  const Message& m = (*d)->message();
  EXPECT_EQ(m.job_id, job.id);
  EXPECT_EQ(m.attempt, 1);
  EXPECT_EQ(m.request_id, job.request_id);
  EXPECT_EQ(ToUnixMicros(m.enqueued_at), ToUnixMicros(job.created_at));
  EXPECT_EQ((*q)->Depth().value_or(-1), 0) << "a claimed row is held, not backlog";
  EXPECT_EQ(store_->Get(job.id)->status, JobStatus::kPending) << "claiming is not starting";
}

TEST_F(PostgresQueueTest, AckAfterTheStoreFinishedWritesNothing) {
  auto q = PostgresQueue::Open(Options(), store_->pool());
  ASSERT_TRUE(q);
  Job job = CreateJob();
  ASSERT_TRUE((*q)->Enqueue(MessageFor(job)));
  auto d = (*q)->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(d && *d);
  auto started = store_->StartAttempt({.id = job.id, .worker_id = "w", .now = Clock::Real().Now()});
  ASSERT_TRUE(started) << started.error().ToString();
  ASSERT_TRUE(store_->Finish({.id = job.id, .attempt = 1, .outcome = JobStatus::kSuccess,
                              .output_path = "out.json", .now = Clock::Real().Now()}));
  const std::string before = RowVersion(job.id);
  ASSERT_TRUE((*d)->Ack());
  EXPECT_EQ(RowVersion(job.id), before);
  EXPECT_EQ(Column("SELECT lease_expires_at IS NULL FROM mqlab_jobs WHERE id = $1", job.id), "t");
}

TEST_F(PostgresQueueTest, StoreRequeueThenRetryHonoursTheBackoff) {
  auto q = PostgresQueue::Open(Options(), store_->pool());
  ASSERT_TRUE(q);
  Job job = CreateJob();
  ASSERT_TRUE((*q)->Enqueue(MessageFor(job)));
  auto d = (*q)->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(d && *d);
  ASSERT_TRUE(store_->StartAttempt({.id = job.id, .worker_id = "w", .now = Clock::Real().Now()}));
  EXPECT_EQ(Column("SELECT status FROM mqlab_jobs WHERE id = $1", job.id), "RUNNING");
  ASSERT_TRUE(store_->Requeue({.id = job.id, .attempt = 1, .error_message = "boom",
                               .now = Clock::Real().Now()}));
  // PENDING again, but still leased: not claimable before the worker's Retry sets the backoff.
  auto early = (*q)->Receive({.timeout = milliseconds(200)});
  ASSERT_TRUE(early);
  EXPECT_EQ(*early, nullptr) << "claimable between Requeue and Retry";
  const auto retried_at = Steady::now();
  ASSERT_TRUE((*d)->Retry(milliseconds(400)));
  auto again = (*q)->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(again && *again);
  EXPECT_GE(Steady::now() - retried_at, milliseconds(380));
  EXPECT_EQ((*again)->message().attempt, 2);
  auto second = store_->StartAttempt({.id = job.id, .worker_id = "w", .now = Clock::Real().Now()});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->attempts, 2);
  EXPECT_EQ(second->error_message, "boom");
  ASSERT_TRUE(store_->Finish({.id = job.id, .attempt = 2, .outcome = JobStatus::kSuccess,
                              .now = Clock::Real().Now()}));
  ASSERT_TRUE((*again)->Ack());
}

TEST_F(PostgresQueueTest, HeartbeatsKeepALongJobFromBeingRescued) {
  PostgresQueueOptions o = Options();
  o.lease = milliseconds(300);  // heartbeat every 100 ms, rescue every 100 ms
  auto holder = OpenQueue(o);
  auto rival = OpenQueue(o);
  ASSERT_TRUE(holder && rival);
  Job job = CreateJob();
  ASSERT_TRUE(holder->Enqueue(MessageFor(job)));
  auto d = holder->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(d && *d);
  // Four leases long: without heartbeats the rival's rescuer would hand the row over.
  auto stolen = rival->Receive({.timeout = milliseconds(1200)});
  ASSERT_TRUE(stolen) << stolen.error().ToString();
  EXPECT_EQ(*stolen, nullptr) << "a live consumer's row was rescued";
  ASSERT_TRUE((*d)->Ack());
}

TEST_F(PostgresQueueTest, AReleasedRowGoesToAnotherConsumerAtOnce) {
  auto a = OpenQueue(Options());
  auto b = OpenQueue(Options());
  ASSERT_TRUE(a && b);
  Job job = CreateJob();
  ASSERT_TRUE(a->Enqueue(MessageFor(job)));
  auto d = a->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(d && *d);
  const auto released_at = Steady::now();
  d->reset();  // released unsettled: PENDING and free at once
  auto again = b->Receive({.timeout = milliseconds(5000)});
  ASSERT_TRUE(again && *again);
  EXPECT_LT(Steady::now() - released_at, kLease) << "came back by the lease, not the release";
  EXPECT_EQ((*again)->message().attempt, 1);
  ASSERT_TRUE((*again)->Ack());
}

// The listener reconnects after a server restart: with polling pushed out to a minute, only a
// NOTIFY (or the wake-up every reconnect gives) can bring a job to the waiting consumer in time.
TEST(PostgresQueueRestartTest, TheListenerComesBackAfterARestart) {
  auto server = testing::PrivateService::Start("postgres");
  ASSERT_TRUE(server) << server.error().ToString();
  PostgresQueueOptions o{.url = (*server)->url(), .version = "v3-restart", .lease = kLease,
                         .poll_interval = std::chrono::minutes(1)};
  auto producer = PostgresQueue::Open(o);
  auto consumer = PostgresQueue::Open(o);
  ASSERT_TRUE(producer && consumer);
  auto pickup = [&](milliseconds limit) -> std::optional<milliseconds> {
    // Drain: the consumer has claimed and found nothing, so it now waits for a wake-up.
    auto none = (*consumer)->Receive({.timeout = milliseconds(300)});
    if (none && *none) return std::nullopt;
    const auto start = Steady::now();
    if (!(*producer)->Enqueue(TestMessage(1))) return std::nullopt;
    auto d = (*consumer)->Receive({.timeout = limit});
    if (!d || !*d || !(*d)->Ack()) return std::nullopt;
    return std::chrono::duration_cast<milliseconds>(Steady::now() - start);
  };
  auto before = pickup(milliseconds(10000));
  ASSERT_TRUE(before.has_value()) << "no NOTIFY wake-up before the restart";
  ASSERT_TRUE((*server)->Restart());
  // The producer's pooled connections broke: it reconnects on the next call.
  ASSERT_TRUE(Eventually(
      [&] { return (*producer)->Depth().has_value(); }, milliseconds(30000)));
  auto after = pickup(milliseconds(15000));
  ASSERT_TRUE(after.has_value()) << "no wake-up after the restart: the listener did not return";
  RecordProperty("pickup_after_restart_ms", static_cast<int>(after->count()));
}

}  // namespace
}  // namespace mqlab::queue
