// Micro-benchmarks of the memory queue (the `/mem` baseline and `mqlab serve`'s queue): one
// Enqueue → Receive → Ack on one thread (the uncontended cost), and producers and consumers on
// separate threads (the mutex hand-off the header's comment speaks of).
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>

#include "mqlab/domain/job.h"
#include "queue/memory/memory_queue.h"

namespace mqlab::queue {
namespace {

Message Sample() { return {.job_id = NewJobId(), .attempt = 1, .enqueued_at = Clock::Real().Now()}; }

void BM_MemoryQueueRoundTrip(benchmark::State& state) {
  MemoryQueue q;
  const Message m = Sample();
  for (auto _ : state) {
    if (!q.Enqueue(m)) state.SkipWithError("enqueue failed");
    auto d = q.Receive({.timeout = std::chrono::milliseconds(0)});
    if (!d || !*d || !(*d)->Ack()) state.SkipWithError("receive/ack failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryQueueRoundTrip);

// One producer thread and state.range(0) consumer threads; items/s is the hand-off rate.
void BM_MemoryQueueHandOff(benchmark::State& state) {
  const int consumers = static_cast<int>(state.range(0));
  const Message m = Sample();
  for (auto _ : state) {
    MemoryQueue q;
    constexpr int kN = 20000;
    std::atomic<int> acked{0};
    std::vector<std::thread> ts;
    for (int c = 0; c < consumers; ++c) {
      ts.emplace_back([&] {
        while (acked.load() < kN) {
          auto d = q.Receive({.timeout = std::chrono::milliseconds(5)});
          if (d && *d && (*d)->Ack()) ++acked;
        }
      });
    }
    for (int i = 0; i < kN; ++i) (void)q.Enqueue(m);
    for (auto& t : ts) t.join();
    state.SetItemsProcessed(state.items_processed() + kN);
  }
}
BENCHMARK(BM_MemoryQueueHandOff)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace mqlab::queue
