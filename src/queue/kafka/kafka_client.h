// The Kafka backend's thin layer over librdkafka: error translation, configuration, and a
// producer that waits for delivery reports (the admin and offset requests: kafka_admin.h).
// Only files in src/queue/kafka include librdkafka's headers.
//
// Threading: SyncProducer is thread-safe (librdkafka handles are).
#ifndef MQLAB_QUEUE_KAFKA_KAFKA_CLIENT_H_
#define MQLAB_QUEUE_KAFKA_KAFKA_CLIENT_H_

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "mqlab/common/status.h"
#include "queue/kafka/kafka_queue.h"

namespace mqlab::queue::kafka {

// The one translation of librdkafka's errors: kUnavailable for anything a reachable broker would
// cure (transport, timeouts, leader or coordinator moving), kResourceExhausted for a full local
// queue, kNotFound for a missing topic, kInvalidArgument for a bad request, else kInternal.
Error TranslateError(RdKafka::ErrorCode code, std::string_view what);

using Props = std::vector<std::pair<std::string, std::string>>;
// Properties every handle of this queue shares (brokers, client id, timeouts, quiet logs).
Props CommonProps(const KafkaQueueOptions& o);
// A librdkafka configuration with `props` and, if given, callbacks (which must outlive every
// handle made from it); kInvalidArgument naming the property librdkafka rejects.
Result<std::unique_ptr<RdKafka::Conf>> MakeConf(const Props& props,
                                                RdKafka::EventCb* events = nullptr);

// Keeps the last error librdkafka reported (for messages) and drops its log lines, which would
// otherwise go to stderr: "connection refused" every second while a broker restarts.
class LastErrorEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override;
  std::string last() const;
  // librdkafka said every broker connection is down (ERR__ALL_BROKERS_DOWN), and no message was
  // delivered since (ClearDown).
  bool brokers_down() const { return brokers_down_.load(); }
  void ClearDown() { brokers_down_ = false; }

 private:
  mutable std::mutex mu_;
  std::string last_;
  std::atomic<bool> brokers_down_{false};
};

struct Header {
  std::string key;
  std::string value;
};

// An idempotent producer (enable.idempotence, acks=all) whose Produce waits for the delivery
// report: when it returns OK the message is on the broker (at least once). A thread serves the
// delivery reports. After a fatal producer error (possible with idempotence) the handle is
// replaced by a fresh one, so the queue goes on without being reopened.
class SyncProducer {
 public:
  static Result<std::shared_ptr<SyncProducer>> Create(const KafkaQueueOptions& options);
  ~SyncProducer();

  // `partition`: PARTITION_UA lets librdkafka's partitioner choose from the key.
  Status Produce(const std::string& topic, std::string_view key, std::string_view payload,
                 const std::vector<Header>& headers = {},
                 int32_t partition = RdKafka::Topic::PARTITION_UA);
  // The current handle (for admin and metadata requests).
  std::shared_ptr<RdKafka::Producer> handle() const;

 private:
  class Reports;
  SyncProducer() = default;
  Result<std::shared_ptr<RdKafka::Producer>> NewHandle();
  // After a fatal error (possible with idempotence), swaps in a fresh handle.
  void ReplaceIfFatal(const std::shared_ptr<RdKafka::Producer>& failed);
  void Poll();

  Props props_;
  std::chrono::milliseconds delivery_timeout_{};
  std::unique_ptr<Reports> reports_;
  std::unique_ptr<LastErrorEvents> events_;
  // Fail fast while the brokers are unreachable (a circuit breaker): after a delivery failed for
  // a transient reason, or librdkafka reported every broker down, Produce answers Unavailable at
  // once until open_until_ns_; then one call at a time (the probe) tries for real, and its
  // success closes the circuit. So an outage costs a client one delivery timeout per second at
  // most, not one per request (the API has only a few blocking threads to wait with).
  std::atomic<int64_t> open_until_ns_{0};  // steady clock; 0: closed
  std::atomic<bool> probing_{false};
  std::mutex replace_mu_;  // one replacement at a time
  mutable std::mutex mu_;  // guards producer_ (never null once created)
  std::shared_ptr<RdKafka::Producer> producer_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace mqlab::queue::kafka

#endif  // MQLAB_QUEUE_KAFKA_KAFKA_CLIENT_H_
