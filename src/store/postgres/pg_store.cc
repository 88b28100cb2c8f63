#include "store/postgres/pg_store.h"

#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace mqlab::store {
namespace {

// Schema migrations, applied in order by Open; mqlab_schema_version records each one applied.
//
// Checklist: when a column is added or changed here (a new migration, never an edit of an applied
// one), update together:
//   1. MQLAB_PG_JOB_COLUMNS (what every SELECT and RETURNING reads, in this order),
//   2. RowToJob (reads MQLAB_PG_JOB_COLUMNS by position),
//   3. Sql().insert and its parameters in PgStore::Create (writes every column),
//   4. the SQLite store (src/store/sqlite/sqlite_store.cc) and the Job struct (job.h),
//   5. the round-trip case of the conformance suite (src/store/store_conformance_test.h),
//   6. the V3 queue's claim (src/queue/postgres) if the column concerns claiming.
// Migration 2 is the V3 queue's: its columns are written only by src/queue/postgres (the store's
// Create leaves them at their defaults, Job does not carry them); when it changes, update
// src/queue/postgres/pg_queue_sql.cc and the state table in docs/notes-postgres.md.
constexpr std::array<const char*, 3> kMigrations = {
    // 1: the jobs table, which is also the V3 queue.
    R"sql(
CREATE TABLE IF NOT EXISTS mqlab_jobs (
  id               uuid        PRIMARY KEY,
  version          text        NOT NULL,
  status           text        NOT NULL
                   CHECK (status IN ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED')),
  input_path       text        NOT NULL,
  output_path      text        NOT NULL DEFAULT '',
  error_message    text        NOT NULL DEFAULT '',
  attempts         integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL DEFAULT 3,
  worker_id        text        NOT NULL DEFAULT '',
  request_id       text        NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL,
  updated_at       timestamptz NOT NULL,
  started_at       timestamptz,
  finished_at      timestamptz,
  -- V3 queue: a PENDING job may be claimed from run_after on (retry backoff); a claimed RUNNING
  -- job is its worker's until lease_expires_at, then the rescuer returns it.
  run_after        timestamptz NOT NULL DEFAULT now(),
  lease_expires_at timestamptz
)
-- Every transition rewrites the status, which the partial indexes below depend on: such updates
-- are never HOT, so dead tuples pile up at the head of the claim index and slow SKIP LOCKED
-- scans until VACUUM. Vacuum this table after 1% churn rather than the default 20%.
WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02);
-- V3 claim: the oldest runnable PENDING jobs.
CREATE INDEX IF NOT EXISTS mqlab_jobs_claim_idx ON mqlab_jobs (run_after)
  WHERE status = 'PENDING';
-- V3 rescuer: RUNNING jobs whose lease expired.
CREATE INDEX IF NOT EXISTS mqlab_jobs_lease_idx ON mqlab_jobs (lease_expires_at)
  WHERE status = 'RUNNING';
-- Recover and CountByStatus.
CREATE INDEX IF NOT EXISTS mqlab_jobs_version_status_idx
  ON mqlab_jobs (version, status, created_at);
)sql",
    // 2: the V3 queue's own columns (src/queue/postgres/pg_queue_sql.cc). queue_attempt is the
    // message's attempt (1, + 1 per Retry; the store's attempts counts starts); lease_owner is
    // the token of the delivery holding the row; a dead letter keeps its reason on the row.
    // The claim index holds only rows free to claim, per queue (version): a claimed row leaves it
    // at once, even while still PENDING, which migration 1's claim index did not do; the lease
    // index holds every leased row (PENDING or RUNNING) for the rescuer. Migration 1's two V3
    // indexes are dropped: nothing else reads them, and every index costs each non-HOT update.
    R"sql(
ALTER TABLE mqlab_jobs
  ADD COLUMN IF NOT EXISTS queue_attempt integer NOT NULL DEFAULT 1,
  ADD COLUMN IF NOT EXISTS lease_owner text,
  ADD COLUMN IF NOT EXISTS dead_letter_reason text,
  ADD COLUMN IF NOT EXISTS dead_lettered_at timestamptz;
DROP INDEX IF EXISTS mqlab_jobs_claim_idx;
DROP INDEX IF EXISTS mqlab_jobs_lease_idx;
CREATE INDEX IF NOT EXISTS mqlab_jobs_ready_idx ON mqlab_jobs (version, run_after)
  WHERE status = 'PENDING' AND lease_expires_at IS NULL;
CREATE INDEX IF NOT EXISTS mqlab_jobs_leased_idx ON mqlab_jobs (lease_expires_at)
  WHERE lease_expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS mqlab_jobs_dead_idx ON mqlab_jobs (version, dead_lettered_at)
  WHERE dead_letter_reason IS NOT NULL;
-- A queue table churns: vacuum it unthrottled, and after 1% of inserts too.
ALTER TABLE mqlab_jobs SET (autovacuum_vacuum_cost_delay = 0,
                            autovacuum_vacuum_insert_scale_factor = 0.01);
)sql",
    // 3: Idempotency-Key, unique per version while held (NULL: none, or released by Reject).
    R"sql(
