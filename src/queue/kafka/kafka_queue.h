// KafkaQueue: the V6 backend. Jobs are messages on a Kafka topic consumed by a consumer group,
// through librdkafka 2.0.2 (C++ API; plaintext; the classic group protocol, since librdkafka 2.0
// does not speak KIP-848).
//
// Topics (created with the admin API when missing; an existing topic is used as it is):
//   <name>        the jobs, `partitions` partitions (≥ the largest worker count: a partition is
//                 consumed by one group member at a time), keyed by job id.
//   <name>.retry  delayed retries, same partitions, consumed by the same group: Retry(delay)
//                 produces the message (attempt + 1) here with its due time in a header
//                 (mqlab-due-ms, Unix ms) and only then settles the original. A fetched retry that
//                 is not due yet is held in memory until it is (rather than pausing its
//                 partition, which would block retries due sooner behind it); it stays outstanding,
//                 so the committed offset never passes it and a crash loses nothing. Held retries
//                 are capped (max_held_retries): beyond it the retry partitions are paused until
//                 some fall due. Not Uber's fixed-delay topics: one topic serves any delay, at the
//                 price of holding early arrivals in memory.
//   <name>.dead   dead letters, 1 partition, the reason in header mqlab-reason.
//
// At least once: the producer is idempotent (enable.idempotence, acks=all) and Enqueue waits for
// the delivery report. The consumer never auto-commits: an offset is committed only once the
// delivery is settled, and since many worker threads settle out of order, each partition commits
// its low-water mark of settled offsets (OffsetTracker, the crux: see offset_tracker.h).
// Commits go out asynchronously as settlements come (one in flight, paced by commit_interval), and
// synchronously at revocation and Close.
//
// Threading (ConsumerLoop): one internal thread owns the RdKafka::KafkaConsumer: it polls,
// serves rebalance callbacks and commits; Receive callers take messages from its local buffer
// under a mutex. The producer is librdkafka's (thread-safe) with one thread serving its delivery
// reports. Every public method may be called from any thread; a Delivery is settled by one.
//
// Rebalances: on revocation a partition stops handing out messages at once, its buffered ones are
// dropped (its next owner re-reads them), in-flight work gets up to revoke_grace to settle, then
// what is settled is committed. A delivery settled after its partition was revoked commits
// nothing (Ack returns kAborted): the new owner gets the message again (at least once). A released
// (destroyed unsettled) delivery is handed out again locally at once. A consumer process that dies
// is noticed by the broker after session_timeout; its uncommitted messages then go to another
// member.
//
// Depth = for each partition of <name> and <name>.retry: messages not yet fetched (high
// watermark - fetch position, or - committed offset for partitions this process does not own)
// plus those fetched but waiting here (buffered, held retries). Three batched broker requests
// (committed offsets, end offsets, start offsets): cheap enough for a few calls a second.
// Messages in flight in *other* processes count as backlog (they are not committed yet).
#ifndef MQLAB_QUEUE_KAFKA_KAFKA_QUEUE_H_
#define MQLAB_QUEUE_KAFKA_KAFKA_QUEUE_H_

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "mqlab/queue/job_queue.h"
#include "queue/registry.h"

