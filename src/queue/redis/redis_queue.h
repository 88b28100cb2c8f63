// RedisQueue: the V4 backend, a reliable queue on a Redis Stream with one consumer group.
//
// Why Streams rather than lists (LPUSH + BLMOVE to a per-consumer processing list + a lease ZSET):
// XREADGROUP hands out a message AND records who holds it since when (the group's pending entries
// list, PEL) in one atomic server step, so a consumer that dies right after receiving leaves a
// lease the server already knows about. With lists, BLMOVE cannot run inside a script, so the
// lease record is a second round trip with a crash window between the two, which forces per-
// consumer heartbeats to find orphaned processing lists. XAUTOCLAIM then takes over stale entries
// atomically and returns them in the same reply. Round trips per message: enqueue 1 (XADD), receive
// 1 (XREADGROUP) or less (below), settle 1 (a script: XACK + XDEL) or less: 3 at most, against 4
// for lists with a lease ZSET.
//
// Keys of queue N: N:stream (entries {m: encoded message}; group options.group), N:delayed
// (ZSET, score = due time on the server's clock), N:dead (stream of {m, reason}, trimmed to about
// dead_letter_capacity). Acked entries are deleted, so the stream holds only ready and held ones.
//   Enqueue   XADD (a script when capacity > 0: refuses with kResourceExhausted when full)
//   Receive   from the receive buffer if it holds an entry (no round trip), else XREADGROUP
//             COUNT n ... BLOCK, in slices of at most block_slice so Close() is noticed
//   Ack       script: XACK + XDEL of one id, or of a batch (group commit, ack_flushes > 0)
//   Retry(d)  script: XADD attempt + 1 (d = 0) or ZADD N:delayed at server TIME + d; XACK + XDEL
//   DeadLetter script: XADD N:dead (MAXLEN ~), XACK + XDEL
//   released  (a Delivery destroyed unsettled) script: XADD the same message again, XACK + XDEL
//             (back at once; if that fails, the lease brings it back)
// Client-driven, inside Receive, at most one thread per process at a time:
//   reaper    every reap_interval, XAUTOCLAIM entries idle for longer than the lease (a dead or
//             hung consumer's) to this consumer and delivers them (same attempt)
//   promoter  a script moves due delayed messages to the stream (EVALSHA, EVAL on NOSCRIPT) when
//             the earliest known due time passes, and at least every promote_interval for
//             retries made by other processes
//
// Lease: a message held longer than `lease` without a heartbeat may be taken over by another
// consumer. While a delivery is held, a keeper thread (started with the first delivery) extends
// its lease every heartbeat_interval (lease / 3): a script XCLAIMs each held entry still pending
// for this consumer with min-idle 0 and JUSTID, resetting its idle time. So a job longer than the
// lease is never taken over while its worker is alive, and a dead worker's job comes back within
// lease + reap_interval of its last heartbeat. If the worker stalls past the lease (no heartbeat
// got through) and another consumer takes over, the slow consumer's later Ack is still accepted
// (XACK does not check the owner) and the job store skips the duplicate. Once the queue is
// closed, deliveries that outlive it are no longer extended.
//
// Receive buffer (issue 8: each job cost two round trips, and a 4-consumer drain spent a third of
// its samples waiting for replies). One XREADGROUP reads COUNT n = prefetch - (entries this queue
// object holds: delivered and unsettled, or buffered) - (entries reads in flight asked for), at
// least 1; the caller gets the first entry, the rest wait in a buffer shared by every thread
// calling Receive on this object, which hands them out before anything else (no round trip). So
// at most prefetch entries are unacked at a time (plus one per Receive called while that many are
// held), as with a broker's prefetch: a thread busy with a long job leaves no entries waiting
// here that an idle consumer elsewhere could run, and in a fast drain (threads waiting for their
// Ack hold nothing) reads come close to prefetch. A thread that finds the buffer empty reads even
// if another read is in flight (waiting for that read's spare entries was measured slower: see
// docs/notes-peers.md § Redis). Leases start at read time, so a buffered entry is Hold()-ed at
// once: the keeper extends it like a delivered one, and a buffered entry is never taken over
// while its process lives, however long it waits. Close() hands the buffer back at once (the
// "requeue" settle: XADD again, XACK + XDEL, same attempt); an entry it cannot hand back (the
// server is gone, or the process died) stays pending and the reaper of another consumer brings
// it back after the lease, as any held entry of a dead consumer. Depth() counts this object's
// buffered entries as backlog (other processes' buffers count as held).
//
// Group commit of Acks (ack_flushes > 0): an Ack arriving while ack_flushes batches are being
// sent queues its id; when a flush returns, one waiter leads the next batch (everything queued)
// in one script call, and each Ack returns its batch's result once Redis confirmed it, so an
// error reaches every Ack of the batch. Off by default: measured, it cuts Redis's CPU but slows a
// one-process drain (an Ack waits up to two round trips). Retry, DeadLetter and released
// deliveries keep their own settle script call.
//
// Threading: every method may be called from any thread. Connections come from a pool (each call
// owns one for its duration); deliveries share the queue's state and may outlive it.
#ifndef MQLAB_QUEUE_REDIS_REDIS_QUEUE_H_
#define MQLAB_QUEUE_REDIS_REDIS_QUEUE_H_

