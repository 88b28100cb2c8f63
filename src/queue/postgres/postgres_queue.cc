#include "queue/postgres/postgres_queue.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <stop_token>
#include <thread>

#include "queue/postgres/pg_listener.h"
#include "queue/postgres/pg_queue_core.h"
#include "queue/postgres/pg_queue_sql.h"

namespace mqlab::queue {

using Steady = std::chrono::steady_clock;

namespace {

// The name QueueOptions gives by default: the jobs table itself, i.e. the study's V3.
constexpr std::string_view kDefaultName = "mqlab_jobs";

std::string DefaultConsumerId() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::random_device rd;
  return fmt::format("{}-{}-{:08x}", host[0] ? host : "consumer", getpid(), rd());
}

class PgDelivery final : public Delivery {
 public:
  PgDelivery(std::shared_ptr<PostgresQueue::Core> core, PgClaimed row)
      : Delivery(std::move(row.message)),
        core_(std::move(core)),
        id_(std::move(row.id)),
        token_(std::move(row.token)) {}

  // Released unsettled: back to the queue at once, same attempt. If the server is unreachable
  // now, the lease (no longer extended) expires and the rescuer returns it.
  ~PgDelivery() override {
    if (!settled_) (void)core_->Release(id_, token_);
  }

  Status Ack() override {
    if (auto s = Settle(); !s) return s;
    return core_->Ack(id_, token_);
  }
  Status Retry(std::chrono::milliseconds delay) override {
    if (auto s = Settle(); !s) return s;
    return core_->Retry(id_, token_, delay);
  }
  Status DeadLetter(std::string_view reason) override {
    if (auto s = Settle(); !s) return s;
    return core_->DeadLetter(id_, token_, reason);
  }

 private:
  // Settled once, even when the statement then fails: the lease then expires and the rescuer
  // returns the row (at least once), rather than a second settlement racing the first.
  Status Settle() {
    if (settled_) return FailedPrecondition("delivery already settled");
    settled_ = true;
    return Ok();
  }

  std::shared_ptr<PostgresQueue::Core> core_;
  const std::string id_;
  const std::string token_;
  bool settled_ = false;
};

}  // namespace

// The consumer side's threads: the listener and the lease keeper (heartbeats and rescues).
class PostgresQueue::Background {
 public:
  explicit Background(Core& core) : core_(core) {
    if (core.options().listen) {
      const store::PgPoolOptions& pool = core.pool().options();
      listener_ = std::make_unique<pgq::PgListener>(
          pgq::PgListenerOptions{.url = pool.url,
                                 .connect_timeout_seconds = pool.connect_timeout_seconds,
                                 .channel = std::string(pgq::kChannel),
                                 .payload = core.options().version},
          [&core] { core.Wake(); });
      listener_->Start();
    }
    keeper_ = std::jthread([this](std::stop_token stop) { KeepLeases(stop); });
  }
  ~Background() {
    keeper_.request_stop();
    if (keeper_.joinable()) keeper_.join();
    listener_.reset();
  }

 private:
  // Heartbeats and rescues on their own periods. Failures are left to the next round: a
  // missed heartbeat is covered by the two others before the lease ends.
  void KeepLeases(std::stop_token stop) {
    const auto beat = core_.heartbeat_interval();
    const auto rescue = core_.rescue_interval();
    auto next_beat = Steady::now() + beat;
    auto next_rescue = Steady::now();  // a consumer starting up returns what died before it
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      const auto now = Steady::now();
      if (now >= next_rescue) {
        (void)core_.Rescue();
        next_rescue = Steady::now() + rescue;
      }
      if (now >= next_beat) {
        (void)core_.Heartbeat();
        next_beat = Steady::now() + beat;
      }
      std::unique_lock lock(mu);
      cv.wait_until(lock, stop, std::min(next_beat, next_rescue), [] { return false; });
    }
  }

  Core& core_;
  std::unique_ptr<pgq::PgListener> listener_;
  std::jthread keeper_;
};

Status PostgresQueueOptions::Validate() const {
  if (version.empty()) return InvalidArgument("postgres queue: version (queue name) is empty");
  if (lease.count() < 10) return InvalidArgument("postgres queue: lease must be at least 10 ms");
  if (poll_interval.count() < 1) {
    return InvalidArgument("postgres queue: poll interval must be > 0");
  }
  if (max_batch < 1) return InvalidArgument("postgres queue: max_batch must be at least 1");
  if (heartbeat_interval.count() < 0 || rescue_interval.count() < 0) {
    return InvalidArgument("postgres queue: intervals must not be negative");
  }
  return Ok();
}

PostgresQueue::PostgresQueue(std::shared_ptr<Core> core) : core_(std::move(core)) {}

PostgresQueue::~PostgresQueue() { Close(); }

Result<std::unique_ptr<PostgresQueue>> PostgresQueue::Open(const PostgresQueueOptions& options) {
  if (auto s = options.Validate(); !s) return std::unexpected(s.error());
  auto owned = store::PgStore::Open({.url = options.url,
                                     .schema = options.schema,
                                     .pool_size = options.pool_size,
                                     .connect_timeout_seconds = options.connect_timeout_seconds});
  if (!owned) return std::unexpected(owned.error());
  store::PgPool& pool = (*owned)->pool();
  PostgresQueueOptions o = options;
  if (o.consumer_id.empty()) o.consumer_id = DefaultConsumerId();
  return std::unique_ptr<PostgresQueue>(
      new PostgresQueue(std::make_shared<Core>(std::move(o), std::move(*owned), pool)));
}

