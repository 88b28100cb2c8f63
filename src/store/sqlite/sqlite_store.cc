#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include <array>
#include <utility>

#include "store/sqlite/sqlite_statement.h"

namespace mqlab::store {
namespace {

// Schema migrations, applied in order by Open; schema_version records each one applied.
//
// Checklist: when a column is added or changed here (a new migration, never an edit of an applied
// one), update together:
//   1. MQLAB_SQLITE_JOB_COLUMNS (what every SELECT and RETURNING reads, in this order),
//   2. RowToJob (reads MQLAB_SQLITE_JOB_COLUMNS by position),
//   3. kStatementSql[kInsert] and BindJob (writes every column),
//   4. the PostgreSQL store (src/store/postgres/pg_store.cc) and the Job struct (job.h),
//   5. the round-trip case of the conformance suite (src/store/store_conformance_test.h).
constexpr std::array<const char*, 2> kMigrations = {
    // 1: the jobs table. Times are unix microseconds; empty strings, not NULL, for absent text.
    R"sql(
CREATE TABLE jobs (
  id            TEXT    PRIMARY KEY,
  version       TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED')),
  input_path    TEXT    NOT NULL,
  output_path   TEXT    NOT NULL DEFAULT '',
  error_message TEXT    NOT NULL DEFAULT '',
  attempts      INTEGER NOT NULL DEFAULT 0,
  max_attempts  INTEGER NOT NULL,
  worker_id     TEXT    NOT NULL DEFAULT '',
  request_id    TEXT    NOT NULL DEFAULT '',
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  started_at    INTEGER,
  finished_at   INTEGER
);
-- Recover (unfinished jobs of a version, oldest first) and CountByStatus.
CREATE INDEX jobs_version_status_created ON jobs (version, status, created_at);
)sql",
    // 2: Idempotency-Key, unique per version while held (NULL: none, or released by Reject).
    R"sql(
ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (version, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
)sql",
};

#define MQLAB_SQLITE_JOB_COLUMNS                                                                \
  "id, version, status, input_path, output_path, error_message, attempts, max_attempts, "     \
  "worker_id, request_id, created_at, updated_at, started_at, finished_at, idempotency_key"

// Indexed by SqliteStore::StatementId. Ids are compared lowercase (the canonical form).
constexpr const char* kStatementSql[] = {
    // kInsert
    "INSERT INTO jobs (" MQLAB_SQLITE_JOB_COLUMNS ") "
    "VALUES (lower(?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, nullif(?15, ''))",
    // kGet
    "SELECT " MQLAB_SQLITE_JOB_COLUMNS " FROM jobs WHERE id = lower(?1)",
    // kFindByKey
    "SELECT " MQLAB_SQLITE_JOB_COLUMNS " FROM jobs WHERE version = ?1 AND idempotency_key = ?2",
    // kGetState
    "SELECT status, attempts FROM jobs WHERE id = lower(?1)",
    // kStart: PENDING|RUNNING -> RUNNING, a new attempt.
    "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1, worker_id = ?2, "
    "started_at = ?3, updated_at = ?3 "
    "WHERE id = lower(?1) AND status IN ('PENDING', 'RUNNING') RETURNING " MQLAB_SQLITE_JOB_COLUMNS,
    // kFinish: RUNNING(attempt) -> SUCCESS|FAILED.
    "UPDATE jobs SET status = ?3, output_path = ?4, error_message = ?5, finished_at = ?6, "
    "updated_at = ?6 WHERE id = lower(?1) AND status = 'RUNNING' AND attempts = ?2",
    // kRequeue: RUNNING(attempt) -> PENDING.
    "UPDATE jobs SET status = 'PENDING', error_message = ?3, updated_at = ?4 "
    "WHERE id = lower(?1) AND status = 'RUNNING' AND attempts = ?2",
    // kReject: PENDING, never started -> FAILED.
    "UPDATE jobs SET status = 'FAILED', error_message = ?2, finished_at = ?3, updated_at = ?3, "
    "idempotency_key = NULL WHERE id = lower(?1) AND status = 'PENDING' AND attempts = 0",
    // kRecoverReset
    "UPDATE jobs SET status = 'PENDING', updated_at = ?2 WHERE version = ?1 AND status = 'RUNNING'",
    // kRecoverList
    "SELECT id FROM jobs WHERE version = ?1 AND status IN ('PENDING', 'RUNNING') "
    "ORDER BY created_at, id LIMIT ?2",
    // kCount
    "SELECT status, count(*) FROM jobs WHERE version = ?1 GROUP BY status",
    "BEGIN IMMEDIATE",  // kBegin: take the write lock at once (no upgrade deadlock)
    "COMMIT",           // kCommit
    "ROLLBACK",         // kRollback
    "SELECT 1",         // kPing
};

Result<JobStatus> StatusFrom(const std::string& text) {
  auto status = ParseJobStatus(text);
  if (!status) return Internal(fmt::format("sqlite: unknown job status '{}' in database", text));
  return *status;
}

// Reads one row of MQLAB_SQLITE_JOB_COLUMNS.
Result<Job> RowToJob(const SqliteUse& row) {
  Job job;
  job.id = row.ColText(0);
  job.version = row.ColText(1);
  auto status = StatusFrom(row.ColText(2));
  if (!status) return std::unexpected(status.error());
  job.status = *status;
  job.input_path = row.ColText(3);
  job.output_path = row.ColText(4);
  job.error_message = row.ColText(5);
  job.attempts = static_cast<int>(row.ColInt(6));
  job.max_attempts = static_cast<int>(row.ColInt(7));
  job.worker_id = row.ColText(8);
  job.request_id = row.ColText(9);
  job.created_at = FromUnixMicros(row.ColInt(10));
  job.updated_at = FromUnixMicros(row.ColInt(11));
  job.started_at = row.ColTime(12);
  job.finished_at = row.ColTime(13);
  job.idempotency_key = row.ColText(14);
  return job;
}

void BindJob(SqliteUse& use, const Job& job) {
  use.Text(1, job.id).Text(2, job.version).Text(3, JobStatusName(job.status));
  use.Text(4, job.input_path).Text(5, job.output_path).Text(6, job.error_message);
  use.Int(7, job.attempts).Int(8, job.max_attempts).Text(9, job.worker_id).Text(10, job.request_id);
  use.Time(11, job.created_at).Time(12, job.updated_at);
  use.Time(13, job.started_at).Time(14, job.finished_at).Text(15, job.idempotency_key);
}

// Creates or upgrades the schema in one IMMEDIATE transaction (a second process opening the same
// fresh file waits on busy_timeout, then sees the schema done).
Status Migrate(sqlite3* db) {
  if (auto s = ExecSqliteScript(db, "BEGIN IMMEDIATE", "begin migration"); !s) return s;
  auto fail = [db](Status s) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return s;
  };
  if (auto s = ExecSqliteScript(db,
                          "CREATE TABLE IF NOT EXISTS schema_version ("
                          "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                          "create schema_version");
      !s) {
    return fail(s);
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1,
                              &raw, nullptr);
  if (rc != SQLITE_OK) return fail(TranslateSqliteError(db, rc, "read schema_version"));
  int64_t current = 0;
  {
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(raw, sqlite3_finalize);
    if (rc = sqlite3_step(stmt.get()); rc != SQLITE_ROW) {
      return fail(TranslateSqliteError(db, rc, "read schema_version"));
    }
    current = sqlite3_column_int64(stmt.get(), 0);
  }
  const int64_t latest = static_cast<int64_t>(kMigrations.size());
  if (current > latest) {
    return fail(FailedPrecondition(fmt::format(
        "sqlite: database schema version {} is newer than this mqlab's ({}); use a newer mqlab",
        current, latest)));
  }
  for (int64_t v = current + 1; v <= latest; ++v) {
    if (auto s = ExecSqliteScript(db, kMigrations[v - 1], fmt::format("migration {}", v)); !s) {
      return fail(s);
    }
    // v is a number we own, not a user value.
    std::string record = fmt::format(
        "INSERT INTO schema_version (version, applied_at) VALUES ({}, {})", v,
        ToUnixMicros(Clock::Real().Now()));
    if (auto s = ExecSqliteScript(db, record.c_str(), "record migration"); !s) return fail(s);
  }
  return ExecSqliteScript(db, "COMMIT", "commit migration");
}

}  // namespace

