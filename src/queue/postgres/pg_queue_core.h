// PostgresQueue::Core: the state a PostgresQueue shares with its deliveries and background
// threads, and every database operation of the queue (one statement each, pg_queue_sql.h).
//
// Wake-up state (mu): `gen` counts reasons to claim again (a NOTIFY, a local Enqueue, Retry or
// release, a local retry falling due, a rescue, a listener reconnect); `empty_gen` is the `gen`
// seen at the start of the last claim that came back short, so a claim is due when they differ
// or when poll_interval passed since the last claim. `buffered` holds claimed rows not yet handed
// out (a receiver that timed out while another claimed for it).
// Held leases (held_mu): every claimed row not yet settled, buffered or handed out; the lease
// keeper extends exactly these.
//
// Threading: all methods are thread-safe. mu and held_mu are never held during a statement.
#ifndef MQLAB_QUEUE_POSTGRES_PG_QUEUE_CORE_H_
#define MQLAB_QUEUE_POSTGRES_PG_QUEUE_CORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "queue/postgres/postgres_queue.h"
#include "store/postgres/pg_pool.h"
#include "store/postgres/pg_store.h"

namespace mqlab::queue {

// A claimed row: the message, and what settles it (id, token).
struct PgClaimed {
  std::string id;
  std::string token;
  Message message;
};

class PostgresQueue::Core {
 public:
  // `owned` (may be null) keeps the pool alive when the queue opened its own; else `pool` is
  // borrowed and must outlive the Core.
  Core(PostgresQueueOptions options, std::unique_ptr<store::PgStore> owned, store::PgPool& pool);

  const PostgresQueueOptions& options() const { return options_; }
  store::PgPool& pool() { return pool_; }
  std::chrono::milliseconds heartbeat_interval() const;
  std::chrono::milliseconds rescue_interval() const;

  // --- statements (errors translated; kUnavailable when the server is unreachable) ---
  Status Enqueue(const Message& message);
  // Claims up to `limit` rows and records them as held.
  Result<std::vector<PgClaimed>> Claim(int limit);
  // Settlements: each first stops extending the lease, then runs its statement.
  Status Ack(const std::string& id, const std::string& token);
  Status Retry(const std::string& id, const std::string& token, std::chrono::milliseconds delay);
  Status DeadLetter(const std::string& id, const std::string& token, std::string_view reason);
  Status Release(const std::string& id, const std::string& token);
  // Extends the leases of held rows. Returns how many were extended.
  Result<int64_t> Heartbeat();
  // Returns expired leases of this queue to PENDING; wakes receivers (here and, by NOTIFY,
  // elsewhere) when it did. Returns how many.
  Result<int64_t> Rescue();
  Result<int64_t> Depth();
  Result<std::vector<queue::DeadLetter>> PeekDeadLetters(size_t limit);

  // --- wake-up state ---
  void Wake();                          // a reason to claim again now
  void WakeAt(SteadyTime due);          // … at `due` (a local delayed retry)

  std::mutex mu;
  std::condition_variable cv;           // buffered, gen, fetching or closed changed
  std::deque<PgClaimed> buffered;       // guarded by mu
  std::multiset<SteadyTime> local_due;  // guarded by mu
  uint64_t gen = 1;                     // guarded by mu
  uint64_t empty_gen = 0;               // guarded by mu
  SteadyTime last_claim{};              // guarded by mu
  int waiting = 0;                      // receivers inside Receive, guarded by mu
  bool fetching = false;                // a claim is in flight, guarded by mu
  bool closed = false;                  // guarded by mu

  // REQUIRES: mu held. Turns local retries that fell due into wake-ups.
  void PromoteDueLocked(SteadyTime now);

 private:
  // Runs `fn` on a pooled connection. If it fails because that connection broke (the server
  // restarted since it was opened), runs it once more per pooled connection, on fresh ones: the
  // queue's statements are all safe to repeat (a repeated claim at worst leaves a lease to
  // expire).
  template <typename Fn>
  Result<store::PgResult> Run(Fn&& fn);
  void Hold(const std::string& id, const std::string& token);
  void Unhold(const std::string& id, const std::string& token);

  const PostgresQueueOptions options_;
  std::unique_ptr<store::PgStore> owned_;  // declared before pool_ uses it
  store::PgPool& pool_;
  std::atomic<uint64_t> next_claim_{0};

  std::mutex held_mu_;
  std::set<std::pair<std::string, std::string>> held_;  // (id, token), guarded by held_mu_
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_POSTGRES_PG_QUEUE_CORE_H_
