// AdmissionGate: a bounded number of requests running and a bounded queue waiting in front of
// them — the capacity knob of every synchronous path (the OCR server's model instances, V0's
// request threads, V1's executor, V2's servers) and its backpressure.
//
// Enter() admits a request if fewer than max_running + max_waiting are inside, else rejects at
// once (the caller answers 503 with Retry-After). An admitted request waits, without blocking a
// thread, until one of max_running slots is free; the returned Permit frees its slot when it dies.
// Waiters are served first in, first out.
//
// Why a channel: asio's concurrent_channel holding max_running tokens is an asynchronous
// semaphore with a FIFO of waiters, shared safely by coroutines on any thread.
//
// Threading: thread-safe; Enter is a coroutine on any executor. The gate must outlive its permits.
#ifndef MQLAB_SYNC_ADMISSION_GATE_H_
#define MQLAB_SYNC_ADMISSION_GATE_H_

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>

namespace mqlab::sync {

class AdmissionGate {
 public:
  // `max_waiting` is the bounded queue: with backpressure off the caller passes the hard cap.
  AdmissionGate(boost::asio::io_context& io, size_t max_running, size_t max_waiting);
  AdmissionGate(const AdmissionGate&) = delete;
  AdmissionGate& operator=(const AdmissionGate&) = delete;

  class Permit {
   public:
    explicit Permit(AdmissionGate* gate) : gate_(gate) {}
    Permit(Permit&& o) noexcept : gate_(std::exchange(o.gate_, nullptr)) {}
    Permit& operator=(Permit&&) = delete;
    ~Permit();

   private:
    AdmissionGate* gate_;
  };

  // A running slot (after waiting for it), or nullopt when the gate is full or closed.
  boost::asio::awaitable<std::optional<Permit>> Enter();
  // Wakes every waiter with a rejection; later Enter calls reject. Idempotent.
  void Close();

  size_t running() const { return running_.load(); }
  size_t waiting() const { return waiting_.load(); }
  size_t max_running() const { return max_running_; }
  size_t max_waiting() const { return max_waiting_; }

 private:
  using Channel =
      boost::asio::experimental::concurrent_channel<void(boost::system::error_code)>;
  void Release();

  const size_t max_running_;
  const size_t max_waiting_;
  Channel tokens_;
  std::atomic<size_t> inside_{0};   // running + waiting, for admission
  std::atomic<size_t> running_{0};
  std::atomic<size_t> waiting_{0};
};

}  // namespace mqlab::sync

#endif  // MQLAB_SYNC_ADMISSION_GATE_H_