void SqliteStore::DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void SqliteStore::StmtFinalizer::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

SqliteStore::SqliteStore(std::unique_ptr<sqlite3, DbCloser> db) : db_(std::move(db)) {}
SqliteStore::~SqliteStore() = default;

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  if (options.path.empty()) return InvalidArgument("sqlite: no database path given");
  sqlite3* raw = nullptr;
  // NOMUTEX: the store's own mutex serialises every use of the connection.
  int rc = sqlite3_open_v2(options.path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) {
    return TranslateSqliteError(db.get(), rc, fmt::format("cannot open '{}'", options.path));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
  // journal_mode answers with a row ("wal", or "memory" for :memory:), so exec rather than step.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL"}) {
    if (auto s = ExecSqliteScript(db.get(), pragma, fmt::format("'{}' on '{}'", pragma, options.path));
        !s) {
      return std::unexpected(s.error());
    }
  }
  if (options.exclusive) {
    if (auto s = ExecSqliteScript(db.get(), "PRAGMA locking_mode = EXCLUSIVE",
                                  fmt::format("exclusive locking on '{}'", options.path));
        !s) {
      return std::unexpected(s.error());
    }
  }
  if (auto s = Migrate(db.get()); !s) return std::unexpected(s.error());
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(db)));
  if (auto s = store->PrepareAll(); !s) return std::unexpected(s.error());
  return store;
}

