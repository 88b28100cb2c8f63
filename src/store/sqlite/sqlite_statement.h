// Plumbing shared by the SQLite code: the one translation of SQLite result codes into mqlab
// errors, and a helper that binds, steps and resets a cached prepared statement.
//
// Threading: none of its own; a statement belongs to whoever holds its connection's lock.
#ifndef MQLAB_STORE_SQLITE_SQLITE_STATEMENT_H_
#define MQLAB_STORE_SQLITE_SQLITE_STATEMENT_H_

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mqlab/common/clock.h"
#include "mqlab/common/status.h"

namespace mqlab::store {

// The one place SQLite result codes become mqlab errors (`db` may be null before it opened).
std::unexpected<Error> TranslateSqliteError(sqlite3* db, int rc, std::string_view what);

// Runs SQL without parameters (several statements allowed).
Status ExecSqliteScript(sqlite3* db, const char* sql, std::string_view what);

// One use of a cached statement: binds, steps, and resets it when it goes out of scope.
class SqliteUse {
 public:
  explicit SqliteUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~SqliteUse();
  SqliteUse(const SqliteUse&) = delete;
  SqliteUse& operator=(const SqliteUse&) = delete;

  // Binders (1-based, as SQLite's ?N); a failure shows in Step().
  SqliteUse& Text(int i, std::string_view v);
  SqliteUse& Int(int i, int64_t v);
  SqliteUse& Time(int i, WallTime t);  // INTEGER unix microseconds
  SqliteUse& Time(int i, const std::optional<WallTime>& t);  // NULL when absent

  // SQLITE_ROW, SQLITE_DONE or an error code (the first failed bind, if any).
  int Step();

  // Readers of the current row (0-based columns).
  std::string ColText(int col) const;
  int64_t ColInt(int col) const;
  std::optional<WallTime> ColTime(int col) const;

 private:
  void Check(int rc);
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

}  // namespace mqlab::store

#endif  // MQLAB_STORE_SQLITE_SQLITE_STATEMENT_H_
