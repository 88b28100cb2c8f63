#include "queue/rabbitmq/rabbitmq_queue.h"

#include <fmt/format.h>
#include <unistd.h>

#include "queue/rabbitmq/amqp_util.h"
#include "queue/rabbitmq/consumer.h"
#include "queue/rabbitmq/publisher.h"

namespace mqlab::queue {

using rabbitmq::OutgoingMessage;
using rabbitmq::Settlement;

struct RabbitMqQueue::Shared {
  rabbitmq::Topology topology;
  std::chrono::milliseconds depth_timeout;
  std::unique_ptr<rabbitmq::Publisher> publisher;
  std::unique_ptr<rabbitmq::Consumer> consumer;
};

namespace {

class RabbitMqDelivery final : public Delivery {
 public:
  RabbitMqDelivery(std::shared_ptr<RabbitMqQueue::Shared> shared, rabbitmq::RawDelivery raw,
                   Message message, std::string decode_error)
      : Delivery(std::move(message), std::move(decode_error)),
        shared_(std::move(shared)),
        raw_(std::move(raw)) {}

  ~RabbitMqDelivery() override {
    // Released unsettled: back to the queue at once, same attempt. If the connection it came on
    // is gone the broker has requeued it already, so the error changes nothing.
    if (!settled_) (void)shared_->consumer->Settle(raw_.generation, raw_.tag, Settlement::kRequeue);
  }

  Status Ack() override {
    if (settled_) return FailedPrecondition("delivery already settled");
    settled_ = true;
    return shared_->consumer->Settle(raw_.generation, raw_.tag, Settlement::kAck);
  }

  Status Retry(std::chrono::milliseconds delay) override {
    if (!decode_error_.empty()) {
      return FailedPrecondition("an undecodable message cannot be retried; dead-letter it");
    }
    Message next = message_;
    next.attempt += 1;
    const int64_t ms = delay.count();
    const rabbitmq::Topology& t = shared_->topology;
    return Republish({.queue = ms > 0 ? rabbitmq::RetryQueueFor(t, ms) : t.main,
                      .body = EncodeMessage(next),
                      .expiration_ms = ms > 0 ? ms : -1});
  }

  Status DeadLetter(std::string_view reason) override {
    return Republish({.queue = shared_->topology.dead,
                      .body = raw_.body,
                      .reason = reason.empty() ? "unspecified" : std::string(reason)});
  }

 private:
  // Publishes `out` (confirmed), then acks this delivery. If the publish fails the delivery stays
  // unsettled (released later: the message comes back unchanged). If the process dies after the
  // confirm and before the ack reaches the broker, the message exists twice: a duplicate, which
  // at-least-once allows and the job store's guards absorb.
  Status Republish(const OutgoingMessage& out) {
    if (settled_) return FailedPrecondition("delivery already settled");
    if (!shared_->consumer->IsCurrent(raw_.generation)) {
      return Unavailable("the connection this message came on was lost; the broker redelivers it");
    }
    if (auto s = shared_->publisher->Publish(out); !s) return s;
    settled_ = true;
    // An ack that fails now (connection lost since) also ends in a duplicate: the copy just
    // published is safe, so the call reports success.
    (void)shared_->consumer->Settle(raw_.generation, raw_.tag, Settlement::kAck);
    return Ok();
  }

  std::shared_ptr<RabbitMqQueue::Shared> shared_;
  rabbitmq::RawDelivery raw_;
  bool settled_ = false;
};

}  // namespace

Result<std::unique_ptr<RabbitMqQueue>> RabbitMqQueue::Open(const RabbitMqQueueOptions& o) {
  if (o.name.empty() || o.name.size() > 200) {
    return InvalidArgument("RabbitMQ queue name must have 1 to 200 bytes");
  }
  if (o.prefetch < 1 || o.prefetch > 65535) {
    return InvalidArgument("RabbitMQ prefetch must be in [1, 65535]");
  }
  auto url = rabbitmq::ParseAmqpUrl(o.url);
  if (!url) return std::unexpected(url.error());
  const std::string id = o.consumer_id.empty() ? std::to_string(getpid()) : o.consumer_id;
  rabbitmq::ConnectParams connect{.connect_timeout = o.connect_timeout,
                                  .rpc_timeout = o.rpc_timeout,
                                  .heartbeat_seconds = 0,
                                  .connection_name = fmt::format("mqlab {} publisher", id)};
  auto shared = std::make_shared<Shared>();
  shared->topology = rabbitmq::MakeTopology(o.name, o.max_length);
  shared->depth_timeout = o.rpc_timeout * 2;
  shared->publisher = std::make_unique<rabbitmq::Publisher>(
      *url, shared->topology,
      rabbitmq::PublisherOptions{
          .channel = {.connect = connect, .confirm_timeout = o.confirm_timeout},
          .connections = o.publisher_connections});
  connect.heartbeat_seconds = o.heartbeat_seconds;
  connect.connection_name = fmt::format("mqlab {} consumer", id);
  shared->consumer = std::make_unique<rabbitmq::Consumer>(
      *url, shared->topology,
      rabbitmq::ConsumerOptions{.connect = connect, .prefetch = o.prefetch});
  if (auto s = shared->publisher->Connect(); !s) return std::unexpected(s.error());
  return std::unique_ptr<RabbitMqQueue>(new RabbitMqQueue(std::move(shared)));
}

RabbitMqQueue::~RabbitMqQueue() { Close(); }

Capabilities RabbitMqQueue::capabilities() const {
  return Capabilities{.native_delay = true,
                      .broker_redelivery = true,
                      .push_wakeup = true,
                      .batch_ack = false,
                      .shared = true};
}

Status RabbitMqQueue::Enqueue(const Message& message) {
  return shared_->publisher->Publish(
      {.queue = shared_->topology.main, .body = EncodeMessage(message)});
}

Result<std::unique_ptr<Delivery>> RabbitMqQueue::Receive(const ReceiveParams& params) {
  auto raw = shared_->consumer->Take(params.timeout);
  if (!raw) return std::unexpected(raw.error());
  if (!*raw) return std::unique_ptr<Delivery>();
  auto message = DecodeMessage((*raw)->body);
  if (!message) {
    return std::make_unique<RabbitMqDelivery>(shared_, std::move(**raw), Message{},
                                              message.error().message);
  }
  return std::make_unique<RabbitMqDelivery>(shared_, std::move(**raw), std::move(*message), "");
}

Result<int64_t> RabbitMqQueue::Depth() {
  // Measured on the consumer's channel while this process consumes (exact for its own buffer and
  // acks; see Consumer::Depth), else on the publisher's connection.
  if (auto d = shared_->consumer->Depth(shared_->depth_timeout); d && *d) return **d;
  return shared_->publisher->Depth();
}

Result<std::vector<DeadLetter>> RabbitMqQueue::PeekDeadLetters(size_t limit) {
  return shared_->publisher->PeekDeadLetters(limit);
}

void RabbitMqQueue::Close() {
  shared_->consumer->Close();
  shared_->publisher->Close();
}

Result<std::unique_ptr<JobQueue>> OpenRabbitMqQueue(const QueueOptions& options) {
  auto q = RabbitMqQueue::Open({.url = options.url,
                                .name = options.name,
                                .prefetch = std::max(1, options.prefetch),
                                .consumer_id = options.consumer_id});
  if (!q) return std::unexpected(q.error());
  return std::unique_ptr<JobQueue>(std::move(*q));
}

}  // namespace mqlab::queue
