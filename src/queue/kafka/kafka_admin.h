// The few admin and offset requests the Kafka backend needs: creating and deleting topics, the
// group's committed offsets and the partitions' ends (for Depth), and reading a topic from its
// start without a group (for PeekDeadLetters).
//
// Threading: OffsetsClient is thread-safe (a librdkafka handle is); the free functions create
// their own short-lived handles or use the one given.
#ifndef MQLAB_QUEUE_KAFKA_KAFKA_ADMIN_H_
#define MQLAB_QUEUE_KAFKA_KAFKA_ADMIN_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "queue/kafka/kafka_client.h"

namespace mqlab::queue::kafka {

struct TopicSpec {
  std::string name;
  int partitions = 1;
};
// Creates the topics that do not exist yet (broker-default replication), then waits until the
// metadata shows every one of them and their partitions answer requests. Returns each topic's
// partition count (an existing topic keeps its own).
Result<std::map<std::string, int>> EnsureTopics(RdKafka::Handle& handle,
                                                const std::vector<TopicSpec>& topics,
                                                std::chrono::milliseconds timeout);
// Deletes topics (tests clean up after themselves); missing ones are fine.
Status DeleteTopics(const std::string& brokers, const std::vector<std::string>& names,
                    std::chrono::milliseconds timeout);

using TopicPartitions = std::vector<std::pair<std::string, int32_t>>;
using OffsetMap = std::map<std::pair<std::string, int32_t>, int64_t>;

// End (high watermark) or start offsets of `partitions` through any handle, asking again while a
// partition's leadership is moving (NOT_LEADER right after creation or a restart).
Result<OffsetMap> ListOffsets(RdKafka::Handle& handle, const TopicPartitions& partitions, bool end,
                              std::chrono::milliseconds timeout);

// Offset look-ups for Depth: the group's committed offsets and the partitions' start and end,
// each one batched request. Holds a consumer handle with the group's id that never subscribes
// (so it never joins the group).
class OffsetsClient {
 public:
  static Result<std::unique_ptr<OffsetsClient>> Create(const KafkaQueueOptions& options);
  // Committed offsets; partitions with none are absent.
  Result<OffsetMap> Committed(const TopicPartitions& partitions);
  // End (high watermark) or start (low watermark) offsets.
  Result<OffsetMap> Ends(const TopicPartitions& partitions, bool end);

 private:
  std::chrono::milliseconds timeout_{};
  std::unique_ptr<LastErrorEvents> events_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

struct Record {
  std::string payload;
  std::map<std::string, std::string> headers;
};
// Up to `limit` records of `topic` from the start of each partition, in partition then offset
// order, without a consumer group.
Result<std::vector<Record>> ReadFromStart(const KafkaQueueOptions& options,
                                          const std::string& topic, int partitions, size_t limit);

}  // namespace mqlab::queue::kafka

#endif  // MQLAB_QUEUE_KAFKA_KAFKA_ADMIN_H_