ALTER TABLE mqlab_jobs ADD COLUMN IF NOT EXISTS idempotency_key text;
CREATE UNIQUE INDEX IF NOT EXISTS mqlab_jobs_idempotency_idx ON mqlab_jobs (version, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
)sql",
};

// Times are read back as unix microseconds: extract() is numeric in PostgreSQL 14+, so exact.
#define MQLAB_PG_MICROS(col) "(extract(epoch FROM " col ") * 1000000)::int8"
#define MQLAB_PG_JOB_COLUMNS                                                                    \
  "id::text, version, status, input_path, output_path, error_message, attempts, max_attempts, " \
  "worker_id, request_id, " MQLAB_PG_MICROS("created_at") ", " MQLAB_PG_MICROS(                 \
      "updated_at") ", " MQLAB_PG_MICROS("started_at") ", " MQLAB_PG_MICROS("finished_at") \
      ", coalesce(idempotency_key, '')"

struct Statements {
  PgStatement insert, get, find_by_key, state, states, start, finish, finish_many, requeue, reject,
      recover, count;
};

// Parameter kinds are fixed per statement (PgParams types them; texts are inferred, e.g. uuid).
const Statements& Sql() {
  static const Statements s = {
      .insert = {"mqlab_store_insert",
                 "INSERT INTO mqlab_jobs (id, version, status, input_path, output_path, "
                 "error_message, attempts, max_attempts, worker_id, request_id, created_at, "
                 "updated_at, started_at, finished_at, run_after, idempotency_key) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $11, "
                 "nullif($15, ''))"},
      .get = {"mqlab_store_get", "SELECT " MQLAB_PG_JOB_COLUMNS " FROM mqlab_jobs WHERE id = $1"},
      .find_by_key = {"mqlab_store_find_by_key",
                      "SELECT " MQLAB_PG_JOB_COLUMNS " FROM mqlab_jobs "
                      "WHERE version = $1 AND idempotency_key = $2"},
      .state = {"mqlab_store_state", "SELECT status, attempts FROM mqlab_jobs WHERE id = $1"},
      .states = {"mqlab_store_states",
                 "SELECT id::text, status, attempts FROM mqlab_jobs WHERE id = ANY($1::uuid[])"},
      // Committed without waiting for the WAL flush (synchronous_commit off for this statement
      // only, as the V3 queue's claim): the start sits on every job's path before predict, and
      // a flush costs 1-3 ms, a tenth of a 20 ms job. Safe because a start is confirmed by the
      // synchronous Finish that follows (WAL is written in order: Finish's flush carries the
      // start too), and a start lost in a server crash shows as "attempt never started" to the
      // worker's Finish, which then sends the job back instead of acknowledging it (worker.cc).
      .start = {"mqlab_store_start",
                "UPDATE mqlab_jobs SET status = 'RUNNING', attempts = attempts + 1, "
                "worker_id = $2, started_at = $3, updated_at = $3 "
                "WHERE (SELECT set_config('synchronous_commit', 'off', true)) = 'off' "
                "AND id = $1 AND status IN ('PENDING', 'RUNNING') "
                "RETURNING " MQLAB_PG_JOB_COLUMNS},
      .finish = {"mqlab_store_finish",
                 "UPDATE mqlab_jobs SET status = $3, output_path = $4, error_message = $5, "
                 "finished_at = $6, updated_at = $6, lease_expires_at = NULL "
                 "WHERE id = $1 AND status = 'RUNNING' AND attempts = $2"},
      // Finish for a batch: the same guard and columns, one row of the arrays per item (distinct
      // ids); RETURNING the items' ordinals (1-based) that changed their row. Arrays are text
      // literals (ArrayLiteral); times are ISO-8601 text with +00, exact to the microsecond.
      .finish_many = {"mqlab_store_finish_many",
                      "UPDATE mqlab_jobs AS j SET status = b.outcome, output_path = b.output_path, "
                      "error_message = b.error_message, finished_at = b.now, updated_at = b.now, "
                      "lease_expires_at = NULL "
                      "FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::text[], $5::text[], "
                      "$6::timestamptz[]) WITH ORDINALITY "
                      "AS b(id, attempt, outcome, output_path, error_message, now, ord) "
                      "WHERE j.id = b.id AND j.status = 'RUNNING' AND j.attempts = b.attempt "
                      "RETURNING b.ord"},
      // The V3 lease is left to the queue's Retry, which always follows: cleared here, the row
      // would be claimable before Retry sets its backoff (and if the worker dies in between, the
      // rescuer returns the row when the lease expires).
      .requeue = {"mqlab_store_requeue",
                  "UPDATE mqlab_jobs SET status = 'PENDING', error_message = $3, "
                  "updated_at = $4, run_after = $4 "
                  "WHERE id = $1 AND status = 'RUNNING' AND attempts = $2"},
      .reject = {"mqlab_store_reject",
                 "UPDATE mqlab_jobs SET status = 'FAILED', error_message = $2, "
                 "finished_at = $3, updated_at = $3, idempotency_key = NULL "
                 "WHERE id = $1 AND status = 'PENDING' AND attempts = 0"},
      // The data-modifying CTE runs once, whether read or not; the SELECT sees the rows as they
      // were (RUNNING or PENDING), which is the set to return.
      .recover = {"mqlab_store_recover",
                  "WITH reset AS (UPDATE mqlab_jobs SET status = 'PENDING', updated_at = $2, "
                  "lease_expires_at = NULL WHERE version = $1 AND status = 'RUNNING') "
                  "SELECT id::text FROM mqlab_jobs "
                  "WHERE version = $1 AND status IN ('PENDING', 'RUNNING') "
                  "ORDER BY created_at, id LIMIT $3"},
      .count = {"mqlab_store_count",
                "SELECT status, count(*) FROM mqlab_jobs WHERE version = $1 GROUP BY status"},
  };
  return s;
}

