// PgListener: the LISTEN side of the V3 queue's wake-up, on a connection of its own.
//
// A thread holds one dedicated libpq connection (never a pooled one: a pooled connection is
// lent to other threads between statements, and LISTEN belongs to its session), LISTENs on a
// channel and calls on_wake for every notification whose payload is ours. It connects without
// blocking (PQconnectStartParams + poll), so Stop is prompt even while the server is away; it
// reconnects with backoff (100 ms doubling to 5 s) and calls on_wake after every (re)connect,
// since notifications sent while it was away are lost.
//
// Threading: Start/Stop from the owner's thread; on_wake runs on the listener thread and must be
// quick (it takes a mutex and notifies a condition variable).
#ifndef MQLAB_QUEUE_POSTGRES_PG_LISTENER_H_
#define MQLAB_QUEUE_POSTGRES_PG_LISTENER_H_

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace mqlab::queue::pgq {

struct PgListenerOptions {
  std::string url;                  // libpq URL or key=value string. Default: none, required.
  int connect_timeout_seconds = 5;  // gives up a connection attempt after this. Default: 5 s.
  std::string channel;              // LISTEN channel. Default: none, required.
  std::string payload;              // wake only for this payload. Default: none, required.
};

class PgListener {
 public:
  PgListener(PgListenerOptions options, std::function<void()> on_wake);
  ~PgListener();  // Stop()

  void Start();
  void Stop();  // idempotent

 private:
  struct Conn;
  void Run();
  // Waits until `fd` is readable (or writable), the stop event fires, or `timeout_ms` passes.
  // Returns 1 if `fd` is ready, 0 on timeout, -1 on stop.
  int Wait(int fd, bool for_write, int timeout_ms);
  bool Connect(Conn& conn);
  void Listen(Conn& conn);
  void Backoff(int& delay_ms);

  const PgListenerOptions options_;
  const std::function<void()> on_wake_;
  int stop_fd_ = -1;  // eventfd written by Stop
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace mqlab::queue::pgq

#endif  // MQLAB_QUEUE_POSTGRES_PG_LISTENER_H_
