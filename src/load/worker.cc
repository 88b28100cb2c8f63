#include "load/worker.h"

#include <sched.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "load/idle_spin.h"

namespace mqlab::load {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// After a connection error a virtual user waits this long: a refused connection fails in
// microseconds and would otherwise spin a core on errors.
constexpr std::chrono::milliseconds kErrorPause{10};

SteadyTime Now() { return std::chrono::steady_clock::now(); }

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

// Worker `index`'s part of `total` split over `parts` (the first ones take the remainder).
int64_t Share(int64_t total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

}  // namespace

Worker::Worker(const Plan& plan, int index)
    : plan_(plan), index_(index), ioc_(1), dispatch_timer_(ioc_), sweep_timer_(ioc_) {
  const LoadOptions& o = plan.options;
  const int64_t total = o.model() == Model::kClosed ? o.vus : o.connections;
  max_connections_ = static_cast<int>(Share(total, o.threads, index));
  backlog_cap_ = static_cast<size_t>(Share(o.backlog, o.threads, index));
}

Worker::~Worker() = default;

void Worker::Preconnect(int n) {
  n = std::min(n, max_connections_);
  for (int i = 0; i < n; ++i) {
    Connection* c = NewConnection();
    net::co_spawn(
        ioc_,
        [this, c]() -> net::awaitable<void> {
          if (co_await Open(*c, plan_.target))
            idle_.push_back(c);
          else
            c->Close();
        },
        Rethrow);
  }
  ioc_.run();
  ioc_.restart();
  // Connections that failed to open are opened again on first use.
  for (Connection* c : all_) {
    if (!c->socket.is_open() && std::find(idle_.begin(), idle_.end(), c) == idle_.end()) {
      idle_.push_back(c);
    }
  }
}

void Worker::Arm() {
  const LoadOptions& o = plan_.options;
  recorder_.emplace(o.model(), plan_.measure_start, plan_.measure_end, o.late_after);
  for (Connection* c : all_) recorder_->connections_opened += c->socket.is_open() ? 1 : 0;
  if (o.model() == Model::kOpen) {
    schedule_.emplace(plan_.profile, o.arrivals, o.seed, o.threads, index_);
  }
  if (o.follow) {
    follower_ = std::make_unique<Follower>(ioc_, plan_.target, o, o.poll_rate / o.threads,
                                           *recorder_, plan_.start, plan_.start_wall);
  }
}

Status Worker::Run() {
  Status status = Ok();
  if (plan_.options.cpu_policy == CpuPolicy::kBatch) {
    // This thread only (Linux: a thread's policy); it needs no privilege. Should it fail, the
    // run goes on with the normal policy: a difference in figures, not in correctness.
    sched_param param{};
    sched_setscheduler(0, SCHED_BATCH, &param);
  }
  IdleSpin spin(plan_.options.idle_spin);  // resolved: never "auto" here
  try {
    net::co_spawn(ioc_, Main(), Rethrow);
    spin.Run(ioc_);
  } catch (const std::exception& e) {
    status = Internal(std::string("load generator thread failed: ") + e.what());
  }
  spin_seconds_ = std::chrono::duration<double>(spin.spun()).count();
  recorder_->Finish();
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  cpu_seconds_ = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  return status;
}

void Worker::RequestStop() {
  net::post(ioc_, [this] { OnStop(); });
}

void Worker::OnStop() {
  if (stopping_) return;
  stopping_ = true;
  const SteadyTime now = Now();
  recorder_->EndAt(now);
  dispatch_timer_.cancel();
  for (SteadyTime intended : backlog_) recorder_->Dropped(intended, DropReason::kStopped, now);
  backlog_.clear();
  if (follower_) follower_->Stop();
  MaybeSubmitsDone();
}

net::awaitable<void> Worker::Main() {
  net::co_spawn(ioc_, Sweep(), Rethrow);
  if (follower_) {
    net::co_spawn(
        ioc_,
        [this]() -> net::awaitable<void> {
          co_await follower_->Run();
          follow_done_ = true;
          sweep_timer_.cancel();
        },
        Rethrow);
  }
  if (plan_.options.model() == Model::kOpen) {
    co_await Dispatch();
    co_return;
  }
  dispatch_timer_.expires_at(plan_.start);
  co_await dispatch_timer_.async_wait(kTuple);
  while (!stopping_ && static_cast<int>(connections_.size()) < max_connections_) NewConnection();
  for (Connection* c : all_) {
    if (stopping_) break;
    ++active_;
    net::co_spawn(ioc_, VirtualUser(*c), Rethrow);
  }
  dispatch_done_ = true;
  MaybeSubmitsDone();
}

net::awaitable<void> Worker::Dispatch() {
  while (!stopping_) {
    std::optional<Nanos> at = schedule_->Next();
    if (!at) break;
    const SteadyTime intended = plan_.start + *at;
    if (intended > Now()) {
      dispatch_timer_.expires_at(intended);
      co_await dispatch_timer_.async_wait(kTuple);
      if (stopping_) break;
    }
    // Late timers and bursts: every arrival already due goes out now, each with its own
    // intended time — the generator never skips an arrival because it woke up late.
    Arrive(intended);
  }
  dispatch_done_ = true;
  MaybeSubmitsDone();
}

void Worker::Arrive(SteadyTime intended) {
  recorder_->Scheduled(intended);
  Connection* c = nullptr;
  if (!idle_.empty()) {
    c = idle_.back();  // the most recently used: warm caches, and idle ones may time out
    idle_.pop_back();
  } else if (static_cast<int>(connections_.size()) < max_connections_) {
    c = NewConnection();
  }
  if (c) {
    ++active_;
    net::co_spawn(ioc_, Serve(*c, intended), Rethrow);
  } else if (backlog_.size() >= backlog_cap_) {
    recorder_->Dropped(intended, DropReason::kBacklogFull, Now());
  } else {
    backlog_.push_back(intended);
  }
}

Connection* Worker::NewConnection() {
  connections_.push_back(std::make_unique<Connection>(ioc_));
  all_.push_back(connections_.back().get());
  return all_.back();
}

std::optional<SteadyTime> Worker::NextFromBacklog() {
  while (!backlog_.empty()) {
    const SteadyTime intended = backlog_.front();
    backlog_.pop_front();
    const SteadyTime now = Now();
    if (now - intended > plan_.options.timeout) {
      // A client would have given up on it by now: sending it would only measure the backlog.
      recorder_->Dropped(intended, DropReason::kExpired, now);
      continue;
    }
    return intended;
  }
  return std::nullopt;
}

net::awaitable<void> Worker::Serve(Connection& c, SteadyTime intended) {
  std::optional<SteadyTime> next = intended;
  while (next) {
    co_await Send(c, *next);
    next = NextFromBacklog();
  }
  idle_.push_back(&c);
  --active_;
  MaybeSubmitsDone();
}

net::awaitable<void> Worker::VirtualUser(Connection& c) {
  net::steady_timer pause(ioc_);
  while (!stopping_ && Now() < plan_.measure_end) {
    if (co_await Send(c, std::nullopt) == Outcome::kConnectionError && !stopping_) {
      pause.expires_after(kErrorPause);
      co_await pause.async_wait(kTuple);
    }
  }
  --active_;
  MaybeSubmitsDone();
}

net::awaitable<Outcome> Worker::Send(Connection& c, std::optional<SteadyTime> intended) {
  const Exchanged r = co_await Exchange(c, plan_.target, plan_.target.request,
                                        plan_.options.timeout, follower_ != nullptr);
  Recorder& rec = *recorder_;
  const SteadyTime origin = intended.value_or(r.sent);
  if (r.opened) ++rec.connections_opened;
  rec.Sent(origin, r.sent);
  switch (r.outcome) {
    case Outcome::kResponse:
      rec.Response(origin, r.sent, r.done, r.status);
      // Warm-up jobs are followed too: those finishing inside the measured window count in its
      // throughput (and in nothing else).
      if (follower_ && r.status == 202) follower_->Track(c, origin);
      break;
    case Outcome::kTimeout:
      rec.Timeout(origin, r.done);
      break;
    case Outcome::kConnectionError:
      rec.ConnectionError(origin, r.done);
      break;
  }
  co_return r.outcome;
}

net::awaitable<void> Worker::Sweep() {
  // A tenth of the timeout (1 ms to 100 ms): timeouts fire within 10% of their value, and the
  // sweep costs nothing measurable (a pass over this thread's connections).
  const Nanos period = std::clamp<Nanos>(plan_.options.timeout / 10, std::chrono::milliseconds(1),
                                         std::chrono::milliseconds(100));
  while (!Finished()) {
    sweep_timer_.expires_after(period);
    co_await sweep_timer_.async_wait(kTuple);
    const SteadyTime now = Now();
    ExpireOverdue(all_, now);
    if (follower_) ExpireOverdue(follower_->connections(), now);
  }
}

void Worker::MaybeSubmitsDone() {
  if (submits_done_ || !dispatch_done_ || active_ > 0) return;
  submits_done_ = true;
  if (follower_) follower_->SubmitsDone(Now());
  sweep_timer_.cancel();
}

bool Worker::Finished() const { return submits_done_ && (!follower_ || follow_done_); }

}  // namespace mqlab::load