Result<JobStatus> StatusFrom(const std::string& text) {
  auto status = ParseJobStatus(text);
  if (!status) return Internal(fmt::format("postgres: unknown job status '{}' in database", text));
  return *status;
}

// Reads row `row` of a result with MQLAB_PG_JOB_COLUMNS.
Result<Job> RowToJob(const PGresult* r, int row) {
  Job job;
  job.id = PgText(r, row, 0);
  job.version = PgText(r, row, 1);
  auto status = StatusFrom(PgText(r, row, 2));
  if (!status) return std::unexpected(status.error());
  job.status = *status;
  job.input_path = PgText(r, row, 3);
  job.output_path = PgText(r, row, 4);
  job.error_message = PgText(r, row, 5);
  job.attempts = static_cast<int>(PgInt(r, row, 6));
  job.max_attempts = static_cast<int>(PgInt(r, row, 7));
  job.worker_id = PgText(r, row, 8);
  job.request_id = PgText(r, row, 9);
  job.created_at = PgMicrosTime(r, row, 10).value_or(WallTime{});
  job.updated_at = PgMicrosTime(r, row, 11).value_or(WallTime{});
  job.started_at = PgMicrosTime(r, row, 12);
  job.finished_at = PgMicrosTime(r, row, 13);
  job.idempotency_key = PgText(r, row, 14);
  return job;
}

