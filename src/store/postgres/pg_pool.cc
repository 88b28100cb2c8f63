#include "store/postgres/pg_pool.h"

#include <fmt/format.h>

#include <charconv>
#include <utility>

namespace mqlab::store {
namespace {

// Type OIDs from pg_type (stable across PostgreSQL versions).
constexpr Oid kInt8Oid = 20;
constexpr Oid kTimestamptzOid = 1184;
// PostgreSQL's epoch (2000-01-01 UTC) in unix microseconds: binary timestamps count from it.
constexpr int64_t kPgEpochUnixMicros = 946684800LL * 1000000;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Replaces the value after `key=` (a URL query or a key=value conninfo), up to '&' or a space,
// or a quoted '…' value, with ***.
std::string RedactKeyValue(std::string s, std::string_view key) {
  for (size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + 1)) {
    if (pos > 0 && s[pos - 1] != ' ' && s[pos - 1] != '?' && s[pos - 1] != '&') continue;
    size_t eq = pos + key.size();
    while (eq < s.size() && s[eq] == ' ') ++eq;
    if (eq >= s.size() || s[eq] != '=') continue;
    size_t begin = eq + 1;
    while (begin < s.size() && s[begin] == ' ') ++begin;
    size_t end = begin;
    if (end < s.size() && s[end] == '\'') {
      for (++end; end < s.size() && s[end] != '\''; ++end) {
        if (s[end] == '\\') ++end;
      }
      if (end < s.size()) ++end;
    } else {
      while (end < s.size() && s[end] != '&' && s[end] != ' ') ++end;
    }
    s.replace(begin, end - begin, "***");
  }
  return s;
}

}  // namespace

std::string RedactPgUrl(std::string_view url) {
  std::string s(url);
  for (std::string_view scheme : {"postgresql://", "postgres://"}) {
    if (!s.starts_with(scheme)) continue;
    size_t begin = scheme.size();
    size_t end = s.find_first_of("/?", begin);
    if (end == std::string::npos) end = s.size();
    size_t at = s.rfind('@', end - 1);
    if (at != std::string::npos && at >= begin) {
      size_t colon = s.find(':', begin);
      if (colon != std::string::npos && colon < at) s.replace(colon + 1, at - colon - 1, "***");
    }
    break;
  }
  return RedactKeyValue(std::move(s), "password");
}

std::unexpected<Error> TranslatePgError(PGconn* conn, const PGresult* result,
                                        std::string_view what) {
  std::string detail = Trim(result != nullptr ? PQresultErrorMessage(result)
                                              : (conn != nullptr ? PQerrorMessage(conn) : ""));
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state != nullptr ? state : "";
  std::string message = fmt::format("postgres: {}: {}{}", what, detail,
                                    sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")");
  if (conn != nullptr && PQstatus(conn) == CONNECTION_BAD) return Unavailable(std::move(message));
  std::string_view klass = std::string_view(sqlstate).substr(0, std::min<size_t>(2, sqlstate.size()));
  if (sqlstate == "23505") return MakeError(ErrorCode::kAlreadyExists, std::move(message));
  if (sqlstate == "57014") return DeadlineExceeded(std::move(message));  // statement_timeout
  if (sqlstate == "53300" || sqlstate == "55P03") return Unavailable(std::move(message));
  // 08 connection, 40 serialization failure / deadlock (retry the call), 57P0x shutting down.
  if (klass == "08" || klass == "40" || klass == "57") return Unavailable(std::move(message));
  if (klass == "53") return ResourceExhausted(std::move(message));  // disk full, out of memory
  if (klass == "22" || klass == "23") return InvalidArgument(std::move(message));
  if (klass == "28") return FailedPrecondition(std::move(message));  // authentication
  return Internal(std::move(message));
}

// --- PgParams ---

PgParams& PgParams::Add(std::string value, Oid type, int format, bool null) {
  lengths_.push_back(static_cast<int>(value.size()));
  storage_.push_back(std::move(value));
  types_.push_back(type);
  formats_.push_back(format);
  null_.push_back(null);
  return *this;
}

// Text parameters are sent untyped (Oid 0): the server infers the column's type (text, uuid).
PgParams& PgParams::Text(std::string_view v) { return Add(std::string(v), 0, 0, false); }
PgParams& PgParams::Int(int64_t v) { return Add(std::to_string(v), kInt8Oid, 0, false); }
PgParams& PgParams::Null() { return Add("", 0, 0, true); }

PgParams& PgParams::Time(WallTime t) {
  uint64_t v = static_cast<uint64_t>(ToUnixMicros(t) - kPgEpochUnixMicros);
  std::string be(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) be[i] = static_cast<char>(v & 0xff);
  return Add(std::move(be), kTimestamptzOid, 1, false);
}

PgParams& PgParams::Time(const std::optional<WallTime>& t) {
  return t ? Time(*t) : Add("", kTimestamptzOid, 1, true);
}

std::vector<const char*> PgParams::values() const {
  std::vector<const char*> out(storage_.size());
  for (size_t i = 0; i < storage_.size(); ++i) out[i] = null_[i] ? nullptr : storage_[i].data();
  return out;
}

// --- result decoding ---

std::string PgText(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}

int64_t PgInt(const PGresult* r, int row, int col) {
  int64_t v = 0;
  const char* p = PQgetvalue(r, row, col);
  std::from_chars(p, p + PQgetlength(r, row, col), v);
  return v;
}

std::optional<WallTime> PgMicrosTime(const PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return std::nullopt;
  return FromUnixMicros(PgInt(r, row, col));
}

