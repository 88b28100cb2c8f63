// Test support for the V3 queue's integration tests: a PgStore in a schema of its own (dropped
// at the end), queues on it, and a few direct SQL probes of the rows.
#ifndef MQLAB_QUEUE_POSTGRES_PG_QUEUE_TEST_SUPPORT_H_
#define MQLAB_QUEUE_POSTGRES_PG_QUEUE_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "mqlab/domain/job.h"
#include "queue/postgres/postgres_queue.h"
#include "store/postgres/pg_store.h"
#include "tests/support/test_services.h"

namespace mqlab::queue {

// Polls `done` until it holds or `limit` passes.
template <class F>
bool Eventually(F done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

class PgQueueTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = testing::TestPostgresUrl();
    ASSERT_FALSE(url_.empty());
    schema_ = testing::UniqueSchemaName("pgq");
    auto s = store::PgStore::Open({.url = url_, .schema = schema_, .pool_size = 12});
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }

  void TearDown() override {
    if (!store_) return;
    store_.reset();
    auto pool = store::PgPool::Create({.url = url_, .pool_size = 1});
    ASSERT_TRUE(pool) << pool.error().ToString();
    auto lease = (*pool)->Acquire();
    ASSERT_TRUE(lease) << lease.error().ToString();
    auto quoted = (*lease)->QuoteIdentifier(schema_);
    ASSERT_TRUE(quoted);
    std::string sql = "DROP SCHEMA IF EXISTS " + *quoted + " CASCADE";
    EXPECT_TRUE((*lease)->Exec(sql.c_str()));
  }

  // Options of a queue in this test's schema, with a short lease.
  PostgresQueueOptions Options(const std::string& version = "v3") const {
    return {.url = url_,
            .schema = schema_,
            .version = version,
            .lease = std::chrono::milliseconds(2000),
            .rescue_interval = std::chrono::milliseconds(250)};
  }

  // A queue with a pool of its own (another process, as far as the database can tell).
  std::unique_ptr<PostgresQueue> OpenQueue(const PostgresQueueOptions& options) {
    auto q = PostgresQueue::Open(options);
    EXPECT_TRUE(q) << q.error().ToString();
    return q ? std::move(*q) : nullptr;
  }

  // Stores a PENDING job, as the API does before it enqueues.
  Job CreateJob(const std::string& version = "v3") {
    Job job;
    job.id = NewJobId();
    job.version = version;
    job.input_path = "in.png";
    job.request_id = "req-" + job.id.substr(0, 8);
    job.created_at = job.updated_at = Clock::Real().Now();
    auto s = store_->Create(job);
    EXPECT_TRUE(s) << s.error().ToString();
    return job;
  }

  static Message MessageFor(const Job& job) {
    return {.job_id = job.id, .attempt = 1, .enqueued_at = job.created_at,
            .request_id = job.request_id};
  }

  // The first value of a one-row query on the job `id` ($1), as text ("" and a failure if none).
  std::string Column(const std::string& sql, const std::string& id) {
    auto lease = store_->pool().Acquire();
    EXPECT_TRUE(lease) << lease.error().ToString();
    if (!lease) return "";
    auto r = (*lease)->Exec(sql.c_str(), store::PgParams().Text(id));
    EXPECT_TRUE(r) << r.error().ToString();
    if (!r || PQntuples(r->get()) != 1) return "";
    return store::PgText(r->get(), 0, 0);
  }

  // The row version of a job: unchanged when a statement wrote nothing to it.
  std::string RowVersion(const std::string& id) {
    return Column("SELECT xmin::text || '/' || ctid::text FROM mqlab_jobs WHERE id = $1", id);
  }

  std::string url_;
  std::string schema_;
  std::unique_ptr<store::PgStore> store_;
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_POSTGRES_PG_QUEUE_TEST_SUPPORT_H_