Result<std::optional<RowState>> ReadState(PgConnection& conn, std::string_view id) {
  auto r = conn.Exec(Sql().state, PgParams().Text(id));
  if (!r) return std::unexpected(r.error());
  if (PQntuples(r->get()) == 0) return std::optional<RowState>();
  auto status = StatusFrom(PgText(r->get(), 0, 0));
  if (!status) return std::unexpected(status.error());
  return std::optional<RowState>(
      RowState{*status, static_cast<int>(PgInt(r->get(), 0, 1))});
}

// Runs a guarded UPDATE; if it changed no row, reads the row back and lets `explain` decide.
template <typename Explain>
Status GuardedUpdate(PgPool& pool, const PgStatement& st, const PgParams& params,
                     std::string_view id, Explain explain) {
  auto lease = pool.Acquire();
  if (!lease) return std::unexpected(lease.error());
  auto r = (*lease)->Exec(st, params);
  if (!r) return std::unexpected(r.error());
  if (std::string_view(PQcmdTuples(r->get())) == "1") return Ok();
  auto state = ReadState(**lease, id);
  if (!state) return std::unexpected(state.error());
  return explain(*state);
}

// A one-dimensional array literal of quoted elements, for a text-format array parameter: every
// element between double quotes, with backslash and double quote escaped (nothing else is
// special inside quotes), so any text (commas, braces, spaces, "NULL") is taken literally.
class ArrayLiteral {
 public:
  void Add(std::string_view v) {
    text_ += text_.empty() ? "{\"" : ",\"";
    for (char c : v) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  std::string Take() { return text_.empty() ? "{}" : std::move(text_) + "}"; }

 private:
  std::string text_;
};

// A timestamptz in text, exact to the microsecond and independent of DateStyle and TimeZone:
// "2026-11-26 02:33:16.123456+00".
std::string IsoMicros(WallTime t) {
  using namespace std::chrono;
  const sys_time<microseconds> us{microseconds(ToUnixMicros(t))};
  const sys_days day = floor<days>(us);
  const year_month_day ymd(day);
  const hh_mm_ss<microseconds> tod(us - day);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06lld+00",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(tod.hours().count()),
                static_cast<int>(tod.minutes().count()), static_cast<int>(tod.seconds().count()),
                static_cast<long long>(tod.subseconds().count()));
  return buf;
}

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Ids that are not UUIDs cannot name a job (the column is uuid): not found, as in SQLite.
Status CheckId(std::string_view id) {
  if (!IsValidJobId(id)) return NotFound(fmt::format("job {} not found", id));
  return Ok();
}

}  // namespace

PgStore::PgStore(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}
PgStore::~PgStore() = default;

Result<std::unique_ptr<PgStore>> PgStore::Open(const PgStoreOptions& options) {
  // 63 bytes: PostgreSQL's identifier limit (NAMEDATALEN - 1); longer names would be truncated.
  if (options.schema.empty() || options.schema.size() > 63) {
    return InvalidArgument(
        fmt::format("postgres: schema name '{}' must be 1 to 63 bytes", options.schema));
  }
  if (options.schema.starts_with("pg_")) {
    return InvalidArgument(fmt::format(
        "postgres: schema name '{}' is reserved (names starting with pg_ are PostgreSQL's)",
        options.schema));
  }
  auto pool = PgPool::Create({.url = options.url,
                              .schema = options.schema,
                              .pool_size = options.pool_size,
                              .acquire_timeout = options.acquire_timeout,
                              .connect_timeout_seconds = options.connect_timeout_seconds});
  if (!pool) return std::unexpected(pool.error());
  std::unique_ptr<PgStore> store(new PgStore(std::move(*pool)));
  if (auto s = store->Migrate(); !s) return std::unexpected(s.error());
  return store;
}