// --- PgConnection ---

Result<PgResult> PgConnection::Check(PGresult* raw, std::string_view what) {
  PgResult result(raw);
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
  return TranslatePgError(conn_.get(), result.get(), what);
}

Result<PgResult> PgConnection::Exec(const char* sql) { return Check(PQexec(get(), sql), sql); }

Result<PgResult> PgConnection::Exec(const char* sql, const PgParams& p) {
  auto values = p.values();
  return Check(PQexecParams(get(), sql, p.size(), p.types(), values.data(), p.lengths(),
                            p.formats(), 0),
               sql);
}

Result<PgResult> PgConnection::Exec(const PgStatement& st, const PgParams& p) {
  if (!prepared_.contains(st.name)) {
    auto prepared =
        Check(PQprepare(get(), st.name.c_str(), st.sql.c_str(), p.size(), p.types()), st.sql);
    if (!prepared) return prepared;
    prepared_.insert(st.name);
  }
  auto values = p.values();
  return Check(PQexecPrepared(get(), st.name.c_str(), p.size(), values.data(), p.lengths(),
                              p.formats(), 0),
               st.name);
}

Result<std::string> PgConnection::QuoteIdentifier(std::string_view name) {
  char* quoted = PQescapeIdentifier(get(), name.data(), name.size());
  if (quoted == nullptr) return TranslatePgError(get(), nullptr, "quote identifier");
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

// --- PgPool ---

PgPool::Lease::Lease(PgPool* pool, std::unique_ptr<PgConnection> conn)
    : pool_(pool), conn_(std::move(conn)) {}
PgPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)) {}
PgPool::Lease::~Lease() {
  if (conn_) pool_->Release(std::move(conn_));
}

PgPool::PgPool(const PgPoolOptions& options)
    : options_(options), redacted_url_(RedactPgUrl(options.url)) {}
PgPool::~PgPool() = default;

Result<std::unique_ptr<PgPool>> PgPool::Create(const PgPoolOptions& options) {
  if (options.url.empty()) {
    return InvalidArgument(
        "postgres: no URL given; set MQLAB_POSTGRES_URL (`mqlab services up postgres` starts a "
        "local server and prints it)");
  }
  if (options.pool_size < 1) return InvalidArgument("postgres: pool_size must be at least 1");
  std::unique_ptr<PgPool> pool(new PgPool(options));
  auto first = pool->Connect();
  if (!first) return std::unexpected(first.error());
  std::lock_guard lock(pool->mu_);
  pool->idle_.push_back(std::move(*first));
  pool->open_ = 1;
  return pool;
}

Result<std::unique_ptr<PgConnection>> PgPool::Connect() {
  std::string timeout = std::to_string(options_.connect_timeout_seconds);
  // Later keywords override earlier ones, so the URL (dbname, expanded) wins over our defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), options_.application_name.c_str(),
                          options_.url.c_str(), nullptr};
  auto conn = std::make_unique<PgConnection>(PQconnectdbParams(keys, values, 1));
  if (conn->get() == nullptr || !conn->healthy()) {
    std::string why = conn->get() ? Trim(PQerrorMessage(conn->get())) : "out of memory";
    return Unavailable(fmt::format(
        "postgres: cannot connect to {}: {}\nTo start a private server: `mqlab services up "
        "postgres` (it prints MQLAB_POSTGRES_URL and writes it to .mqlab/services.env); or set "
        "MQLAB_POSTGRES_URL to your own server's URL",
        redacted_url_, why));
  }
  // Server notices (e.g. "drop cascades to …") would go to stderr; errors still come back.
  PQsetNoticeProcessor(conn->get(), [](void*, const char*) {}, nullptr);
  auto schema = conn->QuoteIdentifier(options_.schema);
  if (!schema) return std::unexpected(schema.error());
  // The schema may not exist yet (the store creates it): search_path accepts that.
  auto set = conn->Exec("SELECT pg_catalog.set_config('search_path', $1, false)",
                        PgParams().Text(*schema));
  if (!set) return std::unexpected(set.error());
  return conn;
}

Result<PgPool::Lease> PgPool::Acquire() {
  std::unique_ptr<PgConnection> conn;
  {
    std::unique_lock lock(mu_);
    bool ready = freed_.wait_for(lock, options_.acquire_timeout, [this] {
      return !idle_.empty() || open_ < options_.pool_size;
    });
    if (!ready) {
      return Unavailable(fmt::format(
          "postgres: all {} connections to {} stayed busy for {} ms (pool_size too small for "
          "the load, or a query is stuck)",
          options_.pool_size, redacted_url_, options_.acquire_timeout.count()));
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;
    }
  }
  if (conn && conn->healthy()) return Lease(this, std::move(conn));
  // A new slot, or an idle connection found broken: (re)connect outside the lock.
  auto fresh = Connect();
  if (!fresh) {
    std::lock_guard lock(mu_);
    --open_;
    freed_.notify_one();
    return std::unexpected(fresh.error());
  }
  return Lease(this, std::move(*fresh));
}

void PgPool::Release(std::unique_ptr<PgConnection> conn) {
  // Anything but an idle, healthy connection (broken, or left inside a transaction by an error
  // path) is closed; the next Acquire opens a new one in its slot.
  bool reusable = conn->healthy() && PQtransactionStatus(conn->get()) == PQTRANS_IDLE;
  if (!reusable) conn.reset();
  std::lock_guard lock(mu_);
  if (reusable) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  freed_.notify_one();
}

}  // namespace mqlab::store
