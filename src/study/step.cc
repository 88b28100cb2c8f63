#include "study/step.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "http/client.h"
#include "study/queueing.h"

namespace mqlab::study {

namespace {

using nlohmann::json;

// The value of the sample `series` in a /metrics page (0 if absent).
double Scrape(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series, at)) != std::string::npos) {
    if ((at == 0 || text[at - 1] == '\n') && at + series.size() < text.size() &&
        text[at + series.size()] == ' ') {
      return std::strtod(text.c_str() + at + series.size() + 1, nullptr);
    }
    at += series.size();
  }
  return 0;
}

std::optional<std::string> Fetch(const std::string& url) {
  auto u = http::ParseHttpUrl(url);
  if (!u) return std::nullopt;
  http::Client c(*u, {.connect_timeout = std::chrono::seconds(2),
                      .request_timeout = std::chrono::seconds(5)});
  auto res = c.Do(http::Verb::get, u->target);
  if (!res || res->result_int() != 200) return std::nullopt;
  return std::move(res->body());
}

// Sum and count of the workers' queue-wait histograms, over every process that runs jobs.
std::pair<double, double> QueueWaitTotals(const RunningCell& cell) {
  const std::string base = fmt::format("mqlab_job_queue_wait_seconds_{{}}{{{{backend=\"{}\"}}}}",
                                       cell.plan->backend);
  double sum = 0, count = 0;
  for (const auto& url : cell.job_metrics_urls) {
    if (auto text = Fetch(url)) {
      sum += Scrape(*text, fmt::format(fmt::runtime(base), "sum"));
      count += Scrape(*text, fmt::format(fmt::runtime(base), "count"));
    }
  }
  return {sum, count};
}

// Jobs finished successfully so far, summed over the processes that run them (the server side's
// own count: what the system completed, whatever the generator saw).
double CompletedJobs(const RunningCell& cell) {
  const std::string series = fmt::format("mqlab_jobs_completed_total{{backend=\"{}\",status=\"SUCCESS\"}}",
                                         cell.plan->backend);
  double total = 0;
  for (const auto& url : cell.job_metrics_urls) {
    if (auto text = Fetch(url)) total += Scrape(*text, series);
  }
  return total;
}

// Samples the backlog and the processes every 0.5 s until stopped.
class Sampler {
 public:
  explicit Sampler(RunningCell& cell)
      : cell_(cell), start_(std::chrono::steady_clock::now()) {
    for (auto& c : cell_.children) cpu0_.push_back(c->Sample().cpu_seconds);
    max_rss_.assign(cell_.children.size(), 0);
    thread_ = std::jthread([this](std::stop_token stop) { Loop(stop); });
  }

  json Finish() {
    thread_.request_stop();
    thread_.join();
    json procs = json::object();
    for (size_t i = 0; i < cell_.children.size(); ++i) {
      ProcSample s = cell_.children[i]->Sample();
      max_rss_[i] = std::max(max_rss_[i], s.rss_mb);
      procs[cell_.children[i]->name()] = {{"cpuSeconds", s.cpu_seconds - cpu0_[i]},
                                          {"maxRssMb", max_rss_[i]}};
    }
    return {{"series", series_}, {"processes", procs}};
  }

 private:
  void Loop(std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      Sample();
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, std::chrono::milliseconds(500), [] { return false; });
    }
    Sample();  // the end of the step, so that the series covers the whole measured window
  }

  void Sample() {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    json point{{"t", std::round(t * 100) / 100}};
    if (auto text = Fetch(cell_.target_url + "/metrics")) {
      point["queueDepth"] = Scrape(*text, cell_.plan->depth_series);
    } else {
      point["queueDepth"] = nullptr;
    }
    point["completed"] = CompletedJobs(cell_);
    for (size_t i = 0; i < cell_.children.size(); ++i) {
      max_rss_[i] = std::max(max_rss_[i], cell_.children[i]->Sample().rss_mb);
    }
    series_.push_back(std::move(point));
  }

  RunningCell& cell_;
  const std::chrono::steady_clock::time_point start_;
  std::vector<double> cpu0_;
  std::vector<double> max_rss_;
  json series_ = json::array();
  std::jthread thread_;
};