Status PgStore::Migrate() {
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  PgConnection& conn = **lease;
  if (auto r = conn.Exec("BEGIN"); !r) return std::unexpected(r.error());
  auto applied = ApplyMigrations(conn);
  if (!applied) {
    (void)conn.Exec("ROLLBACK");
    return std::unexpected(applied.error());
  }
  if (auto r = conn.Exec("COMMIT"); !r) return std::unexpected(r.error());
  return Ok();
}

// REQUIRES: inside a transaction on `conn`. Returns the schema version now in place.
Result<int> PgStore::ApplyMigrations(PgConnection& conn) {
  const std::string& schema = pool_->options().schema;
  // Serialises starters on this schema until COMMIT: the second one then finds the work done.
  if (auto r = conn.Exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                         PgParams().Text("mqlab.schema:" + schema));
      !r) {
    return std::unexpected(r.error());
  }
  // Create only what is missing: CREATE … IF NOT EXISTS would still need the CREATE privilege,
  // which a user of a shared cluster may lack once the schema exists.
  auto exists = conn.Exec("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
                          PgParams().Text(schema));
  if (!exists) return std::unexpected(exists.error());
  if (PQntuples(exists->get()) == 0) {
    auto quoted = conn.QuoteIdentifier(schema);
    if (!quoted) return std::unexpected(quoted.error());
    std::string create = "CREATE SCHEMA IF NOT EXISTS " + *quoted;  // an identifier, quoted
    if (auto r = conn.Exec(create.c_str()); !r) return std::unexpected(r.error());
  }
  auto table = conn.Exec("SELECT to_regclass('mqlab_schema_version') IS NOT NULL");
  if (!table) return std::unexpected(table.error());
  if (PgText(table->get(), 0, 0) != "t") {
    auto r = conn.Exec(
        "CREATE TABLE mqlab_schema_version (version integer PRIMARY KEY, "
        "applied_at timestamptz NOT NULL DEFAULT now())");
    if (!r) return std::unexpected(r.error());
  }
  auto current_r = conn.Exec("SELECT coalesce(max(version), 0) FROM mqlab_schema_version");
  if (!current_r) return std::unexpected(current_r.error());
  const int current = static_cast<int>(PgInt(current_r->get(), 0, 0));
  const int latest = static_cast<int>(kMigrations.size());
  if (current > latest) {
    return FailedPrecondition(fmt::format(
        "postgres: schema '{}' is at version {}, newer than this mqlab's ({}); use a newer mqlab "
        "or another schema",
        schema, current, latest));
  }
  for (int v = current + 1; v <= latest; ++v) {
    if (auto r = conn.Exec(kMigrations[v - 1]); !r) return std::unexpected(r.error());
    auto r = conn.Exec("INSERT INTO mqlab_schema_version (version) VALUES ($1)", PgParams().Int(v));
    if (!r) return std::unexpected(r.error());
  }
  return latest;
}

Status PgStore::Create(const Job& job) {
  if (!IsValidJobId(job.id)) return InvalidArgument(fmt::format("bad job id '{}'", job.id));
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  PgParams p;
  p.Text(job.id).Text(job.version).Text(JobStatusName(job.status)).Text(job.input_path);
  p.Text(job.output_path).Text(job.error_message).Int(job.attempts).Int(job.max_attempts);
  p.Text(job.worker_id).Text(job.request_id).Time(job.created_at).Time(job.updated_at);
  p.Time(job.started_at).Time(job.finished_at).Text(job.idempotency_key);
  if (auto r = (*lease)->Exec(Sql().insert, p); !r) return std::unexpected(r.error());
  return Ok();
}

