// PgStore: the JobStore on PostgreSQL, shared by the API and the workers of V3-V6.
//
// Design:
//  - One table, mqlab_jobs, in a configurable schema (tests use one schema per case). It is also
//    the V3 queue (src/queue/postgres): run_after, lease_expires_at and the partial index of
//    PENDING rows by run_after are there for its claim (FOR UPDATE SKIP LOCKED), so the queue
//    adds no migration of its own for them.
//  - Open creates or migrates the schema inside one transaction holding a transaction-level
//    advisory lock keyed by the schema name, so processes starting together do not race; applied
//    migrations are recorded in mqlab_schema_version (prefixed: it may share `public`).
//  - Each transition is one conditional UPDATE (… WHERE status … AND attempts …) whose row count
//    decides; when it changed nothing, the row is read back and store/transitions.h names the
//    outcome, as job_store.h states. Under READ COMMITTED a concurrent UPDATE of the same row waits
//    for the first to commit and re-checks the WHERE on the new row, so exactly one applies.
//  - Timestamps are timestamptz (microseconds, as Job keeps them), sent in binary, read back as
//    unix microseconds. Ids are uuid (compared case-insensitively, returned lowercase).
//  - Statements are prepared once per pooled connection (PgPool).
//
// Thread-safety: every method may be called from any thread; each call borrows one connection
// of the pool for its duration.
#ifndef MQLAB_STORE_POSTGRES_PG_STORE_H_
#define MQLAB_STORE_POSTGRES_PG_STORE_H_

#include <chrono>
#include <memory>
#include <string>

#include "mqlab/store/job_store.h"
#include "store/postgres/pg_pool.h"
#include "store/transitions.h"

namespace mqlab::store {

struct PgStoreOptions {
  // libpq URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres (MQLAB_POSTGRES_URL).
  // Default: none, required.
  std::string url;
  // Schema holding the tables, created if absent. Default: "public".
  std::string schema = "public";
  // Connections in the pool: the most statements in flight at once. Default: 4.
  int pool_size = 4;
  // Wait for a free connection before kUnavailable. Default: 10 s.
  std::chrono::milliseconds acquire_timeout{10000};
  // libpq connect_timeout, unless the URL sets one. Default: 5 s.
  int connect_timeout_seconds = 5;
};

class PgStore final : public JobStore {
 public:
  // Connects (failing fast, with advice, when no server answers) and creates or migrates the
  // schema. Errors: kInvalidArgument (no URL), kUnavailable (server unreachable),
  // kFailedPrecondition (schema written by a newer mqlab), or the translated server error.
  static Result<std::unique_ptr<PgStore>> Open(const PgStoreOptions& options);
  ~PgStore() override;

  Status Create(const Job& job) override;
  Result<Job> Get(std::string_view id) override;
  Result<Job> FindByIdempotencyKey(std::string_view version, std::string_view key) override;
  Result<Job> StartAttempt(const StartParams& params) override;
  Status Finish(const FinishParams& params) override;
  // One statement (UPDATE … FROM unnest(arrays)), so one synchronous commit for the batch; items
  // it did not change are explained by one read of their rows. See pg_store.cc.
  std::vector<Status> FinishMany(std::span<const FinishParams> params) override;
  Status Requeue(const RequeueParams& params) override;
  Status Reject(const RejectParams& params) override;
  Result<std::vector<std::string>> Recover(const RecoverParams& params) override;
  Result<std::map<std::string, int64_t>> CountByStatus(std::string_view version) override;
  Status Ping() override;

  // The pool, for adapters that share the store's connections (the V3 queue).
  PgPool& pool() { return *pool_; }

 private:
  explicit PgStore(std::unique_ptr<PgPool> pool);
  Status Migrate();
  Result<int> ApplyMigrations(PgConnection& conn);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace mqlab::store

#endif  // MQLAB_STORE_POSTGRES_PG_STORE_H_
