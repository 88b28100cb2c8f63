// The state a RedisQueue shares with its deliveries (which may outlive it), and the consumer-side
// machinery: reading, the reaper, the promoter, settling. Private to src/queue/redis/; see
// redis_queue.h for the design.
//
// Threading: every member may be used from any thread. The atomics plan the reaper's and the
// promoter's next turn; a turn flag lets one thread at a time take it.
#ifndef MQLAB_QUEUE_REDIS_REDIS_QUEUE_SHARED_H_
#define MQLAB_QUEUE_REDIS_REDIS_QUEUE_SHARED_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "queue/redis/redis_client.h"
#include "queue/redis/redis_queue.h"
#include "queue/redis/redis_scripts.h"

namespace mqlab::queue {

using redis::Args;
using redis::RedisConnection;
using redis::Reply;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

inline int64_t NowNs() { return SteadyClock::now().time_since_epoch().count(); }
inline int64_t Ns(milliseconds ms) { return std::chrono::nanoseconds(ms).count(); }

// Lowers `a` to `v` if `v` is earlier.
inline void StoreMin(std::atomic<int64_t>& a, int64_t v) {
  int64_t cur = a.load();
  while (v < cur && !a.compare_exchange_weak(cur, v)) {
  }
}

struct RedisQueue::Shared {
  Shared(RedisQueueOptions o, redis::RedisEndpoint endpoint);

  const RedisQueueOptions options;
  const std::string stream, delayed, dead;
  const std::string lease_ms = std::to_string(options.lease.count());
  redis::RedisPool pool;
  redis::ScriptRunner scripts;
  std::atomic<bool> closed{false};
  std::atomic<int64_t> next_reap{0}, next_promote{0}, next_prune{0};
  std::atomic<bool> reaping{false}, promoting{false};
  std::string reap_cursor = "0-0";  // guarded by the reaper's turn

  // Held entries (the heartbeat extends their leases): entry id → deliveries holding it (1, or
  // 2 for an instant when the reaper hands an entry back to the consumer that held it).
  std::mutex held_mu;
  std::map<std::string, int> held;  // guarded by held_mu
  std::condition_variable keeper_cv;
  bool keeper_stop = false;  // guarded by held_mu
  std::thread keeper;        // started with the first delivery; joined by StopKeeper

  milliseconds HeartbeatInterval() const {
    if (options.heartbeat_interval.count() > 0) return options.heartbeat_interval;
    return std::clamp(options.lease / 3, milliseconds(50), milliseconds(10000));
  }
  void Hold(const std::string& id);
  void Unhold(const std::string& id);
  // Extends the leases of the held entries still ours; returns how many were extended.
  Result<int64_t> Heartbeat();
  void StopKeeper();

  milliseconds ReapInterval() const {
    if (options.reap_interval.count() > 0) return options.reap_interval;
    return std::clamp(options.lease / 4, milliseconds(50), milliseconds(5000));
  }
  // Consumers idle this long with nothing pending are removed from the group.
  milliseconds PruneIdle() const { return std::max(2 * options.lease, milliseconds(60000)); }

  template <typename T>
  Result<T> Run(const std::function<Result<T>(RedisConnection&)>& fn) {
    return pool.Run<T>(fn);
  }
  // Runs a script; an error reply becomes an error.
  Result<Reply> Script(RedisConnection& c, const redis::LuaScript& s,
                       std::initializer_list<std::string_view> keys,
                       std::initializer_list<std::string_view> args) {
    auto r = scripts.Run(c, s, keys, args);
    if (r && (*r)->type == REDIS_REPLY_ERROR) {
      return std::unexpected(redis::ReplyError(**r, s.name));
    }
    return r;
  }