json Latency(const load::LatencyStats& l) {
  if (l.count == 0) return nullptr;
  return {{"clock", l.clock}, {"count", l.count}, {"mean", l.mean_ms}, {"p50", l.p50_ms},
          {"p90", l.p90_ms},  {"p95", l.p95_ms},  {"p99", l.p99_ms},   {"p999", l.p999_ms},
          {"max", l.max_ms}};
}

load::LoadOptions LoadFor(const RunningCell& cell, const StudyOptions& o, double rate,
                          uint64_t seed) {
  load::LoadOptions lo;
  lo.url = cell.target_url + cell.plan->target_path;
  lo.method = "POST";
  lo.body = R"({"inputPath":"scans/page.png"})";
  lo.rate = rate;
  lo.duration = std::chrono::milliseconds(static_cast<int64_t>(o.step_seconds * 1000));
  lo.warmup = std::chrono::milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000));
  lo.arrivals = load::Arrivals::kPoisson;
  lo.seed = seed;
  lo.expected_latency = std::chrono::milliseconds(static_cast<int64_t>(o.slo_p99_ms));
  lo.timeout = std::chrono::seconds(10);
  lo.follow = cell.plan->kind == "async";
  lo.follow_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.follow_timeout_seconds * 1000));
  return lo;
}

json Counts(const load::LoadSummary& s) {
  json status = json::object();
  for (const auto& [code, n] : s.by_status) status[std::to_string(code)] = n;
  return {{"sent", s.sent},
          {"2xx", s.status_2xx},
          {"status", status},
          {"timeouts", s.timeouts},
          {"connectionErrors", s.connection_errors},
          {"dropped", s.dropped},
          {"late", s.late},
          {"unfinished", s.follow.unfinished},
          {"failedJobs", s.follow.failed}};
}

}  // namespace

Verdict Judge(const json& step, const StudyOptions& o) {
  const json& c = step["counts"];
  const double sent = std::max(1.0, c.value("sent", 0.0));
  auto share = [&](double n) { return n / sent; };
  const json& status = c["status"];
  auto code = [&](const char* k) { return status.contains(k) ? status[k].get<double>() : 0.0; };
  const double rejected = code("429") + code("503");
  const double other_5xx = code("500") + code("502") + code("504");
  const double p99 = step["endToEnd"].is_object() ? step["endToEnd"].value("p99", 0.0) : 0.0;
  const double error_rate = step.value("errorRate", 1.0);
  // Keeping up: what was accepted was also completed (within 10%) during the rung. A short rung
  // above capacity can end before the backlog it builds breaks the latency SLO; it is no capacity.
  const double accepted = step.value("acceptedRps", 0.0);
  const double completed = step["completedPerSec"].is_number() ? step["completedPerSec"].get<double>() : 0;
  const bool keeps_up = accepted <= 0 || completed >= 0.9 * accepted;
  Verdict v;
  v.meets_slo = step["endToEnd"].is_object() && p99 <= o.slo_p99_ms &&
                error_rate <= o.slo_error_rate && c.value("dropped", 0) == 0 && keeps_up;
  if (v.meets_slo) return v;
  const double limit = o.slo_error_rate;
  if (share(c.value("timeouts", 0.0)) > limit) {
    v.breaks_by = "timeouts";
  } else if (share(rejected) > limit) {
    v.breaks_by = "rejections";
  } else if (share(other_5xx + c.value("connectionErrors", 0.0)) > limit) {
    v.breaks_by = "5xx";
  } else if (share(c.value("unfinished", 0.0) + c.value("failedJobs", 0.0)) > limit) {
    v.breaks_by = "unfinished";
  } else if (c.value("dropped", 0) > 0) {
    v.breaks_by = "dropped";
  } else {
    // Overload (completions fell behind what was accepted: the backlog grew) or a steady but
    // slow system (it kept up, yet its p99 is over the SLO)?
    v.breaks_by = keeps_up ? "latency" : "queue growth";
  }
  return v;
}

