// Queue backends, found by name (as redis finds its commands in one table).
//
// Adding a backend: write it in its own folder src/queue/<kind>/, give it a factory with the
// QueueFactory signature, and add one row to the table in registry.cc. Nothing else changes.
#ifndef MQLAB_QUEUE_REGISTRY_H_
#define MQLAB_QUEUE_REGISTRY_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/queue/job_queue.h"

namespace mqlab::queue {

// Everything any backend may need to open a queue; each backend reads its own fields.
struct QueueOptions {
  std::string kind;  // "memory", "postgres", "redis", "rabbitmq", "kafka"
  // Server address: postgres://…, redis://…, amqp://…, or host:port[,host:port] for Kafka.
  // Empty for memory. Default: "" (the CLI fills it from MQLAB_*_URL).
  std::string url;
  // Queue, list, table or topic name; tests give each case its own. Default: "mqlab_jobs".
  std::string name = "mqlab_jobs";
  // memory, redis: the hard cap on messages held (retries of admitted messages are never
  // refused). Default: 100000.
  size_t capacity = 100000;
  // How long a received message stays its consumer's without a heartbeat before it is considered
  // abandoned (backends without broker-side consumer tracking; heartbeats extend it every lease/3
  // while the delivery is held; Kafka: the session timeout). Default: 20 s, so that a dead
  // worker's job is back within 25 s (lease + the reaper/rescuer period, ≤ 5 s).
  std::chrono::milliseconds lease{20000};
  // Messages a consumer may hold unacknowledged (RabbitMQ prefetch, batch sizes). Default: 1.
  int prefetch = 1;
  // Kafka: partitions of the topic (≥ the largest worker count); consumer group. Default: 8.
  int partitions = 8;
  std::string consumer_group = "mqlab-workers";
  // Identifies this consumer (processing-list names, logs). Default: "" (backend picks one).
  std::string consumer_id;
  // postgres: the schema of the jobs table (the store's schema: V3's queue is the store's table).
  // Default: "public".
  std::string schema = "public";
};

using QueueFactory = std::function<Result<std::unique_ptr<JobQueue>>(const QueueOptions&)>;

struct BackendEntry {
  std::string_view kind;
  std::string_view version;  // the study version it serves: "mem", "v3", ...
  QueueFactory open;
};

// The table of compiled-in backends.
const std::vector<BackendEntry>& Backends();
// Opens the backend named by options.kind; kInvalidArgument naming the known kinds if unknown.
Result<std::unique_ptr<JobQueue>> OpenQueue(const QueueOptions& options);

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_REGISTRY_H_
