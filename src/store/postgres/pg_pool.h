// PgPool: a small pool of libpq connections, and the few helpers every PostgreSQL adapter needs
// (parameters, lazily prepared statements, the one translation of libpq errors).
//
// Design:
//  - Values reach the server only as parameters (PQexecParams / PQexecPrepared), never spliced
//    into SQL text; identifiers (a schema name) go through PQescapeIdentifier.
//  - Times are sent in binary (timestamptz, microseconds since 2000-01-01): exact, no formatting.
//  - Up to pool_size connections, opened on demand; Create opens the first at once so that a
//    missing server fails fast, with a message naming the URL (password redacted) and saying how
//    to start one. Acquire blocks until a connection is free, up to acquire_timeout, then
//    kUnavailable: the pool is the bound on concurrent queries, so waiting there is backpressure.
//  - Every connection sets search_path to the configured schema when it opens.
//  - A connection whose PQstatus is bad (server restarted, backend killed) is dropped when its
//    lease ends or when it is acquired, and replaced by a new one on the next Acquire. The failed
//    call itself returns kUnavailable and is not retried here: only the caller knows whether its
//    statement is safe to run twice.
//
// Threading: a PgPool is thread-safe. A Lease, and the PgConnection it lends, belong to one thread
// at a time (libpq connections are not thread-safe). The pool must outlive its leases.
#ifndef MQLAB_STORE_POSTGRES_PG_POOL_H_
#define MQLAB_STORE_POSTGRES_PG_POOL_H_

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "mqlab/common/clock.h"
#include "mqlab/common/status.h"

namespace mqlab::store {

struct PgPoolOptions {
  // libpq connection URL (postgresql://user@host:port/db) or key=value string.
  // Default: none, required.
  std::string url;
  // Schema every connection works in (search_path); quoted, so any name is safe.
  // Default: "public".
  std::string schema = "public";
  // Connections kept open at most. Default: 4 (as many as the cores of a small machine, doubled).
  int pool_size = 4;
  // How long Acquire waits for a free connection before kUnavailable. Default: 10 s.
  std::chrono::milliseconds acquire_timeout{10000};
  // libpq connect_timeout, unless the URL sets its own: a missing server fails in this time at
  // worst (a refused connection on loopback fails at once). Default: 5 s.
  int connect_timeout_seconds = 5;
  // Shown in pg_stat_activity. Default: "mqlab".
  std::string application_name = "mqlab";
};

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

// The parameters of one statement, built in order ($1, $2, ...).
class PgParams {
 public:
  PgParams& Text(std::string_view v);
  PgParams& Int(int64_t v);
  PgParams& Time(WallTime t);  // timestamptz
  PgParams& Time(const std::optional<WallTime>& t);
  PgParams& Null();

  int size() const { return static_cast<int>(storage_.size()); }
  const Oid* types() const { return types_.data(); }
  const int* formats() const { return formats_.data(); }
  const int* lengths() const { return lengths_.data(); }
  // Pointers into this object: valid until the next Add.
  std::vector<const char*> values() const;

 private:
  PgParams& Add(std::string value, Oid type, int format, bool null);
  std::vector<std::string> storage_;
  std::vector<bool> null_;
  std::vector<Oid> types_;
  std::vector<int> formats_;
  std::vector<int> lengths_;
};

// A statement prepared on each connection the first time it runs there. `name` must be unique
// per process and the parameter kinds the same on every call.
struct PgStatement {
  std::string name;
  std::string sql;
};

// One libpq connection and the statements prepared on it. Errors come back translated; a result
// is returned only for PGRES_COMMAND_OK / PGRES_TUPLES_OK.
class PgConnection {
 public:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}

  PGconn* get() const { return conn_.get(); }
  bool healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

  // Runs SQL without parameters (may hold several statements: DDL, BEGIN, COMMIT).
  Result<PgResult> Exec(const char* sql);
  Result<PgResult> Exec(const char* sql, const PgParams& params);
  Result<PgResult> Exec(const PgStatement& statement, const PgParams& params);
  // `name` quoted as an SQL identifier ("my schema" -> "\"my schema\"").
  Result<std::string> QuoteIdentifier(std::string_view name);

 private:
  struct Closer {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  Result<PgResult> Check(PGresult* raw, std::string_view what);
  std::unique_ptr<PGconn, Closer> conn_;
  std::unordered_set<std::string> prepared_;
};

class PgPool {
 public:
  // A borrowed connection, returned to the pool (or dropped, if broken) when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PgConnection* operator->() const { return conn_.get(); }
    PgConnection& operator*() const { return *conn_; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn);
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  // Opens the first connection at once. kUnavailable, with advice, if the server is unreachable.
  static Result<std::unique_ptr<PgPool>> Create(const PgPoolOptions& options);
  ~PgPool();

  // Blocks until a connection is free (up to acquire_timeout), reconnecting a broken one.
  Result<Lease> Acquire();

  const PgPoolOptions& options() const { return options_; }
  // The URL with any password replaced by "***", for messages and logs.
  const std::string& redacted_url() const { return redacted_url_; }

 private:
  explicit PgPool(const PgPoolOptions& options);
  Result<std::unique_ptr<PgConnection>> Connect();
  void Release(std::unique_ptr<PgConnection> conn);

  const PgPoolOptions options_;
  const std::string redacted_url_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<PgConnection>> idle_;  // guarded by mu_
  int open_ = 0;  // connections idle or leased, guarded by mu_
};

// The one place libpq errors become mqlab errors. `result` may be null (connection-level error).
std::unexpected<Error> TranslatePgError(PGconn* conn, const PGresult* result,
                                        std::string_view what);

// `url` with the password (user:PASSWORD@ or password=...) replaced by "***".
std::string RedactPgUrl(std::string_view url);

// Decoders for text-format result values.
std::string PgText(const PGresult* r, int row, int col);
int64_t PgInt(const PGresult* r, int row, int col);
std::optional<WallTime> PgMicrosTime(const PGresult* r, int row, int col);  // int8 unix micros

}  // namespace mqlab::store

#endif  // MQLAB_STORE_POSTGRES_PG_POOL_H_