Result<Job> PgStore::Get(std::string_view id) {
  if (auto s = CheckId(id); !s) return std::unexpected(s.error());
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  auto r = (*lease)->Exec(Sql().get, PgParams().Text(id));
  if (!r) return std::unexpected(r.error());
  if (PQntuples(r->get()) == 0) return NotFound(fmt::format("job {} not found", id));
  return RowToJob(r->get(), 0);
}

Result<Job> PgStore::FindByIdempotencyKey(std::string_view version, std::string_view key) {
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  auto r = (*lease)->Exec(Sql().find_by_key, PgParams().Text(version).Text(key));
  if (!r) return std::unexpected(r.error());
  if (PQntuples(r->get()) == 0) {
    return NotFound(fmt::format("no {} job with this idempotency key", version));
  }
  return RowToJob(r->get(), 0);
}

Result<Job> PgStore::StartAttempt(const StartParams& p) {
  if (auto s = CheckId(p.id); !s) return std::unexpected(s.error());
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  auto r = (*lease)->Exec(Sql().start, PgParams().Text(p.id).Text(p.worker_id).Time(p.now));
  if (!r) return std::unexpected(r.error());
  if (PQntuples(r->get()) == 1) return RowToJob(r->get(), 0);
  auto state = ReadState(**lease, p.id);
  if (!state) return std::unexpected(state.error());
  return std::unexpected(ExplainStartMiss(p.id, *state).error());
}

Status PgStore::Finish(const FinishParams& p) {
  if (auto s = ValidateFinish(p); !s) return s;
  if (auto s = CheckId(p.id); !s) return s;
  PgParams params;
  params.Text(p.id).Int(p.attempt).Text(JobStatusName(p.outcome)).Text(p.output_path);
  params.Text(p.error_message).Time(p.now);
  return GuardedUpdate(*pool_, Sql().finish, params, p.id,
                       [&](const auto& row) { return ExplainFinishMiss(p, row); });
}

