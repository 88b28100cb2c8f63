// The SQL of the V3 queue (PostgresQueue), in one place, beside the schema it reads.
//
// The queue's rows are those of mqlab_jobs with version = the queue's version; the columns it
// reads and writes (run_after, lease_expires_at, lease_owner, queue_attempt, dead_letter_reason,
// dead_lettered_at) and its indexes come from the store's migrations
// (src/store/postgres/pg_store.cc, migration 2). Checklist: when those change, change these
// statements, and the state table in docs/notes-postgres.md.
//
// Every statement that only moves queue state (claim, settlements, heartbeat, rescue) commits
// with synchronous_commit off, set for its own transaction (MQLAB_PGQ_ASYNC): losing such a
// commit in a server crash only re-delivers a message (a claim undone) or lets a lease expire (a
// settlement undone), which at-least-once allows; and WAL is flushed in order, so the store's next
// synchronous commit (StartAttempt, Finish) makes it durable anyway. Enqueue's INSERT is the one
// queue write that must survive a crash, and it commits synchronously.
//
// Threading: the statements are immutable; PgConnection prepares each once per connection.
#ifndef MQLAB_QUEUE_POSTGRES_PG_QUEUE_SQL_H_
#define MQLAB_QUEUE_POSTGRES_PG_QUEUE_SQL_H_

#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/pg_pool.h"

namespace mqlab::queue::pgq {

// The channel every V3 queue notifies on; the payload is the queue's version, which listeners
// compare with their own (a notification for another queue costs one empty claim at most).
inline constexpr std::string_view kChannel = "mqlab_jobs";

struct QueueSql {
  // $1 id, $2 version, $3 request id, $4 enqueued at, $5 attempt, $6 channel.
  // → inserted (bool), the existing row's version (NULL if none), a NOTIFY when the row existed.
  store::PgStatement enqueue;
  store::PgStatement notify;  // $1 channel, $2 payload
  // $1 version, $2 lease token, $3 lease ms, $4 limit → rows of kMessageColumns.
  store::PgStatement claim;
  store::PgStatement ack;          // $1 id, $2 token
  store::PgStatement retry;        // $1 id, $2 token, $3 delay ms, $4 channel, $5 version
  store::PgStatement dead_letter;  // $1 id, $2 token, $3 reason
  store::PgStatement release;      // $1 id, $2 token, $3 channel, $4 version
  store::PgStatement heartbeat;    // $1 uuid[] literal, $2 text[] literal, $3 lease ms
  store::PgStatement rescue;       // $1 version, $2 limit → command tuples
  store::PgStatement depth;        // $1 version → count
  // $1 version, $2 limit → kMessageColumns, reason.
  store::PgStatement dead_letters;
};

const QueueSql& Sql();

// Column positions of a message row (claim, dead_letters).
enum MessageColumn { kIdCol = 0, kAttemptCol = 1, kEnqueuedAtCol = 2, kRequestIdCol = 3 };

// A PostgreSQL array literal of `items` ("{\"a\",\"b\"}"), each quoted and escaped: sent as one
// text parameter and cast in SQL (`$1::uuid[]`), so values never enter the SQL text.
std::string ArrayLiteral(const std::vector<std::string>& items);

}  // namespace mqlab::queue::pgq

#endif  // MQLAB_QUEUE_POSTGRES_PG_QUEUE_SQL_H_