json RunStep(RunningCell& cell, const StudyOptions& o, double multiple, uint64_t seed,
             std::stop_token stop, const std::function<void(const StepProgress&)>& progress) {
  const CellPlan& plan = *cell.plan;
  const double rate = multiple * plan.capacity;
  const auto wait0 = QueueWaitTotals(cell);
  Sampler sampler(cell);
  auto summary = load::RunLoad(LoadFor(cell, o, rate, seed), stop, [&](const load::LoadProgress& p) {
    if (progress) progress({multiple, rate, p});
  });
  json sampled = sampler.Finish();
  const auto wait1 = QueueWaitTotals(cell);
  json step{{"multiple", multiple}, {"offeredRps", rate}};
  if (!summary) {
    step["error"] = summary.error().ToString();
    step["meetsSlo"] = false;
    step["breaksBy"] = "5xx";
    return step;
  }
  const load::LoadSummary& s = *summary;
  const bool async = plan.kind == "async";
  step["offeredRps"] = s.offered_rate;
  step["sentRps"] = s.sent_rate;
  {
    uint64_t rejected = 0;
    for (int code : {429, 503}) {
      if (auto it = s.by_status.find(code); it != s.by_status.end()) rejected += it->second;
    }
    // Requests the system took on (sent minus rejected at the door), per second.
    step["acceptedRps"] = static_cast<double>(s.sent - std::min(s.sent, rejected)) /
                          std::max(1e-9, s.measured_seconds);
  }
  step["achievedRps"] = s.achieved_rate;
  // Completions per second within the measured window, whatever their send time: jobs by the
  // server's finishedAt (async), 2xx responses (sync). Exact, where the 0.5 s samples of the
  // servers' counters were off by up to a third on a 1.5 s rung and judged cells that kept up as
  // falling behind.
  step["completedPerSec"] = async ? s.follow.jobs_per_second : s.ok_per_second;
  step["submit"] = Latency(s.latency);
  step["endToEnd"] = async ? Latency(s.follow.e2e) : Latency(s.latency);
  const double dcount = wait1.second - wait0.second;
  step["queueWaitMeanMs"] =
      async && dcount > 0 ? json((wait1.first - wait0.first) / dcount * 1000.0) : json(nullptr);
  step["counts"] = Counts(s);
  const double bad = static_cast<double>(s.errors() + s.follow.unfinished + s.follow.failed);
  step["errorRate"] = s.sent > 0 ? bad / static_cast<double>(s.sent) : 0.0;
  step["series"] = sampled["series"];
  step["processes"] = sampled["processes"];
  step["seed"] = s.options.seed;
  step["warnings"] = s.warnings;
  step["stoppedEarly"] = s.stopped_early;
  // The prediction for the load actually sent (a Poisson sample of a short rung is off the
  // asked rate by a few percent), so that measured and predicted are compared like for like.
  const double lambda = s.sent_rate > 0 ? s.sent_rate : rate;
  if (auto p = Predict(lambda, o.service_ms / 1000.0, plan.workers)) {
    step["theory"] = {{"rho", p->rho},
                      {"wqMdcMs", p->wq_mdc_s * 1000},
                      {"wqMmcMs", p->wq_mmc_s * 1000},
                      {"e2eMdcMs", p->w_mdc_s * 1000},
                      {"e2eMmcMs", p->w_mmc_s * 1000}};
  } else {
    step["theory"] = {{"rho", lambda * o.service_ms / 1000.0 / plan.workers}};
  }
  Verdict v = Judge(step, o);
  step["meetsSlo"] = v.meets_slo;
  step["breaksBy"] = v.breaks_by.empty() ? json(nullptr) : json(v.breaks_by);
  return step;
}

}  // namespace mqlab::study