Status SqliteStore::PrepareAll() {
  static_assert(std::size(kStatementSql) == kNumStatements,
                "kStatementSql must list one SQL text per StatementId");
  std::lock_guard lock(mu_);
  for (int i = 0; i < kNumStatements; ++i) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db_.get(), kStatementSql[i], -1, SQLITE_PREPARE_PERSISTENT, &raw,
                                nullptr);
    if (rc != SQLITE_OK) return TranslateSqliteError(db_.get(), rc, kStatementSql[i]);
    statements_[i].reset(raw);
  }
  return Ok();
}

Result<std::optional<RowState>> SqliteStore::ReadState(std::string_view id) {
  SqliteUse use(statements_[kGetState].get());
  use.Text(1, id);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return std::optional<RowState>();
  if (rc != SQLITE_ROW) return TranslateSqliteError(db_.get(), rc, "read job state");
  auto status = StatusFrom(use.ColText(0));
  if (!status) return std::unexpected(status.error());
  return std::optional<RowState>(RowState{*status, static_cast<int>(use.ColInt(1))});
}

Status SqliteStore::Create(const Job& job) {
  if (!IsValidJobId(job.id)) return InvalidArgument(fmt::format("bad job id '{}'", job.id));
  std::lock_guard lock(mu_);
  SqliteUse use(statements_[kInsert].get());
  BindJob(use, job);
  if (int rc = use.Step(); rc != SQLITE_DONE) {
    return TranslateSqliteError(db_.get(), rc, fmt::format("create job {}", job.id));
  }
  return Ok();
}

Result<Job> SqliteStore::Get(std::string_view id) {
  std::lock_guard lock(mu_);
  SqliteUse use(statements_[kGet].get());
  use.Text(1, id);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return NotFound(fmt::format("job {} not found", id));
  if (rc != SQLITE_ROW) return TranslateSqliteError(db_.get(), rc, fmt::format("get job {}", id));
  return RowToJob(use);
}

Result<Job> SqliteStore::FindByIdempotencyKey(std::string_view version, std::string_view key) {
  std::lock_guard lock(mu_);
  SqliteUse use(statements_[kFindByKey].get());
  use.Text(1, version).Text(2, key);
  int rc = use.Step();
  if (rc == SQLITE_DONE) return NotFound(fmt::format("no {} job with this idempotency key", version));
  if (rc != SQLITE_ROW) return TranslateSqliteError(db_.get(), rc, "find job by idempotency key");
  return RowToJob(use);
}

Result<Job> SqliteStore::StartAttempt(const StartParams& p) {
  std::lock_guard lock(mu_);
  {
    SqliteUse use(statements_[kStart].get());
    use.Text(1, p.id).Text(2, p.worker_id).Time(3, p.now);
    int rc = use.Step();
    if (rc == SQLITE_ROW) return RowToJob(use);
    if (rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, fmt::format("start job {}", p.id));
  }
  auto state = ReadState(p.id);
  if (!state) return std::unexpected(state.error());
  return std::unexpected(ExplainStartMiss(p.id, *state).error());
}

Result<Status> SqliteStore::FinishLocked(const FinishParams& p) {
  {
    SqliteUse use(statements_[kFinish].get());
    use.Text(1, p.id).Int(2, p.attempt).Text(3, JobStatusName(p.outcome));
    use.Text(4, p.output_path).Text(5, p.error_message).Time(6, p.now);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, fmt::format("finish job {}", p.id));
    if (sqlite3_changes(db_.get()) == 1) return Result<Status>(std::in_place, Ok());
  }
  auto state = ReadState(p.id);
  if (!state) return std::unexpected(state.error());
  return Result<Status>(std::in_place, ExplainFinishMiss(p, *state));
}

Status SqliteStore::StepOnce(StatementId id, std::string_view what) {
  SqliteUse use(statements_[id].get());
  if (int rc = use.Step(); rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, what);
  return Ok();
}

Status SqliteStore::Finish(const FinishParams& p) {
  if (auto s = ValidateFinish(p); !s) return s;
  std::lock_guard lock(mu_);
  auto verdict = FinishLocked(p);
  if (!verdict) return std::unexpected(verdict.error());
  return *verdict;
}

