// RunLoad (load.h): set-up, the threads, the merge, the warnings.
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "load/load.h"
#include "load/machine.h"
#include "load/worker.h"

namespace mqlab::load {
namespace {

using namespace std::chrono_literals;

SteadyTime Now() { return std::chrono::steady_clock::now(); }
double Seconds(Nanos d) { return std::chrono::duration<double>(d).count(); }

uint64_t RandomSeed() {
  std::random_device rd;
  // 53 bits: the seed survives JSON readers that hold numbers as doubles.
  const uint64_t s = ((static_cast<uint64_t>(rd()) << 32) ^ rd()) & ((uint64_t{1} << 53) - 1);
  return s == 0 ? 1 : s;
}

int64_t Share(int64_t total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

// Connections opened before the clock starts: every virtual user's, or the open model's working
// set at its starting rate (Little's law with the expected latency); the rest open on demand.
int64_t WarmConnections(const LoadOptions& o) {
  if (o.model() == Model::kClosed) return o.vus;
  double start = o.rate;
  if (start <= 0 && !o.ramp.empty()) start = o.ramp.front().target_rate;
  const double working_set = std::ceil(start * Seconds(o.expected_latency));
  return std::min<int64_t>(o.connections,
                           std::max<int64_t>(o.threads, static_cast<int64_t>(working_set)));
}

void AddWarnings(LoadSummary& s) {
  const LoadOptions& o = s.options;
  auto pct = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  };
  if (s.dropped > 0) {
    s.warnings.push_back(fmt::format(
        "GENERATOR OVERLOADED: {} of {} scheduled requests ({:.2f}%) were DROPPED, never sent "
        "({} with the backlog full, {} waited longer than --timeout, {} at the stop). The offered "
        "load was not applied: these figures describe the generator, not the system. Raise "
        "--connections, --backlog or --threads, or lower the rate.",
        s.dropped, s.scheduled, pct(s.dropped, s.scheduled), s.dropped_backlog_full,
        s.dropped_expired, s.dropped_stopped));
  }
  if (s.late > 0) {
    s.warnings.push_back(fmt::format(
        "GENERATOR BEHIND: {} requests ({:.2f}%) were sent LATE, more than {} after their intended "
        "time (max send delay {:.1f} ms): all {} connections were busy or the generator fell "
        "behind. Their latency still counts from the intended time, but the system saw another "
        "arrival pattern than asked.",
        s.late, pct(s.late, s.scheduled), FormatDuration(o.late_after), s.send_delay.max_ms,
        o.connections));
  }
  // Idle spinning (--idle-spin) is CPU spent waiting, not working: it is left out.
  const double working = std::max(0.0, s.generator_cpu_seconds - s.generator_spin_seconds);
  const double busy = s.measured_seconds > 0 ? working / (s.measured_seconds * o.threads) : 0;
  if (busy > 0.9) {
    s.warnings.push_back(fmt::format(
        "GENERATOR SATURATED: its {} thread(s) were {:.0f}% busy; it may be the bottleneck "
        "(try more --threads, or run it on another machine).",
        o.threads, 100 * busy));
  }
  if (s.stopped_early) {
    s.warnings.push_back(fmt::format("stopped early: {:.1f} s of the planned {} were measured",
                                     s.measured_seconds, FormatDuration(o.MeasuredDuration())));
  }
  if (s.follow.unfinished > 0) {
    s.warnings.push_back(fmt::format(
        "{} followed jobs were not seen finished (--follow-timeout {}{})", s.follow.unfinished,
        FormatDuration(o.follow_timeout), s.stopped_early ? ", or the stop" : ""));
  }
}

LoadSummary Summarize(const Plan& plan, const std::vector<std::unique_ptr<Worker>>& workers,
                      SteadyTime stopped_at) {
  LoadSummary s;
  s.options = plan.options;
  s.machine = MachineInfo();
  s.started_at = plan.start_wall;
  std::vector<const Recorder*> recorders;
  for (const auto& w : workers) {
    recorders.push_back(&w->recorder());
    s.generator_cpu_seconds += w->cpu_seconds();
    s.generator_spin_seconds += w->spin_seconds();
  }
  Recorder::Merge(recorders, s);
  const SteadyTime end = std::min(plan.measure_end, stopped_at);
  s.stopped_early = stopped_at < plan.measure_end;
  s.measured_seconds = std::max(0.0, Seconds(end - plan.measure_start));
  const double secs = s.measured_seconds;
  auto per_second = [secs](double n) { return secs > 0 ? n / secs : 0.0; };
  s.achieved_rate = per_second(s.achieved_rate);  // Merge left the count there
  s.follow.jobs_per_second = per_second(s.follow.jobs_per_second);
  s.ok_per_second = per_second(s.ok_per_second);
  s.offered_rate = per_second(static_cast<double>(s.scheduled));
  s.sent_rate = per_second(static_cast<double>(s.sent));
  s.error_rate = s.sent == 0 ? 0 : static_cast<double>(s.errors()) / static_cast<double>(s.sent);
  s.follow.enabled = plan.options.follow;
  s.thresholds = EvaluateThresholds(s, plan.options.thresholds);
  for (const ThresholdResult& t : s.thresholds) s.thresholds_ok = s.thresholds_ok && t.ok;
  AddWarnings(s);
  return s;
}

// Validates, resolves defaults, draws the seed, resolves and probes the target.
Result<std::unique_ptr<Plan>> MakePlan(const LoadOptions& input) {
  if (Status v = input.Validate(); !v) return std::unexpected(v.error());
  auto plan = std::make_unique<Plan>();
  plan->options = ResolveDefaults(input);
  LoadOptions& o = plan->options;
  if (o.seed == 0) o.seed = RandomSeed();
  auto target = MakeTarget(o);
  if (!target) return std::unexpected(target.error());
  plan->target = std::move(*target);
  if (Status s = ProbeTarget(plan->target, o.url, std::min<Nanos>(o.timeout, 5s)); !s) {
    return std::unexpected(s.error());
  }
  if (o.model() == Model::kOpen) plan->profile = RateProfile::For(o);
  return plan;
}

// The clock starts a moment from now, once the threads run (a thread starts in well under the
// 5 ms lead, and 5 ms is below late_after's default).
void StartClock(Plan& plan) {
  const SteadyTime now = Now();
  plan.start = now + 5ms;
  plan.start_wall = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<WallTime::duration>(plan.start - now);
  plan.measure_start = plan.start + plan.options.warmup;
  plan.measure_end = plan.measure_start + plan.options.MeasuredDuration();
}

LoadProgress Progress(const Plan& plan, const std::vector<std::unique_ptr<Worker>>& workers) {
  LoadProgress p;
  const SteadyTime t = Now();
  p.elapsed_seconds = Seconds(t - plan.start);
  p.total_seconds = Seconds(plan.measure_end - plan.start);
  p.warming_up = t < plan.measure_start;
  for (const auto& w : workers) {
    const LiveCounters& c = w->recorder().live();
    p.sent += c.sent.load(std::memory_order_relaxed);
    p.completed += c.completed.load(std::memory_order_relaxed);
    p.errors += c.errors.load(std::memory_order_relaxed);
    p.dropped += c.dropped.load(std::memory_order_relaxed);
    p.late += c.late.load(std::memory_order_relaxed);
    p.jobs_finished += c.jobs_finished.load(std::memory_order_relaxed);
  }
  return p;
}

// Runs every worker on its own thread until all are done; `stop` reaches them at once. Returns
// when the stop came (SteadyTime::max() if none), or the first worker's error.
Result<SteadyTime> RunWorkers(const Plan& plan, const std::vector<std::unique_ptr<Worker>>& workers,
                              std::stop_token stop, const ProgressFn& progress) {
  std::mutex mu;
  std::condition_variable cv;
  size_t finished = 0;
  std::vector<Status> results(workers.size(), Ok());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] = workers[i]->Run();
      std::lock_guard lock(mu);
      ++finished;
      cv.notify_all();
    });
  }
  std::atomic<SteadyTime::rep> stopped_at{SteadyTime::max().time_since_epoch().count()};
  {
    std::stop_callback on_stop(stop, [&] {
      stopped_at.store(Now().time_since_epoch().count());
      for (const auto& w : workers) w->RequestStop();
    });
    std::unique_lock lock(mu);
    for (SteadyTime next = plan.start + 1s;
         !cv.wait_until(lock, next, [&] { return finished == workers.size(); }); next += 1s) {
      lock.unlock();
      if (progress) progress(Progress(plan, workers));
      lock.lock();
    }
  }
  for (std::thread& t : threads) t.join();
  for (const Status& r : results) {
    if (!r) return std::unexpected(r.error());
  }
  return SteadyTime(SteadyTime::duration(stopped_at.load()));
}

}  // namespace

uint64_t LoadSummary::errors() const {
  uint64_t n = timeouts + connection_errors;
  for (const auto& [code, count] : by_status) {
    if (code < 200 || code >= 400) n += count;
  }
  return n;
}

Result<LoadSummary> RunLoad(const LoadOptions& options, std::stop_token stop,
                            const ProgressFn& progress) {
  auto plan = MakePlan(options);
  if (!plan) return std::unexpected(plan.error());
  const LoadOptions& o = (*plan)->options;
  std::vector<std::unique_ptr<Worker>> workers;
  const int64_t warm = WarmConnections(o);
  for (int i = 0; i < o.threads; ++i) {
    workers.push_back(std::make_unique<Worker>(**plan, i));
    workers.back()->Preconnect(static_cast<int>(Share(warm, o.threads, i)));
  }
  StartClock(**plan);
  for (auto& w : workers) w->Arm();
  Result<SteadyTime> stopped_at = RunWorkers(**plan, workers, stop, progress);
  if (!stopped_at) return std::unexpected(stopped_at.error());
  return Summarize(**plan, workers, *stopped_at);
}

}  // namespace mqlab::load
