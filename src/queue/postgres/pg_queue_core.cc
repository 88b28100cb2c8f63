#include "queue/postgres/pg_queue_core.h"

#include <fmt/format.h>

#include <algorithm>

#include "mqlab/domain/job.h"
#include "queue/postgres/pg_queue_sql.h"

namespace mqlab::queue {

using pgq::Sql;
using store::PgConnection;
using store::PgParams;
using store::PgResult;

namespace {

// Most expired leases one rescue returns; the rest wait for the next round.
constexpr int64_t kRescueBatch = 1000;

int64_t Millis(std::chrono::milliseconds d) { return d.count(); }

int64_t CommandTuples(const PGresult* r) {
  const char* n = PQcmdTuples(const_cast<PGresult*>(r));
  return n != nullptr && *n != '\0' ? std::stoll(n) : 0;
}

Message RowToMessage(const PGresult* r, int row) {
  Message m;
  m.job_id = store::PgText(r, row, pgq::kIdCol);
  m.attempt = static_cast<int>(store::PgInt(r, row, pgq::kAttemptCol));
  m.enqueued_at = store::PgMicrosTime(r, row, pgq::kEnqueuedAtCol).value_or(WallTime{});
  m.request_id = store::PgText(r, row, pgq::kRequestIdCol);
  return m;
}

}  // namespace

PostgresQueue::Core::Core(PostgresQueueOptions options, std::unique_ptr<store::PgStore> owned,
                          store::PgPool& pool)
    : options_(std::move(options)), owned_(std::move(owned)), pool_(pool) {}

std::chrono::milliseconds PostgresQueue::Core::heartbeat_interval() const {
  if (options_.heartbeat_interval.count() > 0) return options_.heartbeat_interval;
  return std::max(options_.lease / 3, std::chrono::milliseconds(1));
}

std::chrono::milliseconds PostgresQueue::Core::rescue_interval() const {
  using std::chrono::milliseconds;
  if (options_.rescue_interval.count() > 0) return options_.rescue_interval;
  return std::clamp(options_.lease / 4, milliseconds(100), milliseconds(5000));
}

template <typename Fn>
Result<PgResult> PostgresQueue::Core::Run(Fn&& fn) {
  const int tries = pool_.options().pool_size + 1;
  for (int attempt = 1;; ++attempt) {
    auto lease = pool_.Acquire();
    if (!lease) return std::unexpected(lease.error());
    Result<PgResult> r = fn(**lease);
    if (r || !r.error().transient() || (*lease)->healthy() || attempt >= tries) return r;
  }
}

Status PostgresQueue::Core::Enqueue(const Message& m) {
  if (!IsValidJobId(m.job_id)) return InvalidArgument(fmt::format("bad job id '{}'", m.job_id));
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().enqueue, PgParams()
                                     .Text(m.job_id)
                                     .Text(options_.version)
                                     .Text(m.request_id)
                                     .Time(m.enqueued_at)
                                     .Int(m.attempt)
                                     .Text(pgq::kChannel));
  });
  if (!r) return std::unexpected(r.error());
  const bool inserted = store::PgText(r->get(), 0, 0) == "t";
  if (!inserted && !PQgetisnull(r->get(), 0, 1)) {
    std::string existing = store::PgText(r->get(), 0, 1);
    if (existing != options_.version) {
      return FailedPrecondition(fmt::format("job {} belongs to '{}', not to the queue '{}'",
                                            m.job_id, existing, options_.version));
    }
  }
  if (inserted) {
    // Best effort: the row is stored; without this, consumers find it by polling.
    (void)Run([&](PgConnection& c) {
      return c.Exec(Sql().notify, PgParams().Text(pgq::kChannel).Text(options_.version));
    });
  }
  Wake();
  return Ok();
}

Result<std::vector<PgClaimed>> PostgresQueue::Core::Claim(int limit) {
  const std::string token =
      fmt::format("{}:{}", options_.consumer_id, next_claim_.fetch_add(1) + 1);
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().claim, PgParams()
                                   .Text(options_.version)
                                   .Text(token)
                                   .Int(Millis(options_.lease))
                                   .Int(limit));
  });
  if (!r) return std::unexpected(r.error());
  std::vector<PgClaimed> rows;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    PgClaimed c{.token = token, .message = RowToMessage(r->get(), i)};
    c.id = c.message.job_id;
    Hold(c.id, token);
    rows.push_back(std::move(c));
  }
  return rows;
}

