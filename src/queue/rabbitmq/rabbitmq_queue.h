// RabbitMqQueue: the V5 backend — a durable RabbitMQ queue with persistent messages, publisher
// confirms, manual acks, prefetch, delayed retries held by the broker and a dead-letter queue.
//
// Pieces (src/queue/rabbitmq/): amqp_util (URL, connect, TranslateError, the topology: N,
// N.retry.0..7, N.dead — see amqp_util.h), Publisher (a few confirm-mode connections shared by
// every producer thread, each batching concurrent callers: Enqueue returns OK only once the
// broker confirmed the message), Consumer (one connection owned by its own thread, basic.consume
// with basic.qos(prefetch), deliveries buffered for the worker threads, acks written back on the
// channel they came on). The consumer connects on the first Receive and the publisher's extra
// connections on first use, so an API process that only enqueues opens no consumer.
//
// Semantics, against job_queue.h:
// - Ack: basic.ack. A Delivery destroyed unsettled: basic.nack requeue=true (back at once, same
//   attempt). A consumer process that dies: the broker requeues its unacked messages as soon as
//   it sees the connection close (broker_redelivery): no lease to wait for.
// - Retry(delay): publishes the message with attempt + 1 to N.retry.K with a per-message TTL of
//   `delay` (to N directly when delay is 0), waits for the confirm, then acks the original. The
//   broker dead-letters it back to N when the TTL expires (native_delay). If the process dies
//   between the confirm and the ack, both copies exist: a duplicate delivery, which the job
//   store's guards absorb (a finished job is acknowledged and skipped). If the publish fails the
//   original stays unsettled and comes back with its own attempt number.
// - DeadLetter(reason): publishes the original body to N.dead with the reason in a header,
//   confirmed, then acks the original (same crash window, same outcome).
// - Depth: ready messages of N and N.retry.* (passive declares), plus deliveries this process
//   buffered and no worker took yet. Messages held by consumers are not counted.
// - PeekDeadLetters: basic.get without ack from N.dead, then one nack(requeue) puts them back.
// - Outage: calls fail with kUnavailable within the connect timeout while the broker is down;
//   both connections reconnect by themselves when it is back (the same object goes on).
//
// Threading: every method may be called from any thread at once (see Publisher and Consumer).
#ifndef MQLAB_QUEUE_RABBITMQ_RABBITMQ_QUEUE_H_
#define MQLAB_QUEUE_RABBITMQ_RABBITMQ_QUEUE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "mqlab/queue/job_queue.h"
#include "queue/registry.h"

namespace mqlab::queue {

struct RabbitMqQueueOptions {
  // amqp://user:password@host:port/vhost. Required.
  std::string url;
  // The work queue; N.retry.0..7 and N.dead go with it. Default: "mqlab_jobs".
  std::string name = "mqlab_jobs";
  // Deliveries this consumer holds unacknowledged (basic.qos); the worker sets it to its
  // concurrency. Default: 1.
  int prefetch = 1;
  // TCP connect plus AMQP handshake: how fast a call fails while the broker is down. Default: 2 s.
  std::chrono::milliseconds connect_timeout{2000};
  // Synchronous AMQP methods (declare, get, close). Default: 5 s.
  std::chrono::milliseconds rpc_timeout{5000};
  // How long Enqueue/Retry/DeadLetter wait for the broker's confirm. Default: 5 s.
  std::chrono::milliseconds confirm_timeout{5000};
  // Connections publishing in parallel, each batching its concurrent callers (see publisher.h).
  // Opened on first use. Default: 4.
  int publisher_connections = 4;
  // AMQP heartbeat of the consumer connection: a dead peer is noticed within ~2 of them.
  // Default: 5 s.
  int heartbeat_seconds = 5;
  // x-max-length of the work queue with x-overflow=reject-publish: Enqueue on a full queue fails
  // with kResourceExhausted. 0: unbounded. Default: 0 — a bound would also drop retries the
  // broker moves back from N.retry.* into a full N (dead-lettering is not confirmed).
  int64_t max_length = 0;
  // Names the connections (rabbitmqctl list_connections). Default: "" (pid).
  std::string consumer_id;
};

class RabbitMqQueue final : public JobQueue {
 public:
  // Connects the publisher and declares the topology: fails now with kUnavailable if the broker
  // is unreachable, kFailedPrecondition for bad credentials or a queue declared with other
  // arguments, kInvalidArgument for a bad URL.
  static Result<std::unique_ptr<RabbitMqQueue>> Open(const RabbitMqQueueOptions& options);
  ~RabbitMqQueue() override;

  std::string_view kind() const override { return "rabbitmq"; }
  Capabilities capabilities() const override;
  Status Enqueue(const Message& message) override;
  Result<std::unique_ptr<Delivery>> Receive(const ReceiveParams& params) override;
  Result<int64_t> Depth() override;
  Result<std::vector<DeadLetter>> PeekDeadLetters(size_t limit) override;
  void Close() override;

  struct Shared;  // publisher, consumer and topology; shared with outstanding deliveries

 private:
  explicit RabbitMqQueue(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
  std::shared_ptr<Shared> shared_;
};

// The registry's factory (src/queue/registry.cc): url, name, prefetch and consumer_id.
Result<std::unique_ptr<JobQueue>> OpenRabbitMqQueue(const QueueOptions& options);

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_RABBITMQ_RABBITMQ_QUEUE_H_
