// SqliteStore: the JobStore of the embedded mode (`mqlab serve`), on one SQLite file.
//
// Design:
//  - One connection, opened in WAL mode with synchronous=NORMAL: a commit survives a crash of the
//    process; a power cut may lose the last transactions (never corrupts the file). The study's
//    embedded runs measure queueing, not fsync latency, so this is the trade a lab wants.
//  - Every statement is prepared once and cached; a mutex serialises all use of the connection.
//    A call holds the mutex for microseconds (no network), so one connection outruns the workers
//    it serves; a pool of WAL readers is the next step if a profile ever says otherwise.
//  - Transitions are conditional UPDATEs (… WHERE status … AND attempts …) checked with changes(),
//    then read back and explained by store/transitions.h, as job_store.h states. They are guarded
//    in SQL, not only by the mutex, so a second process on the same file cannot break them.
//  - Times are INTEGER unix microseconds; ids are stored lowercase.
//  - The schema is created or migrated by Open (table schema_version), inside one IMMEDIATE
//    transaction, so two processes opening a fresh file do not race.
//
// Thread-safety: every method may be called from any thread concurrently.
#ifndef MQLAB_STORE_SQLITE_SQLITE_STORE_H_
#define MQLAB_STORE_SQLITE_SQLITE_STORE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "mqlab/store/job_store.h"
#include "store/transitions.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mqlab::store {

struct SqliteStoreOptions {
  // Path of the database file, created if absent; its folder must exist.
  // ":memory:" gives a private in-memory database (tests). Default: none, required.
  std::string path;
  // How long a statement waits for a lock held by another process before kUnavailable.
  // Default: 5 s (covers a checkpoint of a large WAL without failing a request).
  std::chrono::milliseconds busy_timeout{5000};
  // Hold the file's lock for the store's lifetime (locking_mode=EXCLUSIVE): one process owns the
  // database, as `mqlab serve` does, and saves the POSIX lock/unlock pair every transaction costs
  // (~4% of serve's CPU in a profile). Other processes cannot read the file meanwhile.
  // Default: false.
  bool exclusive = false;
};

class SqliteStore final : public JobStore {
 public:
  // Opens (creating if needed) the database and brings its schema to the current version.
  // Errors: kInvalidArgument (bad path, or not a database), kFailedPrecondition (the file was
  // written by a newer mqlab), kUnavailable (locked or I/O error).
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);
  ~SqliteStore() override;

  Status Create(const Job& job) override;
  Result<Job> Get(std::string_view id) override;
  Result<Job> FindByIdempotencyKey(std::string_view version, std::string_view key) override;
  Result<Job> StartAttempt(const StartParams& params) override;
  Status Finish(const FinishParams& params) override;
  // One IMMEDIATE transaction running Finish's statement per item: one commit for the batch.
  std::vector<Status> FinishMany(std::span<const FinishParams> params) override;
  Status Requeue(const RequeueParams& params) override;
  Status Reject(const RejectParams& params) override;
  Result<std::vector<std::string>> Recover(const RecoverParams& params) override;
  Result<std::map<std::string, int64_t>> CountByStatus(std::string_view version) override;
  Status Ping() override;

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const;
  };
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const;
  };
  using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

  // The cached statements; their SQL is in sqlite_store.cc (kStatementSql, same order).
  enum StatementId {
    kInsert, kGet, kFindByKey, kGetState, kStart, kFinish, kRequeue, kReject, kRecoverReset, kRecoverList, kCount,
    kBegin, kCommit, kRollback, kPing, kNumStatements
  };

  explicit SqliteStore(std::unique_ptr<sqlite3, DbCloser> db);
  Status PrepareAll();
  // The status and attempts of a job, nullopt if absent. REQUIRES: mu_ held.
  Result<std::optional<RowState>> ReadState(std::string_view id);
  // Finish's statement and, on a miss, its explanation. The outer error is a database failure
  // (the caller's transaction, if any, must roll back); the inner Status is Finish's verdict.
  // REQUIRES: mu_ held, params validated.
  Result<Status> FinishLocked(const FinishParams& params);
  // Steps a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK). REQUIRES: mu_ held.
  Status StepOnce(StatementId id, std::string_view what);

  std::mutex mu_;
  std::unique_ptr<sqlite3, DbCloser> db_;  // guarded by mu_
  StmtPtr statements_[kNumStatements];  // guarded by mu_
};

}  // namespace mqlab::store

#endif  // MQLAB_STORE_SQLITE_SQLITE_STORE_H_