Status PostgresQueue::Core::Ack(const std::string& id, const std::string& token) {
  Unhold(id, token);
  auto r = Run([&](PgConnection& c) { return c.Exec(Sql().ack, PgParams().Text(id).Text(token)); });
  if (!r) return std::unexpected(r.error());
  return Ok();
}

Status PostgresQueue::Core::Retry(const std::string& id, const std::string& token,
                                  std::chrono::milliseconds delay) {
  Unhold(id, token);
  delay = std::max(delay, std::chrono::milliseconds(0));
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().retry, PgParams()
                                   .Text(id)
                                   .Text(token)
                                   .Int(Millis(delay))
                                   .Text(pgq::kChannel)
                                   .Text(options_.version));
  });
  if (!r) return std::unexpected(r.error());
  WakeAt(std::chrono::steady_clock::now() + delay);
  return Ok();
}

Status PostgresQueue::Core::DeadLetter(const std::string& id, const std::string& token,
                                       std::string_view reason) {
  Unhold(id, token);
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().dead_letter, PgParams().Text(id).Text(token).Text(reason));
  });
  if (!r) return std::unexpected(r.error());
  return Ok();
}

Status PostgresQueue::Core::Release(const std::string& id, const std::string& token) {
  Unhold(id, token);
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().release, PgParams()
                                     .Text(id)
                                     .Text(token)
                                     .Text(pgq::kChannel)
                                     .Text(options_.version));
  });
  if (!r) return std::unexpected(r.error());
  Wake();
  return Ok();
}

Result<int64_t> PostgresQueue::Core::Heartbeat() {
  std::vector<std::string> ids, tokens;
  {
    std::lock_guard lock(held_mu_);
    for (const auto& [id, token] : held_) {
      ids.push_back(id);
      tokens.push_back(token);
    }
  }
  if (ids.empty()) return 0;
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().heartbeat, PgParams()
                                       .Text(pgq::ArrayLiteral(ids))
                                       .Text(pgq::ArrayLiteral(tokens))
                                       .Int(Millis(options_.lease)));
  });
  if (!r) return std::unexpected(r.error());
  return CommandTuples(r->get());
}

Result<int64_t> PostgresQueue::Core::Rescue() {
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().rescue, PgParams().Text(options_.version).Int(kRescueBatch));
  });
  if (!r) return std::unexpected(r.error());
  const int64_t rescued = CommandTuples(r->get());
  if (rescued > 0) {
    (void)Run([&](PgConnection& c) {
      return c.Exec(Sql().notify, PgParams().Text(pgq::kChannel).Text(options_.version));
    });
    Wake();
  }
  return rescued;
}

Result<int64_t> PostgresQueue::Core::Depth() {
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().depth, PgParams().Text(options_.version));
  });
  if (!r) return std::unexpected(r.error());
  return store::PgInt(r->get(), 0, 0);
}

Result<std::vector<queue::DeadLetter>> PostgresQueue::Core::PeekDeadLetters(size_t limit) {
  auto r = Run([&](PgConnection& c) {
    return c.Exec(Sql().dead_letters,
                  PgParams().Text(options_.version).Int(static_cast<int64_t>(limit)));
  });
  if (!r) return std::unexpected(r.error());
  std::vector<queue::DeadLetter> out;
  for (int i = 0; i < PQntuples(r->get()); ++i) {
    out.push_back({RowToMessage(r->get(), i), store::PgText(r->get(), i, 4)});
  }
  return out;
}

void PostgresQueue::Core::Wake() {
  std::lock_guard lock(mu);
  ++gen;
  cv.notify_all();
}

void PostgresQueue::Core::WakeAt(SteadyTime due) {
  std::lock_guard lock(mu);
  if (due <= std::chrono::steady_clock::now()) {
    ++gen;
  } else {
    local_due.insert(due);
  }
  // notify_all: a waiter sleeping until a later time must recompute its deadline.
  cv.notify_all();
}

void PostgresQueue::Core::PromoteDueLocked(SteadyTime now) {
  while (!local_due.empty() && *local_due.begin() <= now) {
    local_due.erase(local_due.begin());
    ++gen;
  }
}

void PostgresQueue::Core::Hold(const std::string& id, const std::string& token) {
  std::lock_guard lock(held_mu_);
  held_.emplace(id, token);
}

void PostgresQueue::Core::Unhold(const std::string& id, const std::string& token) {
  std::lock_guard lock(held_mu_);
  held_.erase({id, token});
}

}  // namespace mqlab::queue
