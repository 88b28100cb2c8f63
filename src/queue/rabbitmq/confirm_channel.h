// ConfirmChannel: one connection of the RabbitMQ backend's publisher (see publisher.h), its
// channel in confirm mode: persistent messages that count as sent only once the broker confirmed
// them (it has them on disk in their queue, or delivered them), plus the synchronous calls a
// queue needs off the consumer (depth, peeking at dead letters).
//
// Group commit: callers append their message to a pending list; if no round is running, the
// caller leads one: it publishes every pending message back to back, waits for their confirms
// (basic.ack, often multiple=true), marks them all done and wakes the others (one condition
// variable: no chain of mutex hand-offs). Callers whose message was not in that round lead the
// next one. One producer pays one round trip (plus the broker's fsync) per message; N
// concurrent producers share it. Nothing is reported sent before the broker confirmed it.
//
// Every publish is mandatory: a message no queue takes (its queue was deleted) comes back as
// basic.return and fails (kUnavailable; the topology is declared again on the next call) rather
// than being confirmed into the void. A basic.nack (the queue is full under x-overflow
// reject-publish) fails with kResourceExhausted; so does connection.blocked (a broker memory or
// disk alarm: it stopped reading from publishers).
//
// Failures: a connection that breaks is dropped and opened again on the next call, so a broker
// restart costs the calls made while it is down (kUnavailable, fast: a refused connect) and
// nothing else. A round that fails on a connection opened before it (the broker restarted
// since) is published once more on a fresh one: duplicates are allowed, losses are not. No
// heartbeats on this connection (nobody reads it between calls); a dead peer shows as a missing
// confirm within confirm_timeout (kUnavailable, not retried).
//
// Threading: every method may be called from any thread.
#ifndef MQLAB_QUEUE_RABBITMQ_CONFIRM_CHANNEL_H_
#define MQLAB_QUEUE_RABBITMQ_CONFIRM_CHANNEL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mqlab/queue/job_queue.h"
#include "queue/rabbitmq/amqp_util.h"

namespace mqlab::queue::rabbitmq {

struct OutgoingMessage {
  std::string queue;  // routing key on the default exchange
  std::string body;
  int64_t expiration_ms = -1;  // per-message TTL (retry queues); < 0: none
  std::string reason;          // dead letters: the x-mqlab-reason header; "": none
};

struct ConfirmChannelOptions {
  ConnectParams connect;
  // How long a batch may wait for its confirms before it fails (kUnavailable). Default: 5 s.
  std::chrono::milliseconds confirm_timeout{5000};
  // Most messages one leader publishes before waiting for confirms. Default: 512.
  size_t max_batch = 512;
};

class ConfirmChannel {
 public:
  ConfirmChannel(AmqpUrl url, Topology topology, ConfirmChannelOptions options);
  ~ConfirmChannel();
  ConfirmChannel(const ConfirmChannel&) = delete;
  ConfirmChannel& operator=(const ConfirmChannel&) = delete;

  // Connects and declares the topology now (the queue's constructor reports a bad URL, bad
  // credentials or an unreachable broker at once).
  Status Connect();
  // Publishes persistently and waits for the broker's confirm.
  Status Publish(const OutgoingMessage& message);
  // Ready messages in the main queue and every retry queue.
  Result<int64_t> Depth();
  // Up to `limit` dead letters from the head of the dead-letter queue, left in place.
  Result<std::vector<DeadLetter>> PeekDeadLetters(size_t limit);
  // Later calls fail with kUnavailable; the connection is closed.
  void Close();
  // Publish calls inside this channel now (waiting or leading): how busy it is.
  int load() const { return callers_.load(std::memory_order_relaxed); }

 private:
  struct Pending {
    const OutgoingMessage* message;
    std::optional<Status> result;   // written by the leader, read once `done`
    bool done = false;              // GUARDED_BY(pending_mu_)
    std::optional<Error> returned;  // set when it came back as basic.return
  };
  struct Batch;

  // REQUIRES: conn_mu_ held (for all below).
  Status EnsureConnected();
  void Drop();
  void RunBatch(std::vector<Pending*>& batch);
  Status PublishAndConfirm(std::vector<Pending*>& batch);
  Status ReadConfirms(Batch& batch);
  Status HandleReturn(Batch& batch);
  template <typename Fn>
  auto WithConnection(Fn fn) -> decltype(fn());

  std::atomic<int> callers_{0};
  const AmqpUrl url_;
  const Topology topology_;
  const ConfirmChannelOptions options_;

  std::mutex pending_mu_;
  std::condition_variable done_cv_;  // a round ended: its messages are done
  std::deque<Pending*> pending_;     // GUARDED_BY(pending_mu_)
  bool leader_active_ = false;       // GUARDED_BY(pending_mu_)
  bool closed_ = false;              // GUARDED_BY(pending_mu_)

  std::mutex conn_mu_;      // held by the batch leader, Depth and PeekDeadLetters
  Connection conn_;         // GUARDED_BY(conn_mu_)
  uint64_t next_seq_ = 1;   // GUARDED_BY(conn_mu_): confirm-mode sequence of the next publish
  bool redeclare_ = false;  // GUARDED_BY(conn_mu_): a message was unroutable
};

}  // namespace mqlab::queue::rabbitmq

#endif  // MQLAB_QUEUE_RABBITMQ_CONFIRM_CHANNEL_H_