namespace mqlab::queue::kafka {

struct KafkaQueueOptions {
  // Bootstrap brokers, host:port[,host:port…]. Required.
  std::string brokers;
  // The main topic; <topic>.retry and <topic>.dead go with it. Default: "mqlab_jobs".
  std::string topic = "mqlab_jobs";
  // The consumer group. Default: "mqlab-workers".
  std::string group = "mqlab-workers";
  // Partitions of the topics this queue creates (≥ the largest worker count). Default: 8.
  int partitions = 8;
  // client.id, in broker logs and group listings. Default: "" (mqlab-<pid>).
  std::string client_id;
  // How long the broker waits for a silent consumer before giving its partitions to another:
  // the redelivery time after a consumer dies. The broker accepts 6 s to 30 min by default.
  // Default: 10 s (QueueOptions::lease maps to it: `mqlab worker --lease`).
  std::chrono::milliseconds session_timeout{10000};
  // Longest wait for a delivery report; an Enqueue to an unreachable broker fails (kUnavailable)
  // after it. Default: 5 s.
  std::chrono::milliseconds delivery_timeout{5000};
  // Bound on admin, metadata and offset requests (topic creation, Depth, PeekDeadLetters).
  // Default: 5 s.
  std::chrono::milliseconds request_timeout{5000};
  // Least spacing of commit requests (one is in flight at a time; an idle consumer commits a
  // settlement at once). Shorter: fewer duplicates after a crash, more commit requests.
  // Default: 20 ms (≤ 50 commits/s per consumer).
  std::chrono::milliseconds commit_interval{20};
  // On revocation, how long in-flight deliveries of the revoked partitions may take to settle
  // before they are given up (and redelivered by the new owner). Default: 1 s; From() sets it
  // to the session timeout (the worker's --lease), at most 240 s.
  std::chrono::milliseconds revoke_grace{1000};
  // Fetched messages buffered here before fetching pauses; it resumes at half. Pausing is costly
  // in librdkafka 2.0 (a resume refetches after ~0.1-0.4 s: with 500 the consumer ran at
  // ~600 msg/s, with 10000 at ~60-90k msg/s on the study machine), so the buffer is sized to make
  // pauses rare and to hide the resume behind the half still buffered. ~3 MB. Default: 10000.
  size_t max_buffered = 10000;
  // Not-yet-due retries held in memory before the retry partitions pause. Default: 10000.
  size_t max_held_retries = 10000;
  // Producer batching delay (linger.ms). Enqueue waits for its delivery report, so any linger is
  // added to every call (1 ms: ~750 sync enqueues/s per thread; 0: ~8000); concurrent callers
  // still share batches. Default: 0.
  std::chrono::milliseconds linger{0};
  // none, gzip, snappy, lz4 or zstd: all pass against Kafka 4.1 (see the integration test).
  // Default: "none" (messages are ~150 bytes of JSON; the broker is on loopback).
  std::string compression = "none";
  // Classic-protocol assignor: "roundrobin", "range" or "cooperative-sticky". Default:
  // "roundrobin" (eager: every rebalance revokes everything; the most travelled path of
  // librdkafka 2.0, whose cooperative rebalancing had fixes in later releases).
  std::string assignment_strategy = "roundrobin";

  Status Validate() const;
  // The Kafka part of the generic options: url → brokers, name → topic, consumer_group, partitions,
  // consumer_id → client_id, lease → session_timeout (clamped to [6 s, 5 min]).
  static KafkaQueueOptions From(const QueueOptions& options);
};

class ConsumerLoop;
class SyncProducer;

class KafkaQueue final : public JobQueue {
 public:
  // Connects, creates the topics if missing (kUnavailable if the brokers cannot be reached
  // within request_timeout). The consumer joins the group on the first Receive, so a
  // producer-only process (the API) never joins.
  static Result<std::unique_ptr<KafkaQueue>> Open(KafkaQueueOptions options);
  ~KafkaQueue() override;

  std::string_view kind() const override { return "kafka"; }
  Capabilities capabilities() const override;
  Status Enqueue(const Message& message) override;
  Result<std::unique_ptr<Delivery>> Receive(const ReceiveParams& params) override;
  Result<int64_t> Depth() override;
  Result<std::vector<DeadLetter>> PeekDeadLetters(size_t limit) override;
  void Close() override;

  // The group's committed offsets on the main topic, by partition (absent: none committed).
  Result<std::map<int32_t, int64_t>> CommittedOffsets();

  struct Shared;  // producer, topic names, options: shared with outstanding deliveries

 private:
  explicit KafkaQueue(std::shared_ptr<Shared> shared);
  Result<std::shared_ptr<ConsumerLoop>> Loop();

  std::shared_ptr<Shared> shared_;
  std::mutex loop_mu_;  // guards loop_ creation
  std::shared_ptr<ConsumerLoop> loop_;
};

// The registry's factory.
Result<std::unique_ptr<JobQueue>> OpenKafkaQueue(const QueueOptions& options);

}  // namespace mqlab::queue::kafka

#endif  // MQLAB_QUEUE_KAFKA_KAFKA_QUEUE_H_
