// JobQueue: the queue port (JobQueuePort of the original design), one implementation per backend.
//
// Messages carry a job id, never the job: the job store is the source of truth. Delivery is at
// least once on every backend: a consumer that dies without settling a delivery loses nothing, its
// message comes back to another consumer after the backend's lease/visibility timeout (or at once,
// where the broker tracks consumers itself). The worker loop, retries, metrics and store updates
// are written once above this port (src/worker), never per backend.
//
// Backends register by name (src/queue/registry.h); adding one touches its own folder and the
// registry, nothing else. Each adapter translates its client library's errors into mqlab::Error at
// its boundary: kUnavailable when the server cannot be reached, kResourceExhausted when a bounded
// queue is full.
//
// Thread-safety: a JobQueue may be used from many threads at once (a backend whose connections
// belong to one thread keeps one per thread or a pool). A Delivery is settled once, by one thread.
#ifndef MQLAB_QUEUE_JOB_QUEUE_H_
#define MQLAB_QUEUE_JOB_QUEUE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/common/clock.h"
#include "mqlab/common/status.h"

namespace mqlab::queue {

struct Message {
  std::string job_id;
  int attempt = 1;         // 1 on the first delivery; Retry() enqueues attempt + 1
  WallTime enqueued_at{};  // when this attempt entered the queue (queue-wait metrics)
  std::string request_id;  // the API request that created the job (log correlation)
};

// The wire form every broker backend carries: compact JSON
// {"jobId":"…","attempt":1,"enqueuedAt":<unix µs>,"requestId":"…"}.
// Decode rejects anything else (a worker dead-letters what it cannot decode).
std::string EncodeMessage(const Message& message);
Result<Message> DecodeMessage(std::string_view wire);

// What a backend does natively (the rest the worker loop or the adapter emulates).
struct Capabilities {
  bool native_delay = false;       // Retry(delay) is held by the server, not by a client timer
  bool broker_redelivery = false;  // a dead consumer's message returns at once (no lease wait)
  bool push_wakeup = false;        // Receive blocks on the server instead of polling
  bool batch_ack = false;          // acknowledgements can be batched
  bool shared = false;             // producers and consumers may be separate processes
  // The job store's row is the message (V3): a stored job is claimable whatever Enqueue does,
  // so a failed Enqueue after the row was stored only delays the wake-up.
  bool store_is_queue = false;
};

struct DeadLetter {
  Message message;
  std::string reason;
};

// One received message. Exactly one of Ack, Retry or DeadLetter settles it; a Delivery destroyed
// unsettled is released, to be delivered again (at once where the backend can, else after the
// lease) with the same attempt number.
class Delivery {
 public:
  virtual ~Delivery() = default;
  const Message& message() const { return message_; }
  // Non-empty when the payload could not be decoded (DecodeMessage's reason); message() is then
  // empty. The worker dead-letters such a delivery with this reason, once, above the port.
  const std::string& decode_error() const { return decode_error_; }

  // Done: the message will not be delivered again.
  virtual Status Ack() = 0;
  // Deliver again no sooner than `delay` from now, with attempt + 1.
  virtual Status Retry(std::chrono::milliseconds delay) = 0;
  // Move to the backend's dead-letter queue with a reason; never delivered again.
  virtual Status DeadLetter(std::string_view reason) = 0;

 protected:
  explicit Delivery(Message message) : message_(std::move(message)) {}
  Delivery(Message message, std::string decode_error)
      : message_(std::move(message)), decode_error_(std::move(decode_error)) {}
  Message message_;
  std::string decode_error_;
};

struct ReceiveParams {
  // How long to wait for a message. Default: 200 ms, short enough that a stopping worker notices.
  std::chrono::milliseconds timeout{200};
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  virtual std::string_view kind() const = 0;  // "memory", "postgres", "redis", ...
  virtual Capabilities capabilities() const = 0;

  // Adds a message. kResourceExhausted if the queue is bounded and full; kUnavailable if the
  // server is unreachable (fails fast: never blocks longer than the backend's connect timeout).
  virtual Status Enqueue(const Message& message) = 0;
  // The next message, or nullptr if none arrived within params.timeout. kUnavailable once Close()
  // was called or the server is unreachable.
  virtual Result<std::unique_ptr<Delivery>> Receive(const ReceiveParams& params) = 0;
  // Messages waiting to be delivered (ready + delayed), not counting those held by consumers.
  virtual Result<int64_t> Depth() = 0;
  // The oldest dead letters, up to `limit`, without removing them.
  virtual Result<std::vector<queue::DeadLetter>> PeekDeadLetters(size_t limit) = 0;
  // Wakes every blocked Receive and makes later calls fail with kUnavailable. Idempotent.
  virtual void Close() = 0;
};

}  // namespace mqlab::queue

#endif  // MQLAB_QUEUE_JOB_QUEUE_H_