#include <chrono>
#include <memory>
#include <string>

#include "mqlab/queue/job_queue.h"

namespace mqlab::queue {

struct RedisQueueOptions {
  // redis://[[user]:password@]host[:port][/db]. Default: redis://127.0.0.1:6379/0.
  std::string url = "redis://127.0.0.1:6379/0";
  // Prefix of the queue's keys. Default: "mqlab_jobs".
  std::string name = "mqlab_jobs";
  // Consumer group shared by all workers of the queue. Default: "mqlab-workers".
  std::string group = "mqlab-workers";
  // This queue object's consumer name in the group. Default: "" (host-pid-random).
  std::string consumer;
  // Held longer than this, a delivery is taken over by another consumer. Default: 30 s.
  std::chrono::milliseconds lease{30000};
  // How often held deliveries' leases are extended. Default: 0 = lease / 3, within [50 ms, 10 s].
  std::chrono::milliseconds heartbeat_interval{0};
  // How often a consumer looks for stale deliveries. Default: 0 = lease / 4, within [50 ms, 5 s].
  std::chrono::milliseconds reap_interval{0};
  // Longest wait before delayed retries made by other processes are promoted (this process's own
  // are promoted when due). Default: 1 s.
  std::chrono::milliseconds promote_interval{1000};
  // Longest single XREADGROUP BLOCK: a closing queue is noticed within it. Default: 500 ms.
  std::chrono::milliseconds block_slice{500};
  // Most messages held (stream + delayed); Enqueue beyond it fails with kResourceExhausted. Retries
  // never count against it. 0: unbounded (plain XADD). Default: 100000.
  size_t capacity = 100000;
  // Dead letters kept (approximately: MAXLEN ~). Default: 10000.
  size_t dead_letter_capacity = 10000;
  // Connect and command timeouts: fail fast when the server is gone. Default: 2 s / 5 s.
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{5000};
  // Idle connections kept in the pool. Default: 16 (a worker's threads plus the API's).
  size_t max_idle_connections = 16;
  // Entries one XREADGROUP reads (COUNT) into the receive buffer shared by the threads calling
  // Receive: the deliveries the consumer holds at once (registry: QueueOptions::prefetch, which
  // `mqlab worker` sets to its concurrency). 0 counts as 1. Default: 1.
  size_t prefetch = 1;
  // Group commit of Acks: most ack batches being sent at once; an Ack arriving when that many are
  // in flight waits, and goes with the others that queue meanwhile in one script call (and still
  // returns only once Redis confirmed it). 0: no limit, every Ack is sent at once. Default: 0:
  // in bench/queue_bench's drain (one process, 4 consumers, loopback, 2 cores) group commit with
  // 1 in flight cut Redis's CPU by about a quarter but the drain's rate to 0.88x of no batching
  // (each waiting Ack pays up to two round trips); set 1 when the server's CPU is the limit (many
  // workers on one Redis).
  int ack_flushes = 0;
};

class RedisQueue final : public JobQueue {
 public:
  // kInvalidArgument for a bad URL or options; kFailedPrecondition if the server refuses the
  // credentials. A server that cannot be reached is not an error here: the queue connects on
  // first use (and the calls fail with kUnavailable until it is up).
  static Result<std::unique_ptr<RedisQueue>> Open(RedisQueueOptions options);
  ~RedisQueue() override;

  std::string_view kind() const override { return "redis"; }
  Capabilities capabilities() const override;
  Status Enqueue(const Message& message) override;
  Result<std::unique_ptr<Delivery>> Receive(const ReceiveParams& params) override;
  Result<int64_t> Depth() override;
  Result<std::vector<DeadLetter>> PeekDeadLetters(size_t limit) override;
  void Close() override;

  const std::string& consumer() const;

  // Round trips saved, for tests and benchmarks: acks confirmed and the batches (script calls)
  // that carried them; XREADGROUP calls that returned entries and the entries they returned.
  struct Stats {
    int64_t acks = 0, ack_batches = 0, reads = 0, read_entries = 0;
  };
  Stats stats() const;

  struct Shared;  // shared with outstanding deliveries

 private:
  explicit RedisQueue(std::shared_ptr<Shared> shared);
  std::shared_ptr<Shared> shared_;
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_REDIS_REDIS_QUEUE_H_