  Status CreateGroup(RedisConnection& c) {
    auto r = c.Command({"XGROUP", "CREATE", stream, options.group, "0", "MKSTREAM"});
    if (!r) return std::unexpected(r.error());
    if ((*r)->type == REDIS_REPLY_ERROR && !redis::IsErrorCode(r->get(), "BUSYGROUP")) {
      return std::unexpected(redis::ReplyError(**r, "XGROUP CREATE"));
    }
    return Ok();
  }
  // A group command; on NOGROUP (a new queue, or a server that lost its data) creates the group
  // and runs it once more.
  Result<Reply> GroupCommand(RedisConnection& c, const Args& args) {
    auto r = c.Command(args);
    if (!r || !redis::IsErrorCode(r->get(), "NOGROUP")) return r;
    if (auto s = CreateGroup(c); !s) return std::unexpected(s.error());
    return c.Command(args);
  }

  Status Settle(const std::string& id, std::string_view mode, std::string_view payload,
                std::string_view arg) {
    const std::string dead_cap = std::to_string(options.dead_letter_capacity);
    auto r = Run<Reply>([&](RedisConnection& c) {
      return Script(c, redis::kSettleScript, {stream, delayed, dead},
                    {options.group, id, mode, payload, arg, dead_cap});
    });
    if (!r) return std::unexpected(r.error());
    return Ok();
  }

  // One stream entry read or claimed: its id and its "m" field.
  struct StreamEntry {
    std::string id;
    std::string payload;
    bool has_payload = false;
  };
  // The entry already Hold()-ed (its lease extended by the keeper) becomes a delivery.
  std::unique_ptr<Delivery> MakeDelivery(const std::shared_ptr<Shared>& self, StreamEntry entry);
  Status MaybePromote();
  Result<std::unique_ptr<Delivery>> MaybeReap(const std::shared_ptr<Shared>& self);
  // A buffered entry if there is one, else XREADGROUP COUNT (prefetch - held - reads in flight,
  // at least 1), blocking at most `block`: the first entry is the caller's, the others are
  // buffered.
  Result<std::unique_ptr<Delivery>> Read(const std::shared_ptr<Shared>& self, milliseconds block);
  // The buffer, handed out before anything is read (no wait, no round trip).
  std::unique_ptr<Delivery> TakeBuffered(const std::shared_ptr<Shared>& self);

  // Receive buffer: entries read by one XREADGROUP COUNT prefetch, not yet handed out. They are
  // pending for this consumer from the read, so they are Hold()-ed at once (the keeper extends
  // their leases as it does delivered ones'), and never more than prefetch are buffered.
  size_t Prefetch() const { return std::max<size_t>(1, options.prefetch); }
  std::mutex buf_mu;
  std::deque<StreamEntry> buffer;  // guarded by buf_mu
  size_t reserved = 0;             // guarded by buf_mu: entries asked for by reads in flight
  // Hands the buffered entries back at once (the "requeue" settle: same attempt, at the stream's
  // end); one that cannot be is left pending and comes back after the lease (XAUTOCLAIM).
  void ReleaseBuffered();

  // Group commit of acks (when options.ack_flushes > 0): Ack() queues its entry id into the
  // next batch; the first caller that finds fewer than ack_flushes batches being sent becomes
  // the leader and sends the whole batch (one EVALSHA of kAckScript: XACK + XDEL of every id);
  // the others wait on their batch's cv. Each returns its batch's result, so an Ack returns only
  // once Redis has confirmed it (or with the batch's error). A finished flush wakes its batch's
  // waiters and one waiter of the next batch, which leads that one (a cv per batch: nobody is
  // woken only to wait again). With ack_flushes = 0 every Ack leads a batch of its own at once.
  struct AckBatch {
    std::vector<std::string> ids;
    bool sent = false;  // taken by its leader: no longer ack_next
    bool done = false;
    Status result = Ok();
    std::condition_variable cv;
  };
  std::mutex ack_mu;
  std::shared_ptr<AckBatch> ack_next;  // guarded by ack_mu: filling while a flush runs
  int ack_flushing = 0;                // guarded by ack_mu: batches being sent
  Status Ack(const std::string& id);
  Status FlushAcks(const std::vector<std::string>& ids);
  // RedisQueue::Stats.
  std::atomic<int64_t> acks{0}, ack_batches{0}, reads{0}, read_entries{0};
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_REDIS_REDIS_QUEUE_SHARED_H_
