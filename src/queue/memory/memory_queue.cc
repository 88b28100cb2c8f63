#include "queue/memory/memory_queue.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <queue>

namespace mqlab::queue {

struct Delayed {
  std::chrono::steady_clock::time_point due;
  uint64_t seq;  // FIFO among equal due times
  Message message;
  bool operator>(const Delayed& o) const { return due != o.due ? due > o.due : seq > o.seq; }
};

struct MemoryQueue::State {
  explicit State(MemoryQueueOptions o) : options(o) {}

  const MemoryQueueOptions options;
  mutable std::mutex mu;
  std::condition_variable cv;  // a message became ready or due, or the queue closed
  std::deque<Message> ready;
  std::priority_queue<Delayed, std::vector<Delayed>, std::greater<>> delayed;
  std::deque<DeadLetter> dead;
  uint64_t seq = 0;
  int64_t in_flight = 0;
  bool closed = false;

  // REQUIRES: mu held.
  void PromoteDue(std::chrono::steady_clock::time_point now) {
    while (!delayed.empty() && delayed.top().due <= now) {
      ready.push_back(std::move(const_cast<Delayed&>(delayed.top()).message));
      delayed.pop();
    }
  }
};

namespace {

class MemoryDelivery final : public Delivery {
 public:
  MemoryDelivery(std::shared_ptr<MemoryQueue::State> state, Message m)
      : Delivery(std::move(m)), state_(std::move(state)) {}

  ~MemoryDelivery() override {
    if (settled_) return;
    // Released unsettled: back to the head, same attempt (see job_queue.h).
    std::lock_guard lock(state_->mu);
    --state_->in_flight;
    state_->ready.push_front(std::move(message_));
    state_->cv.notify_one();
  }

  Status Ack() override {
    if (auto s = Settle(); !s) return s;
    std::lock_guard lock(state_->mu);
    --state_->in_flight;
    return Ok();
  }

  Status Retry(std::chrono::milliseconds delay) override {
    if (auto s = Settle(); !s) return s;
    Message next = message_;
    next.attempt += 1;
    std::lock_guard lock(state_->mu);
    --state_->in_flight;
    if (delay.count() <= 0) {
      state_->ready.push_back(std::move(next));
    } else {
      state_->delayed.push(
          Delayed{std::chrono::steady_clock::now() + delay, state_->seq++, std::move(next)});
    }
    // notify_all: a waiter sleeping until a later due time must recompute its deadline.
    state_->cv.notify_all();
    return Ok();
  }

  Status DeadLetter(std::string_view reason) override {
    if (auto s = Settle(); !s) return s;
    std::lock_guard lock(state_->mu);
    --state_->in_flight;
    state_->dead.push_back(queue::DeadLetter{message_, std::string(reason)});
    while (state_->dead.size() > state_->options.dead_letter_capacity) state_->dead.pop_front();
    return Ok();
  }

 private:
  Status Settle() {
    if (settled_) return FailedPrecondition("delivery already settled");
    settled_ = true;
    return Ok();
  }

  std::shared_ptr<MemoryQueue::State> state_;
  bool settled_ = false;
};

}  // namespace

MemoryQueue::MemoryQueue(MemoryQueueOptions options)
    : state_(std::make_shared<State>(options)) {}

MemoryQueue::~MemoryQueue() { Close(); }

Capabilities MemoryQueue::capabilities() const {
  return Capabilities{.native_delay = true,
                      .broker_redelivery = true,
                      .push_wakeup = true,
                      .batch_ack = false,
                      .shared = false};
}

Status MemoryQueue::Enqueue(const Message& message) {
  std::lock_guard lock(state_->mu);
  if (state_->closed) return Unavailable("memory queue is closed");
  if (state_->ready.size() + state_->delayed.size() >= state_->options.capacity) {
    return ResourceExhausted("memory queue is full");
  }
  state_->ready.push_back(message);
  state_->cv.notify_one();
  return Ok();
}

Result<std::unique_ptr<Delivery>> MemoryQueue::Receive(const ReceiveParams& params) {
  const auto deadline = std::chrono::steady_clock::now() + params.timeout;
  std::unique_lock lock(state_->mu);
  for (;;) {
    if (state_->closed) return Unavailable("memory queue is closed");
    auto now = std::chrono::steady_clock::now();
    state_->PromoteDue(now);
    if (!state_->ready.empty()) {
      Message m = std::move(state_->ready.front());
      state_->ready.pop_front();
      ++state_->in_flight;
      lock.unlock();
      return std::make_unique<MemoryDelivery>(state_, std::move(m));
    }
    if (now >= deadline) return std::unique_ptr<Delivery>();
    auto wake = deadline;
    if (!state_->delayed.empty()) wake = std::min(wake, state_->delayed.top().due);
    state_->cv.wait_until(lock, wake);
  }
}

Result<int64_t> MemoryQueue::Depth() {
  std::lock_guard lock(state_->mu);
  return static_cast<int64_t>(state_->ready.size() + state_->delayed.size());
}

int64_t MemoryQueue::InFlight() const {
  std::lock_guard lock(state_->mu);
  return state_->in_flight;
}

Result<std::vector<DeadLetter>> MemoryQueue::PeekDeadLetters(size_t limit) {
  std::lock_guard lock(state_->mu);
  std::vector<DeadLetter> out;
  for (size_t i = 0; i < state_->dead.size() && i < limit; ++i) out.push_back(state_->dead[i]);
  return out;
}

void MemoryQueue::Close() {
  std::lock_guard lock(state_->mu);
  state_->closed = true;
  state_->cv.notify_all();
}

}  // namespace mqlab::queue
