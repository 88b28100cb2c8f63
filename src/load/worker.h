// Worker: one generator thread — its own io_context, connections, arrival schedule, recorder and
// follower. Threads share nothing but the immutable Plan: no lock on the hot path.
//
// Open model (docs/notes-load.md § Drop policy): at each intended send time the dispatcher hands
// the request to an idle connection, or opens a new one while fewer than the thread's share of
// `connections` are open. When every connection is busy the arrival waits in a FIFO backlog and
// is sent as soon as a connection frees — its latency still counted from its intended time; when
// the backlog is full, or an arrival waited longer than `timeout`, it is dropped. A request
// handed over more than `late_after` after its intended time (backlog, or the generator itself
// fell behind) counts as late.
// Closed model: `vus` coroutines, one connection each, sending back to back; after a connection
// error a user pauses 10 ms (a refused connection would otherwise spin a core).
//
// End: no arrival after the planned end (or a stop); requests in flight finish or time out; the
// backlog still drains (an arrival is never forgotten, only sent late or dropped); then --follow
// goes on until its jobs finished or its timeout. A stop drops the backlog and stops following.
//
// Threading: construct, Preconnect and Arm on the controlling thread before Run; Run on the
// worker's own thread; RequestStop and live() from any thread.
#ifndef MQLAB_LOAD_WORKER_H_
#define MQLAB_LOAD_WORKER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "load/connection.h"
#include "load/follower.h"
#include "load/recorder.h"
#include "load/schedule.h"

namespace mqlab::load {

// What every worker shares, read-only once the workers run.
struct Plan {
  LoadOptions options;  // defaults resolved, seed drawn
  Target target;
  RateProfile profile{0, {}};  // open model
  SteadyTime start{};          // t = 0 of the schedule: the warm-up begins
  WallTime start_wall{};       // `start` on the wall clock
  SteadyTime measure_start{};  // start + warm-up
  SteadyTime measure_end{};    // measure_start + the measured duration
};

class Worker {
 public:
  // Worker `index` of plan.options.threads; `plan` must outlive it.
  Worker(const Plan& plan, int index);
  ~Worker();

  // Opens up to `n` of this worker's connections now, so that connecting is not measured.
  void Preconnect(int n);
  // Fixes the clock: call after plan.start and friends are set, before Run.
  void Arm();
  // Runs this thread's share of the test to its end. Errors: Internal if a coroutine threw.
  Status Run();
  // Thread-safe: stop sending now (see the file comment).
  void RequestStop();

  const Recorder& recorder() const { return *recorder_; }
  double cpu_seconds() const { return cpu_seconds_; }
  double spin_seconds() const { return spin_seconds_; }  // of cpu_seconds, spent idle-spinning
  int max_connections() const { return max_connections_; }

 private:
  net::awaitable<void> Main();
  net::awaitable<void> Dispatch();
  net::awaitable<void> Serve(Connection& c, SteadyTime intended);
  net::awaitable<void> VirtualUser(Connection& c);
  net::awaitable<Outcome> Send(Connection& c, std::optional<SteadyTime> intended);
  net::awaitable<void> Sweep();
  void Arrive(SteadyTime intended);
  Connection* NewConnection();
  std::optional<SteadyTime> NextFromBacklog();
  void OnStop();
  void MaybeSubmitsDone();
  bool Finished() const;

  const Plan& plan_;
  const int index_;
  net::io_context ioc_;
  int max_connections_ = 0;
  size_t backlog_cap_ = 0;
  std::optional<Recorder> recorder_;
  std::optional<ArrivalSchedule> schedule_;
  std::unique_ptr<Follower> follower_;

  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> all_, idle_;
  std::deque<SteadyTime> backlog_;
  net::steady_timer dispatch_timer_, sweep_timer_;
  int active_ = 0;  // Serve / VirtualUser coroutines running
  bool dispatch_done_ = false, submits_done_ = false, follow_done_ = false, stopping_ = false;
  double cpu_seconds_ = 0, spin_seconds_ = 0;
};

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_WORKER_H_
