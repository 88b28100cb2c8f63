#include "load/follower.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <exception>
#include <nlohmann/json.hpp>

namespace mqlab::load {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

SteadyTime Now() { return std::chrono::steady_clock::now(); }

void Rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

std::optional<WallTime> TimeField(const nlohmann::json& job, const char* name) {
  auto it = job.find(name);
  if (it == job.end() || !it->is_string()) return std::nullopt;
  auto t = ParseRfc3339(it->get<std::string>());
  if (!t) return std::nullopt;
  return *t;
}

// "/v3/ocr/jobs/ID" from a Location value: a path, or an absolute URL's path and query.
std::string PathOf(const std::string& location) {
  if (location.starts_with("/")) return location;
  auto url = boost::urls::parse_uri(location);
  if (!url) return "";
  std::string path(url->encoded_path());
  if (path.empty()) return "";
  if (url->has_query()) path += "?" + std::string(url->encoded_query());
  return path;
}

}  // namespace

Follower::Follower(net::io_context& ioc, const Target& target, const LoadOptions& options,
                   double poll_rate, Recorder& recorder, SteadyTime steady_zero, WallTime wall_zero)
    : ioc_(ioc),
      target_(target),
      options_(options),
      recorder_(recorder),
      steady_zero_(steady_zero),
      wall_zero_(wall_zero),
      rate_(poll_rate),
      tick_(ioc) {
  for (int i = 0; i < options.poll_connections; ++i) {
    connections_.push_back(std::make_unique<Connection>(ioc));
    all_.push_back(connections_.back().get());
    idle_.push_back(connections_.back().get());
  }
}

std::string Follower::JobPath(const Connection& submit) const {
  if (!submit.location.empty()) return PathOf(submit.location);
  auto body = nlohmann::json::parse(submit.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return "";
  if (auto it = body.find("location"); it != body.end() && it->is_string()) {
    return PathOf(it->get<std::string>());
  }
  if (auto it = body.find("jobId"); it != body.end() && it->is_string()) {
    std::string base = target_.path.substr(0, target_.path.find('?'));
    if (!base.ends_with("/")) base += "/";
    return base + it->get<std::string>();
  }
  return "";
}

void Follower::Track(const Connection& submit, SteadyTime origin) {
  std::string path = JobPath(submit);
  const bool follow =
      !path.empty() && !finished_ && waiting_.size() + ready_.size() + in_flight_ < kMaxTracked;
  const bool measured = recorder_.Measured(origin);
  if (measured) recorder_.Accepted(follow);
  if (!follow) return;
  if (!measured) ++warmup_open_;
  waiting_.push(Job{std::move(path), origin, Now() + kFirstPoll, kFirstPoll});
}

void Follower::SubmitsDone(SteadyTime now) {
  submits_done_ = true;
  give_up_at_ = now + options_.follow_timeout;
  tick_.cancel();
}

void Follower::Stop() {
  stopped_ = true;
  tick_.cancel();
}

bool Follower::Done() const {
  if (stopped_) return true;
  if (!submits_done_) return false;
  return (waiting_.empty() && ready_.empty() && in_flight_ == 0) || Now() >= give_up_at_;
}

void Follower::Refill(SteadyTime now) {
  if (last_refill_ != SteadyTime{}) {
    // A burst of at most 50 ms of polls (and at least one): the bucket spreads polls evenly.
    const double burst = std::max(1.0, rate_ * 0.05);
    tokens_ = std::min(burst,
                       tokens_ + rate_ * std::chrono::duration<double>(now - last_refill_).count());
  }
  last_refill_ = now;
}

net::awaitable<void> Follower::Run() {
  while (!Done()) {
    const SteadyTime now = Now();
    Refill(now);
    while (!waiting_.empty() && waiting_.top().due <= now) {
      ready_.push_back(waiting_.top());
      waiting_.pop();
    }
    while (!ready_.empty() && !idle_.empty() && tokens_ >= 1) {
      tokens_ -= 1;
      Connection* c = idle_.back();
      idle_.pop_back();
      ++in_flight_;
      Job job = std::move(ready_.front());
      ready_.pop_front();
      net::co_spawn(ioc_, PollLoop(*c, std::move(job)), Rethrow);
    }
    tick_.expires_after(kTick);
    co_await tick_.async_wait(kTuple);
  }
  finished_ = true;
  recorder_.Unfinished(waiting_.size() + ready_.size() + in_flight_ - warmup_open_ + abandoned_);
  for (Connection* c : all_) c->Close();  // polls in flight end now, uncounted
}

net::awaitable<void> Follower::PollLoop(Connection& c, Job job) {
  std::string request;
  for (;;) {
    BuildPoll(target_, job.path, request);
    Exchanged r = co_await Exchange(c, target_, request, options_.timeout, /*keep_body=*/true);
    if (finished_) co_return;  // counted as unfinished by Run
    --in_flight_;
    Handle(std::move(job), r, c);
    if (ready_.empty() || tokens_ < 1 || stopped_) break;
    tokens_ -= 1;
    ++in_flight_;
    job = std::move(ready_.front());
    ready_.pop_front();
  }
  idle_.push_back(&c);
}

void Follower::Handle(Job job, const Exchanged& r, const Connection& c) {
  const bool answered = r.outcome == Outcome::kResponse;
  recorder_.Poll(!answered || r.status != 200);
  if (answered && r.status == 200) {
    auto body = nlohmann::json::parse(c.body, nullptr, /*allow_exceptions=*/false);
    auto status = body.is_object() ? body.find("status") : body.end();
    if (status != body.end() && status->is_string() &&
        (*status == "SUCCESS" || *status == "FAILED")) {
      const WallTime origin_wall =
          wall_zero_ + std::chrono::duration_cast<WallTime::duration>(job.origin - steady_zero_);
      recorder_.JobFinished(job.origin, origin_wall, r.done, TimeField(body, "createdAt"),
                            TimeField(body, "finishedAt"), *status == "SUCCESS");
      if (!recorder_.Measured(job.origin)) --warmup_open_;
      return;
    }
  } else if (answered && r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429) {
    // Not a job we can follow (404, 401, …): polling again will not help.
    if (recorder_.Measured(job.origin)) {
      ++abandoned_;
    } else {
      --warmup_open_;
    }
    return;
  }
  job.interval = std::min(job.interval * 2, std::chrono::milliseconds(kMaxInterval));
  job.due = r.done + job.interval;
  waiting_.push(std::move(job));
}

}  // namespace mqlab::load
