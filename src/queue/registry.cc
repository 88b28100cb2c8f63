#include "queue/registry.h"

#include <fmt/format.h>

#include <algorithm>

#include "queue/kafka/kafka_queue.h"
#include "queue/memory/memory_queue.h"
#include "queue/postgres/postgres_queue.h"
#include "queue/rabbitmq/rabbitmq_queue.h"
#include "queue/redis/redis_queue.h"

namespace mqlab::queue {
namespace {

Result<std::unique_ptr<JobQueue>> OpenMemory(const QueueOptions& o) {
  return std::make_unique<MemoryQueue>(MemoryQueueOptions{.capacity = o.capacity});
}

Result<std::unique_ptr<JobQueue>> OpenRedis(const QueueOptions& o) {
  RedisQueueOptions r{.name = o.name, .group = o.consumer_group, .consumer = o.consumer_id,
                      .lease = o.lease, .capacity = o.capacity};
  if (!o.url.empty()) r.url = o.url;
  r.prefetch = static_cast<size_t>(std::max(1, o.prefetch));
  auto q = RedisQueue::Open(std::move(r));
  if (!q) return std::unexpected(q.error());
  return std::unique_ptr<JobQueue>(std::move(*q));
}

}  // namespace

const std::vector<BackendEntry>& Backends() {
  static const std::vector<BackendEntry> table = {
      {"memory", "mem", OpenMemory},
      {"postgres", "v3", OpenPostgresQueue},
      {"redis", "v4", OpenRedis},
      {"rabbitmq", "v5", OpenRabbitMqQueue},
      {"kafka", "v6", kafka::OpenKafkaQueue},
  };
  return table;
}

Result<std::unique_ptr<JobQueue>> OpenQueue(const QueueOptions& options) {
  std::string known;
  for (const BackendEntry& e : Backends()) {
    if (e.kind == options.kind) return e.open(options);
    known += known.empty() ? "" : ", ";
    known += e.kind;
  }
  return InvalidArgument(fmt::format("unknown queue kind '{}' (known: {})", options.kind, known));
}

}  // namespace mqlab::queue
