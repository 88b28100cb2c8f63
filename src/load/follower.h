// Follower: --follow for asynchronous APIs. Each 202 the submit side receives names a job (its
// Location header, else the body's "location" or "jobId"); the follower polls GET of that job
// until its status is SUCCESS or FAILED and records end-to-end latency, separately from the
// submit latency.
//
// Bounded polling, so that following does not become the load: each job is polled first 10 ms
// after its 202, then at doubling intervals up to 500 ms; polls are spread over a token bucket
// (LoadOptions::poll_rate, split over threads) and run on the follower's own connections
// (poll_connections per thread), never on the submit connections, so a slow poll cannot delay a
// submission and the submit clock stays the arrival schedule's.
//
// A job stops being followed when it finished, when a poll answers a client error other than
// 408/429 (the location is not a job: counted unfinished), or at the end: `follow_timeout` after
// the submit side finished, or at once after a stop. Whatever is left counts as unfinished.
//
// Threading: lives on one worker thread's io_context, like that worker's submit connections; no
// method is thread-safe.
#ifndef MQLAB_LOAD_FOLLOWER_H_
#define MQLAB_LOAD_FOLLOWER_H_

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "load/connection.h"
#include "load/recorder.h"

namespace mqlab::load {

class Follower {
 public:
  // Poll intervals: the first poll 10 ms after the 202 (a fast job is seen quickly), doubling up
  // to 500 ms (a slow job costs at most two polls a second).
  static constexpr std::chrono::milliseconds kFirstPoll{10};
  static constexpr std::chrono::milliseconds kMaxInterval{500};
  // How often due jobs are moved to the poll queue; also the resolution of the poll schedule.
  static constexpr std::chrono::milliseconds kTick{5};
  // Jobs followed at once per thread; beyond, a 202 is counted but not followed (memory bound).
  static constexpr size_t kMaxTracked = 1'000'000;

  // `target`, `recorder` must outlive the follower; `poll_rate` is this thread's share.
  // `origin_wall` maps a steady origin to the wall clock (for finishedAt − origin).
  Follower(net::io_context& ioc, const Target& target, const LoadOptions& options, double poll_rate,
           Recorder& recorder, SteadyTime steady_zero, WallTime wall_zero);

  // A 202 response just read on `submit`: follows the job it names. `origin` is the request's
  // intended (open) or actual (closed) send time.
  void Track(const Connection& submit, SteadyTime origin);
  // Polls until every tracked job has finished, or `follow_timeout` after SubmitsDone, or Stop.
  net::awaitable<void> Run();
  void SubmitsDone(SteadyTime now);
  void Stop();

  std::span<Connection* const> connections() const { return all_; }

 private:
  struct Job {
    std::string path;
    SteadyTime origin;
    SteadyTime due;
    std::chrono::milliseconds interval;
  };
  struct LaterDue {
    bool operator()(const Job& a, const Job& b) const { return a.due > b.due; }
  };

  // The path to poll for the job a 202 names, or "" if it names none.
  std::string JobPath(const Connection& submit) const;
  net::awaitable<void> PollLoop(Connection& c, Job job);
  // Handles one poll's outcome: records a finished job, or schedules the next poll.
  void Handle(Job job, const Exchanged& r, const Connection& c);
  void Refill(SteadyTime now);
  bool Done() const;

  net::io_context& ioc_;
  const Target& target_;
  const LoadOptions& options_;
  Recorder& recorder_;
  const SteadyTime steady_zero_;
  const WallTime wall_zero_;
  const double rate_;
  double tokens_ = 1;
  SteadyTime last_refill_{};

  std::priority_queue<Job, std::vector<Job>, LaterDue> waiting_;
  std::deque<Job> ready_;
  size_t in_flight_ = 0;
  uint64_t abandoned_ = 0;
  uint64_t warmup_open_ = 0;  // warm-up jobs followed and not finished (never "unfinished")
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<Connection*> all_, idle_;
  net::steady_timer tick_;
  bool submits_done_ = false, stopped_ = false, finished_ = false;
  SteadyTime give_up_at_ = SteadyTime::max();
};

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_FOLLOWER_H_