// Items rejected before SQL (invalid, not a UUID) get Finish's answer; the first item of each id
// goes into one UPDATE (autocommit: one synchronous commit); an item it did not change is
// explained from one read of the rows, as Finish does after a miss. A later item naming an id
// already in the batch runs as a plain Finish after that commit, so it sees the state the earlier
// one left, exactly as sequential Finish calls would.
std::vector<Status> PgStore::FinishMany(std::span<const FinishParams> params) {
  std::vector<Status> results(params.size(), Ok());
  std::vector<size_t> batch;      // indexes of the items in the UPDATE, in order
  std::vector<size_t> repeats;    // indexes of later items for an id already in the UPDATE
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < params.size(); ++i) {
    const FinishParams& p = params[i];
    if (auto s = ValidateFinish(p); !s) {
      results[i] = s;
    } else if (auto c = CheckId(p.id); !c) {
      results[i] = c;
    } else if (!seen.insert(LowerAscii(p.id)).second) {
      repeats.push_back(i);
    } else {
      batch.push_back(i);
    }
  }
  if (!batch.empty()) {
    auto fail_batch = [&](const Error& e) {
      for (size_t i : batch) results[i] = std::unexpected(e);
    };
    ArrayLiteral ids, attempts, outcomes, outputs, errors, nows;
    for (size_t i : batch) {
      const FinishParams& p = params[i];
      ids.Add(p.id);
      attempts.Add(std::to_string(p.attempt));
      outcomes.Add(JobStatusName(p.outcome));
      outputs.Add(p.output_path);
      errors.Add(p.error_message);
      nows.Add(IsoMicros(p.now));
    }
    PgParams sql_params;
    sql_params.Text(ids.Take()).Text(attempts.Take()).Text(outcomes.Take());
    sql_params.Text(outputs.Take()).Text(errors.Take()).Text(nows.Take());
    auto lease = pool_->Acquire();
    if (!lease) {
      fail_batch(lease.error());
    } else if (auto r = (*lease)->Exec(Sql().finish_many, sql_params); !r) {
      fail_batch(r.error());
    } else {
      std::vector<bool> changed(batch.size(), false);
      for (int row = 0; row < PQntuples(r->get()); ++row) {
        const int64_t ord = PgInt(r->get(), row, 0);
        if (ord >= 1 && ord <= static_cast<int64_t>(batch.size())) changed[ord - 1] = true;
      }
      ArrayLiteral missed;
      bool any_missed = false;
      for (size_t k = 0; k < batch.size(); ++k) {
        if (!changed[k]) {
          missed.Add(params[batch[k]].id);
          any_missed = true;
        }
      }
      if (any_missed) {
        auto rows = (*lease)->Exec(Sql().states, PgParams().Text(missed.Take()));
        if (!rows) {
          for (size_t k = 0; k < batch.size(); ++k) {
            if (!changed[k]) results[batch[k]] = std::unexpected(rows.error());
          }
        } else {
          std::unordered_map<std::string, Result<RowState>> states;  // by lowercase id
          for (int row = 0; row < PQntuples(rows->get()); ++row) {
            auto status = StatusFrom(PgText(rows->get(), row, 1));
            Result<RowState> state =
                status ? Result<RowState>(RowState{*status, static_cast<int>(
                                                                PgInt(rows->get(), row, 2))})
                       : Result<RowState>(std::unexpected(status.error()));
            states.emplace(PgText(rows->get(), row, 0), std::move(state));
          }
          for (size_t k = 0; k < batch.size(); ++k) {
            if (changed[k]) continue;
            const FinishParams& p = params[batch[k]];
            auto it = states.find(LowerAscii(p.id));
            if (it == states.end()) {
              results[batch[k]] = ExplainFinishMiss(p, std::nullopt);
            } else if (!it->second) {
              results[batch[k]] = std::unexpected(it->second.error());
            } else {
              results[batch[k]] = ExplainFinishMiss(p, *it->second);
            }
          }
        }
      }
    }
  }
  for (size_t i : repeats) results[i] = Finish(params[i]);
  return results;
}

Status PgStore::Requeue(const RequeueParams& p) {
  if (auto s = CheckId(p.id); !s) return s;
  PgParams params;
  params.Text(p.id).Int(p.attempt).Text(p.error_message).Time(p.now);
  return GuardedUpdate(*pool_, Sql().requeue, params, p.id,
                       [&](const auto& row) { return ExplainRequeueMiss(p, row); });
}

Status PgStore::Reject(const RejectParams& p) {
  if (auto s = CheckId(p.id); !s) return s;
  PgParams params;
  params.Text(p.id).Text(p.error_message).Time(p.now);
  return GuardedUpdate(*pool_, Sql().reject, params, p.id,
                       [&](const auto& row) { return ExplainRejectMiss(p, row); });
}

Result<std::vector<std::string>> PgStore::Recover(const RecoverParams& p) {
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  auto r = (*lease)->Exec(
      Sql().recover,
      PgParams().Text(p.version).Time(p.now).Int(static_cast<int64_t>(p.limit)));
  if (!r) return std::unexpected(r.error());
  std::vector<std::string> ids;
  for (int i = 0; i < PQntuples(r->get()); ++i) ids.push_back(PgText(r->get(), i, 0));
  return ids;
}

Result<std::map<std::string, int64_t>> PgStore::CountByStatus(std::string_view version) {
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  auto r = (*lease)->Exec(Sql().count, PgParams().Text(version));
  if (!r) return std::unexpected(r.error());
  std::map<std::string, int64_t> counts;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    counts[PgText(r->get(), i, 0)] = PgInt(r->get(), i, 1);
  }
  return counts;
}

Status PgStore::Ping() {
  auto lease = pool_->Acquire();
  if (!lease) return std::unexpected(lease.error());
  if (auto r = (*lease)->Exec("SELECT 1"); !r) return std::unexpected(r.error());
  return Ok();
}

}  // namespace mqlab::store
