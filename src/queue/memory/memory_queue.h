// The in-process queue: the ideal-queue baseline of the study (`/mem`) and the queue of
// `mqlab serve`.
//
// A bounded multi-producer multi-consumer queue under one mutex with two condition variables'
// worth of waiting folded into one (consumers wait for "ready or the next delayed message is due").
// Delayed retries sit in a min-heap by due time until they are due. A Delivery destroyed without
// being settled puts its message back at the head of the queue at once, so a consumer that throws
// loses nothing. Nothing survives the process: `serve` recovers unfinished jobs from its store at
// start-up (see src/app/embedded.cc).
//
// Why one mutex: at the rates the study needs (≤ ~100k messages/s on 2 cores) a mutex hand-off is
// a few hundred ns and keeps retry/delay/dead-letter logic obviously correct; the micro-benchmark
// bench/micro/memory_queue_bench.cc measures it.
//
// Thread-safety: every method may be called from any thread.
#ifndef MQLAB_QUEUE_MEMORY_MEMORY_QUEUE_H_
#define MQLAB_QUEUE_MEMORY_MEMORY_QUEUE_H_

#include <memory>

#include "mqlab/queue/job_queue.h"

namespace mqlab::queue {

struct MemoryQueueOptions {
  // Most messages held (ready + delayed). Enqueue beyond it fails with kResourceExhausted: this is
  // the hard cap that keeps memory bounded when backpressure is off. Retries of messages already
  // admitted never count against it, so a retry is never lost. Default: 100000.
  size_t capacity = 100000;
  // Dead letters kept for inspection; older ones are dropped first. Default: 10000.
  size_t dead_letter_capacity = 10000;
};

class MemoryQueue final : public JobQueue {
 public:
  explicit MemoryQueue(MemoryQueueOptions options = {});
  ~MemoryQueue() override;

  std::string_view kind() const override { return "memory"; }
  Capabilities capabilities() const override;
  Status Enqueue(const Message& message) override;
  Result<std::unique_ptr<Delivery>> Receive(const ReceiveParams& params) override;
  Result<int64_t> Depth() override;
  Result<std::vector<DeadLetter>> PeekDeadLetters(size_t limit) override;
  void Close() override;

  // Deliveries handed out and not yet settled.
  int64_t InFlight() const;

  struct State;  // shared with outstanding deliveries, which may outlive the queue

 private:
  std::shared_ptr<State> state_;
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_MEMORY_MEMORY_QUEUE_H_
