#include "store/sqlite/sqlite_statement.h"

#include <fmt/format.h>

#include <utility>

namespace mqlab::store {

std::unexpected<Error> TranslateSqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = fmt::format("sqlite: {}: {}", what,
                                    db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return MakeError(ErrorCode::kAlreadyExists, std::move(message));
      }
      return InvalidArgument(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return Unavailable(std::move(message));
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return ResourceExhausted(std::move(message));
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return InvalidArgument(std::move(message));
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return FailedPrecondition(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

Status ExecSqliteScript(sqlite3* db, const char* sql, std::string_view what) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return TranslateSqliteError(db, rc, what);
  return Ok();
}

SqliteUse::~SqliteUse() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

SqliteUse& SqliteUse::Text(int i, std::string_view v) {
  // A string_view may have data() == nullptr, which SQLite would bind as NULL.
  Check(sqlite3_bind_text(stmt_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()),
                          SQLITE_TRANSIENT));
  return *this;
}

SqliteUse& SqliteUse::Int(int i, int64_t v) {
  Check(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

SqliteUse& SqliteUse::Time(int i, WallTime t) { return Int(i, ToUnixMicros(t)); }

SqliteUse& SqliteUse::Time(int i, const std::optional<WallTime>& t) {
  if (t) return Time(i, *t);
  Check(sqlite3_bind_null(stmt_, i));
  return *this;
}

int SqliteUse::Step() { return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_); }

std::string SqliteUse::ColText(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
           : std::string();
}

int64_t SqliteUse::ColInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::optional<WallTime> SqliteUse::ColTime(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return FromUnixMicros(ColInt(col));
}

void SqliteUse::Check(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

}  // namespace mqlab::store
