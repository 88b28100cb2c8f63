#include "queue/postgres/pg_queue_sql.h"

namespace mqlab::queue::pgq {

// Times are read back as unix microseconds (exact: extract() is numeric in PostgreSQL 14+).
#define MQLAB_PGQ_MICROS(col) "(extract(epoch FROM " col ") * 1000000)::int8"
// A message row, in MessageColumn order: the row is the message.
#define MQLAB_PGQ_MESSAGE "id::text, queue_attempt, " MQLAB_PGQ_MICROS("run_after") ", request_id"
// Commits this statement's implicit transaction without waiting for the WAL flush (see the header
// comment). An uncorrelated subquery: the planner runs it once, as a one-time filter, before any
// row is touched.
#define MQLAB_PGQ_ASYNC "(SELECT set_config('synchronous_commit', 'off', true)) = 'off'"
#define MQLAB_PGQ_HELD "status IN ('PENDING', 'RUNNING')"

const QueueSql& Sql() {
  static const QueueSql s = {
      // The row usually exists (the API stored it just before): then nothing is written, the
      // transaction gets no xid and commits without a flush, and the NOTIFY rides along. When it
      // does not, a minimal PENDING row is inserted, durably, and the caller notifies in a second
      // transaction: a NOTIFY in a writing transaction holds the cluster-wide notify lock across
      // the commit's flush, which serialises all such commits (measured: 250 vs 1,100 inserts/s
      // with 4 clients on this machine).
      .enqueue = {"mqlab_pgq_enqueue",
                  "WITH ins AS (INSERT INTO mqlab_jobs (id, version, status, input_path, "
                  "request_id, created_at, updated_at, run_after, queue_attempt) "
                  "VALUES ($1, $2, 'PENDING', '', $3, $4, $4, now(), $5) "
                  "ON CONFLICT (id) DO NOTHING RETURNING 1), "
                  "cur AS (SELECT version FROM mqlab_jobs WHERE id = $1) "
                  "SELECT EXISTS (SELECT 1 FROM ins), (SELECT version FROM cur), "
                  "CASE WHEN NOT EXISTS (SELECT 1 FROM ins) AND (SELECT version FROM cur) = $2 "
                  "THEN pg_notify($6, $2)::text END"},
      .notify = {"mqlab_pgq_notify", "SELECT pg_notify($1, $2)"},
      // FOR UPDATE SKIP LOCKED: concurrent claims take different rows instead of queueing on
      // the same one. The subquery reads mqlab_jobs_ready_idx (version, run_after) from its head.
      .claim = {"mqlab_pgq_claim",
                "UPDATE mqlab_jobs SET lease_owner = $2, "
                "lease_expires_at = now() + $3 * interval '1 millisecond' "
                "WHERE " MQLAB_PGQ_ASYNC " AND id = ANY(ARRAY("
                "SELECT id FROM mqlab_jobs WHERE version = $1 AND status = 'PENDING' "
                "AND lease_expires_at IS NULL AND run_after <= now() "
                "ORDER BY run_after LIMIT $4 FOR UPDATE SKIP LOCKED)) "
                "RETURNING " MQLAB_PGQ_MESSAGE},
      // After the store's Finish the row is SUCCESS/FAILED with no lease: nothing to write (no
      // tuple, no flush). Only a row still PENDING/RUNNING (acked without the store, as the
      // conformance suite does) is marked settled: a lease that never expires.
      .ack = {"mqlab_pgq_ack",
              "UPDATE mqlab_jobs SET lease_expires_at = 'infinity' WHERE " MQLAB_PGQ_ASYNC
              " AND id = $1 AND lease_owner = $2 AND " MQLAB_PGQ_HELD
              " AND lease_expires_at IS NOT NULL"},
      // RUNNING → PENDING too: the worker retries without the store's Requeue when the store was
      // unreachable, and a RUNNING row without a lease would be claimable by no one.
      .retry = {"mqlab_pgq_retry",
                "WITH r AS (UPDATE mqlab_jobs SET status = 'PENDING', "
                "run_after = now() + $3 * interval '1 millisecond', "
                "queue_attempt = queue_attempt + 1, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE " MQLAB_PGQ_ASYNC " AND id = $1 AND lease_owner = "
                "$2 AND " MQLAB_PGQ_HELD " RETURNING 1) "
                "SELECT CASE WHEN $3 <= 0 THEN pg_notify($4, $5)::text END FROM r"},
      // A finished row records its dead letter whoever holds the lease (the job is over).
      .dead_letter = {"mqlab_pgq_dead_letter",
                      "UPDATE mqlab_jobs SET dead_letter_reason = $3, dead_lettered_at = now(), "
                      "lease_expires_at = CASE WHEN " MQLAB_PGQ_HELD
                      " THEN 'infinity'::timestamptz END WHERE " MQLAB_PGQ_ASYNC
                      " AND id = $1 AND (lease_owner = $2 OR status IN ('SUCCESS', 'FAILED'))"},
      .release = {"mqlab_pgq_release",
                  "WITH r AS (UPDATE mqlab_jobs SET status = 'PENDING', lease_owner = NULL, "
                  "lease_expires_at = NULL, updated_at = CASE WHEN status = 'RUNNING' THEN now() "
                  "ELSE updated_at END WHERE " MQLAB_PGQ_ASYNC " AND id = $1 AND lease_owner = $2 "
                  "AND " MQLAB_PGQ_HELD " AND lease_expires_at <> 'infinity' RETURNING 1) "
                  "SELECT pg_notify($3, $4)::text FROM r"},
      .heartbeat = {"mqlab_pgq_heartbeat",
                    "UPDATE mqlab_jobs j "
                    "SET lease_expires_at = now() + $3 * interval '1 millisecond' "
                    "FROM unnest($1::uuid[], $2::text[]) AS h(id, owner) "
                    "WHERE " MQLAB_PGQ_ASYNC " AND j.id = h.id AND j.lease_owner = h.owner "
                    "AND j." MQLAB_PGQ_HELD " AND j.lease_expires_at IS NOT NULL AND j.lease_expires_at <> 'infinity'"},
      // Expired leases (their consumer died): back to PENDING, free, claimable at once. Reads
      // mqlab_jobs_leased_idx from its head; 'infinity' (settled) never expires.
      .rescue = {"mqlab_pgq_rescue",
                 "UPDATE mqlab_jobs SET status = 'PENDING', lease_owner = NULL, "
                 "lease_expires_at = NULL, updated_at = CASE WHEN status = 'RUNNING' THEN now() "
                 "ELSE updated_at END WHERE " MQLAB_PGQ_ASYNC " AND id = ANY(ARRAY("
                 "SELECT id FROM mqlab_jobs WHERE lease_expires_at < now() AND version = $1 "
                 "AND " MQLAB_PGQ_HELD " LIMIT $2 FOR UPDATE SKIP LOCKED))"},
      .depth = {"mqlab_pgq_depth",
                "SELECT count(*) FROM mqlab_jobs WHERE version = $1 AND status = 'PENDING' "
                "AND lease_expires_at IS NULL"},
      .dead_letters = {"mqlab_pgq_dead_letters",
                       "SELECT " MQLAB_PGQ_MESSAGE ", dead_letter_reason FROM mqlab_jobs "
                       "WHERE version = $1 AND dead_letter_reason IS NOT NULL "
                       "ORDER BY dead_lettered_at, id LIMIT $2"},
  };
  return s;
}

std::string ArrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace mqlab::queue::pgq
