#include "queue/registry.h"

#include <fmt/format.h>

#include "queue/memory/memory_queue.h"

namespace mqlab::queue {
namespace {

Result<std::unique_ptr<JobQueue>> OpenMemory(const QueueOptions& o) {
  return std::make_unique<MemoryQueue>(MemoryQueueOptions{.capacity = o.capacity});
}

}  // namespace

const std::vector<BackendEntry>& Backends() {
  static const std::vector<BackendEntry> table = {
      {"memory", "mem", OpenMemory},
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