Result<std::unique_ptr<PostgresQueue>> PostgresQueue::Open(const PostgresQueueOptions& options,
                                                           store::PgPool& pool) {
  if (auto s = options.Validate(); !s) return std::unexpected(s.error());
  PostgresQueueOptions o = options;
  if (o.consumer_id.empty()) o.consumer_id = DefaultConsumerId();
  o.url = pool.options().url;
  o.schema = pool.options().schema;
  return std::unique_ptr<PostgresQueue>(
      new PostgresQueue(std::make_shared<Core>(std::move(o), nullptr, pool)));
}

Capabilities PostgresQueue::capabilities() const {
  return Capabilities{.native_delay = true,  // run_after, held in the table
                      .broker_redelivery = false,
                      .push_wakeup = core_->options().listen,
                      .batch_ack = false,
                      .shared = true,
                      .store_is_queue = true};
}

Status PostgresQueue::Enqueue(const Message& message) {
  {
    std::lock_guard lock(core_->mu);
    if (core_->closed) return Unavailable("postgres queue is closed");
  }
  return core_->Enqueue(message);
}

void PostgresQueue::StartBackground() {
  std::lock_guard lock(background_mu_);
  if (background_started_) return;
  background_started_ = true;
  background_ = std::make_unique<Background>(*core_);
}

Result<std::unique_ptr<Delivery>> PostgresQueue::Receive(const ReceiveParams& params) {
  StartBackground();
  Core& c = *core_;
  const auto deadline = Steady::now() + params.timeout;
  std::unique_lock lock(c.mu);
  ++c.waiting;
  struct Leave {
    Core& c;
    ~Leave() { --c.waiting; }
  } leave{c};
  for (;;) {
    if (c.closed) return Unavailable("postgres queue is closed");
    auto now = Steady::now();
    c.PromoteDueLocked(now);
    if (!c.buffered.empty()) {
      PgClaimed row = std::move(c.buffered.front());
      c.buffered.pop_front();
      lock.unlock();
      return std::make_unique<PgDelivery>(core_, std::move(row));
    }
    const auto poll_due = c.last_claim + c.options().poll_interval;
    if (!c.fetching && (c.gen != c.empty_gen || now >= poll_due)) {
      // Claim for every receiver waiting now; the others wait for this one's rows.
      c.fetching = true;
      const uint64_t gen = c.gen;
      const int limit = std::clamp(c.waiting, 1, c.options().max_batch);
      lock.unlock();
      auto rows = c.Claim(limit);
      lock.lock();
      c.fetching = false;
      c.last_claim = Steady::now();
      c.cv.notify_all();
      if (!rows) return std::unexpected(rows.error());
      if (c.closed) {  // Close ran meanwhile and released what it saw: release these too
        lock.unlock();
        for (const PgClaimed& r : *rows) (void)c.Release(r.id, r.token);
        return Unavailable("postgres queue is closed");
      }
      if (static_cast<int>(rows->size()) < limit) c.empty_gen = gen;
      for (PgClaimed& r : *rows) c.buffered.push_back(std::move(r));
      continue;
    }
    if (now >= deadline) return std::unique_ptr<Delivery>();
    auto wake = std::min(deadline, poll_due);
    if (!c.local_due.empty()) wake = std::min(wake, *c.local_due.begin());
    c.cv.wait_until(lock, wake);
  }
}

Result<int64_t> PostgresQueue::Depth() { return core_->Depth(); }

Result<std::vector<DeadLetter>> PostgresQueue::PeekDeadLetters(size_t limit) {
  return core_->PeekDeadLetters(limit);
}

void PostgresQueue::Close() {
  std::deque<PgClaimed> unclaimed;
  {
    std::lock_guard lock(core_->mu);
    if (!core_->closed) {
      core_->closed = true;
      unclaimed.swap(core_->buffered);
    }
    core_->cv.notify_all();
  }
  {
    std::lock_guard lock(background_mu_);
    background_started_ = true;  // never start after Close
    background_.reset();
  }
  for (const PgClaimed& row : unclaimed) (void)core_->Release(row.id, row.token);
}

PostgresQueueOptions PostgresOptionsFrom(const QueueOptions& o) {
  PostgresQueueOptions p;
  p.url = o.url;
  p.version = o.name.empty() || o.name == kDefaultName ? "v3" : o.name;
  p.lease = o.lease;
  p.max_batch = std::max(1, o.prefetch);
  p.pool_size = std::max(4, o.prefetch + 2);
  p.consumer_id = o.consumer_id;
  p.schema = o.schema;
  return p;
}

Result<std::unique_ptr<JobQueue>> OpenPostgresQueue(const QueueOptions& options) {
  auto q = PostgresQueue::Open(PostgresOptionsFrom(options));
  if (!q) return std::unexpected(q.error());
  return std::unique_ptr<JobQueue>(std::move(*q));
}

}  // namespace mqlab::queue
