// Consumer: the RabbitMQ backend's consumer side — one connection, one channel, one
// basic.consume with manual acknowledgements and basic.qos(prefetch), owned by one thread.
//
// Why a thread of its own: a rabbitmq-c connection is not thread-safe, acks must travel on the
// channel the delivery came on, and a consumer must keep reading (deliveries, heartbeats, the
// broker closing the channel) even while no worker thread is in Receive. So the consumer thread
// alone touches the connection: it poll()s the socket and an eventfd, moves deliveries into a
// buffer (never more than `prefetch`: the broker sends no more than that unacknowledged), and
// writes the acks and requeues (basic.nack requeue=true) that worker threads queue through
// Settle(). Many worker threads Take() and Settle() concurrently under one short mutex; nobody
// holds it across I/O. The alternative, a lock around the connection, would make every Receive
// wait out another thread's blocking read.
//
// Each connection has a generation number; a delivery remembers the one it came on. When the
// connection breaks (broker restart, heartbeat timeout) the broker requeues everything it had
// sent us, so the buffer is emptied and settling an older delivery fails with kUnavailable
// (harmless: it comes back). The thread reconnects with backoff (100 ms doubling to 2 s),
// declares the topology again and consumes again, for the life of the object. While it is down
// Take() fails at once with kUnavailable and the last error, so callers never hang.
//
// Heartbeats (default 5 s) make a silent dead peer visible within ~2 heartbeats.
//
// Threading: every public method may be called from any thread; the connection belongs to the
// consumer thread, started by the first Take().
#ifndef MQLAB_QUEUE_RABBITMQ_CONSUMER_H_
#define MQLAB_QUEUE_RABBITMQ_CONSUMER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "queue/rabbitmq/amqp_util.h"

namespace mqlab::queue::rabbitmq {

struct RawDelivery {
  uint64_t generation = 0;  // of the connection it came on
  uint64_t tag = 0;         // its delivery tag on that connection's channel
  std::string body;
};

enum class Settlement { kAck, kRequeue };

struct ConsumerOptions {
  ConnectParams connect;
  // basic.qos prefetch count: deliveries held unacknowledged at once. Default: 1.
  int prefetch = 1;
  // Reconnect backoff, doubling from min to max. Default: 100 ms to 2 s.
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{2000};
};

class Consumer {
 public:
  Consumer(AmqpUrl url, Topology topology, ConsumerOptions options);
  ~Consumer();  // Close()
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // The next delivery, or nullopt after `timeout`. kUnavailable when closed or disconnected.
  Result<std::optional<RawDelivery>> Take(std::chrono::milliseconds timeout);
  // Queues an ack or requeue of a delivery for the consumer thread (returns without waiting for
  // the write: an ack that is lost only means a redelivery). kUnavailable if the connection it
  // came on is gone (the broker redelivers it) or the consumer is closed.
  Status Settle(uint64_t generation, uint64_t tag, Settlement how);
  // True while the connection of `generation` is the live one.
  bool IsCurrent(uint64_t generation);
  // Backlog measured by the consumer thread, after the acks queued so far: ready messages of the
  // main and retry queues plus deliveries buffered here and not yet taken (a message sent to us
  // is backlog until a worker takes it). Counted until two counts agree (see DepthOnChannel).
  // nullopt when not consuming now.
  std::optional<Result<int64_t>> Depth(std::chrono::milliseconds timeout);
  // Sends the queued acks, closes the connection (the broker requeues what was not acked), stops
  // the thread and fails later calls with kUnavailable. Idempotent.
  void Close();

 private:
  enum class State { kIdle, kConnecting, kUp, kDown };
  struct Command {
    enum Kind { kAck, kRequeue, kDepth } kind;
    uint64_t generation = 0;
    uint64_t tag = 0;
    std::shared_ptr<std::promise<Result<int64_t>>> depth;
  };

  void Run();  // the consumer thread
  Status ConnectAndConsume();
  void SetDown(const Error& error);
  Status Pump();
  Status ProcessCommands();
  Status ReadFrames();
  Status HandleFrame(const amqp_frame_t& frame);
  Result<int64_t> CountOnce();
  Result<int64_t> DepthOnChannel();
  void Wake();

  const AmqpUrl url_;
  const Topology topology_;
  const ConsumerOptions options_;
  int wake_fd_ = -1;  // eventfd: Settle/Depth/Close wake the thread out of poll()

  std::mutex mu_;
  std::condition_variable ready_cv_;    // a delivery arrived, the state changed, or closed
  std::condition_variable backoff_cv_;  // the thread's reconnect wait; Close interrupts it
  std::deque<RawDelivery> buffer_;      // GUARDED_BY(mu_)
  std::deque<Command> commands_;        // GUARDED_BY(mu_)
  State state_ = State::kIdle;          // GUARDED_BY(mu_)
  std::string down_reason_;             // GUARDED_BY(mu_)
  uint64_t generation_ = 0;             // GUARDED_BY(mu_)
  bool closed_ = false;                 // GUARDED_BY(mu_)
  std::thread thread_;

  Connection conn_;  // owned by the consumer thread
};

}  // namespace mqlab::queue::rabbitmq

#endif  // MQLAB_QUEUE_RABBITMQ_CONSUMER_H_