// Items are applied in order inside one transaction, so each sees what the earlier ones did (two
// items for one job behave as two Finish calls). A database failure rolls the whole batch back
// and is every valid item's answer: none of them is applied, as if each Finish had failed.
std::vector<Status> SqliteStore::FinishMany(std::span<const FinishParams> params) {
  std::vector<Status> results;
  results.reserve(params.size());
  std::vector<size_t> valid;
  for (size_t i = 0; i < params.size(); ++i) {
    results.push_back(ValidateFinish(params[i]));
    if (results.back()) valid.push_back(i);
  }
  if (valid.empty()) return results;
  std::lock_guard lock(mu_);
  auto fail_all = [&](const Error& e) {
    for (size_t i : valid) results[i] = std::unexpected(e);
    return results;
  };
  if (auto s = StepOnce(kBegin, "begin finish batch"); !s) return fail_all(s.error());
  for (size_t i : valid) {
    auto verdict = FinishLocked(params[i]);
    if (!verdict) {
      (void)StepOnce(kRollback, "rollback finish batch");
      return fail_all(verdict.error());
    }
    results[i] = *verdict;
  }
  if (auto s = StepOnce(kCommit, "commit finish batch"); !s) {
    (void)StepOnce(kRollback, "rollback finish batch");
    return fail_all(s.error());
  }
  return results;
}

Status SqliteStore::Requeue(const RequeueParams& p) {
  std::lock_guard lock(mu_);
  {
    SqliteUse use(statements_[kRequeue].get());
    use.Text(1, p.id).Int(2, p.attempt).Text(3, p.error_message).Time(4, p.now);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, fmt::format("requeue job {}", p.id));
    if (sqlite3_changes(db_.get()) == 1) return Ok();
  }
  auto state = ReadState(p.id);
  if (!state) return std::unexpected(state.error());
  return ExplainRequeueMiss(p, *state);
}

Status SqliteStore::Reject(const RejectParams& p) {
  std::lock_guard lock(mu_);
  {
    SqliteUse use(statements_[kReject].get());
    use.Text(1, p.id).Text(2, p.error_message).Time(3, p.now);
    int rc = use.Step();
    if (rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, fmt::format("reject job {}", p.id));
    if (sqlite3_changes(db_.get()) == 1) return Ok();
  }
  auto state = ReadState(p.id);
  if (!state) return std::unexpected(state.error());
  return ExplainRejectMiss(p, *state);
}

Result<std::vector<std::string>> SqliteStore::Recover(const RecoverParams& p) {
  std::lock_guard lock(mu_);
  auto step_once = [this](StatementId id, std::string_view what) -> Status {
    SqliteUse use(statements_[id].get());
    if (int rc = use.Step(); rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, what);
    return Ok();
  };
  if (auto s = step_once(kBegin, "begin recover"); !s) return std::unexpected(s.error());
  auto body = [&]() -> Result<std::vector<std::string>> {
    {
      SqliteUse reset(statements_[kRecoverReset].get());
      reset.Text(1, p.version).Time(2, p.now);
      if (int rc = reset.Step(); rc != SQLITE_DONE) {
        return TranslateSqliteError(db_.get(), rc, "recover: reset RUNNING jobs");
      }
    }
    std::vector<std::string> ids;
    SqliteUse list(statements_[kRecoverList].get());
    list.Text(1, p.version).Int(2, static_cast<int64_t>(p.limit));
    int rc;
    while ((rc = list.Step()) == SQLITE_ROW) ids.push_back(list.ColText(0));
    if (rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, "recover: list jobs");
    return ids;
  };
  auto ids = body();
  if (!ids) {
    (void)step_once(kRollback, "rollback recover");
    return ids;
  }
  if (auto s = step_once(kCommit, "commit recover"); !s) {
    (void)step_once(kRollback, "rollback recover");
    return std::unexpected(s.error());
  }
  return ids;
}

Result<std::map<std::string, int64_t>> SqliteStore::CountByStatus(std::string_view version) {
  std::lock_guard lock(mu_);
  SqliteUse use(statements_[kCount].get());
  use.Text(1, version);
  std::map<std::string, int64_t> counts;
  int rc;
  while ((rc = use.Step()) == SQLITE_ROW) counts[use.ColText(0)] = use.ColInt(1);
  if (rc != SQLITE_DONE) return TranslateSqliteError(db_.get(), rc, "count jobs by status");
  return counts;
}

Status SqliteStore::Ping() {
  std::lock_guard lock(mu_);
  SqliteUse use(statements_[kPing].get());
  if (int rc = use.Step(); rc != SQLITE_ROW) return TranslateSqliteError(db_.get(), rc, "ping");
  return Ok();
}

}  // namespace mqlab::store
