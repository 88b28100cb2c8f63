// ConsumerLoop: the one thread that owns the queue's RdKafka::KafkaConsumer, and the local buffer
// it fills for the many threads calling KafkaQueue::Receive.
//
// The thread polls the consumer (librdkafka serves rebalance and commit callbacks inside that
// call, so they run on this thread too), turns fetched records into Fetched items (decoded, with
// their partition's generation from the OffsetTracker) and appends them to `ready`, or to `held`
// when they come from the retry topic and are not due yet. Receive callers take items from
// `ready` under the mutex and wait on a condition variable. Every poll the thread also commits
// the settled low-water marks that are ahead of the last commit and applies flow control: it pauses
// fetching when `ready` holds max_buffered items (librdkafka drops its prefetched records and
// refetches them on resume; pausing keeps the poll going, which the group's liveness needs) and
// pauses the retry topic alone when `held` is full.
//
// Commit pacing: one asynchronous commit in flight at a time, at most one per commit_interval;
// the poll is short while settled offsets wait, and a settlement wakes a long poll
// (rd_kafka_queue_yield). So an idle consumer commits a settlement within milliseconds, and a
// busy one batches many settlements into each commit.
//
// Rebalances (see offset_tracker.h for the offset rules): assigned partitions get a fresh
// generation; revoked ones stop handing out at once, their buffered items are dropped, in-flight
// items get revoke_grace to settle, then the settled mark is committed synchronously (unless the
// assignment was lost: then the new owner may already be committing and we must not). Eager and
// cooperative assignors are both handled.
//
// Threading: every public method is thread-safe; Close joins the thread (not callable from it).
#ifndef MQLAB_QUEUE_KAFKA_CONSUMER_LOOP_H_
#define MQLAB_QUEUE_KAFKA_CONSUMER_LOOP_H_

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "mqlab/queue/job_queue.h"
#include "queue/kafka/kafka_client.h"
#include "queue/kafka/offset_tracker.h"

namespace mqlab::queue::kafka {

using SteadyClock = std::chrono::steady_clock;

// A record on its way to a worker.
struct Fetched {
  PartitionKey key;
  uint64_t generation = 0;
  int64_t offset = 0;
  std::string payload;            // as fetched: dead-lettered as it came when it does not decode
  Message message;                // decoded payload (empty when decode_error is set)
  std::string decode_error;       // DecodeMessage's reason, or ""
  SteadyClock::time_point due{};  // retry topic: not to be handed out before
};

// The header that carries a retry's due time (Unix milliseconds, decimal).
inline constexpr char kDueHeader[] = "mqlab-due-ms";

class ConsumerLoop {
 public:
  // Creates the consumer, subscribes to topics[0] (main) and topics[1] (retry) and starts the
  // thread. Joining the group happens in the background.
  static Result<std::shared_ptr<ConsumerLoop>> Start(const KafkaQueueOptions& options,
                                                     std::array<std::string, 2> topics);
  ~ConsumerLoop();

  // The next ready item, waiting up to `timeout`; nullopt if none came. kUnavailable after Close.
  Result<std::optional<Fetched>> Next(std::chrono::milliseconds timeout);
  // Settles a handed-out item. False if its partition was revoked meanwhile: nothing will be
  // committed for it, and its next owner delivers it again.
  bool Settle(const Fetched& item);
  // Gives a handed-out item back unsettled: it is handed out again at once (while its partition
  // is still ours).
  void Release(Fetched item);

  // What this process knows about its partitions, for Depth.
  struct Local {
    std::map<PartitionKey, int64_t> next_fetch;  // -1: nothing fetched yet
    std::map<PartitionKey, int64_t> waiting;     // buffered + held here, not handed out
  };
  Local Snapshot() const;

  // Stops handing out (Next fails), commits what is settled, leaves the group, joins the
  // thread. Idempotent.
  void Close();

 private:
  class Callbacks;
  ConsumerLoop(const KafkaQueueOptions& options, std::array<std::string, 2> topics);
  void Run();
  void OnMessage(RdKafka::Message& m);
  void OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                   std::vector<RdKafka::TopicPartition*>& partitions);
  void Revoke(RdKafka::KafkaConsumer* consumer,
              const std::vector<RdKafka::TopicPartition*>& partitions);
  void OnCommitted(const std::vector<RdKafka::TopicPartition*>& offsets);
  // Commits the settled marks ahead of the last commit (see the .cc for the pacing). True while
  // some remain uncommitted.
  bool Commit(bool sync);
  void FlowControl();
  void SetPaused(int topic, bool paused, const std::vector<PartitionKey>& keys);
  std::optional<PartitionKey> KeyOf(const std::string& topic, int32_t partition) const;
  // REQUIRES: mu_ held. Moves due retries from held_ to ready_.
  void PromoteDue(SteadyClock::time_point now);

  const KafkaQueueOptions options_;
  const std::array<std::string, 2> topics_;
  std::unique_ptr<Callbacks> callbacks_;  // outlives consumer_
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex close_mu_;  // one Close joins the thread

  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> wake_{nullptr, nullptr};
  std::atomic<bool> wake_armed_{false};  // the poll thread sleeps long: a settlement wakes it

  // Poll-thread state.
  std::array<bool, 2> paused_{false, false};
  bool held_full_ = false;
  bool commit_in_flight_ = false;
  SteadyClock::time_point commit_sent_at_{};

  mutable std::mutex mu_;
  std::condition_variable ready_cv_;    // ready_ gained an item, held_ changed, or closing
  std::condition_variable settled_cv_;  // a handed-out item was settled or released
  OffsetTracker tracker_;
  std::deque<Fetched> ready_;
  std::multimap<SteadyClock::time_point, Fetched> held_;
  bool closed_ = false;
};

}  // namespace mqlab::queue::kafka

#endif  // MQLAB_QUEUE_KAFKA_CONSUMER_LOOP_H_
