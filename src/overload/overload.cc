#include "overload/overload.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "common/files.h"
#include "common/logging.h"
#include "http/client.h"
#include "load/load.h"
#include "load/machine.h"
#include "report/overload_table.h"
#include "report/report.h"
#include "study/servers.h"
#include "study/step.h"

namespace mqlab::overload {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;

double SecondsSince(Steady::time_point t0) {
  return std::chrono::duration<double>(Steady::now() - t0).count();
}

// The q-quantile (0..1) of `v` by the nearest rank; 0 for an empty set.
double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// One probe: what a new client sees now. Async: submit, then poll the job's Location until it is
// finished (polls spaced by a tenth of the time so far, 10 ms to 500 ms, so that a slow job costs
// few requests). Sync: the response time.
json Probe(const http::ParsedUrl& base, const std::string& path, bool async, double t,
           std::chrono::seconds give_up, std::stop_token stop) {
  json p{{"t", t}, {"status", 0}, {"latencyMs", nullptr}, {"retryAfter", false}};
  http::Client c(base, {.connect_timeout = std::chrono::seconds(5), .request_timeout = give_up});
  const auto t0 = Steady::now();
  auto res = c.Do(http::Verb::post, path, R"({"inputPath":"scans/probe.png"})");
  if (!res) {
    p["error"] = res.error().code == ErrorCode::kDeadlineExceeded ? "timeout" : "connection";
    return p;
  }
  p["status"] = res->result_int();
  const int status = res->result_int();
  if (status == 429 || status == 503) {
    p["retryAfter"] = res->find(http::Field::retry_after) != res->end();
    return p;
  }
  if (status / 100 != 2) return p;
  if (!async) {
    p["latencyMs"] = SecondsSince(t0) * 1000;
    return p;
  }
  const std::string location((*res)[http::Field::location]);
  const auto deadline = t0 + give_up;
  while (Steady::now() < deadline && !stop.stop_requested()) {
    const double so_far = SecondsSince(t0);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::clamp<int64_t>(static_cast<int64_t>(so_far * 100), 10, 500)));
    auto got = c.Do(http::Verb::get, location);
    if (!got || got->result_int() != 200) continue;
    auto j = json::parse(got->body(), nullptr, false);
    const std::string s = j.is_object() ? j.value("status", "") : "";
    if (s == "SUCCESS" || s == "FAILED") {
      p["latencyMs"] = SecondsSince(t0) * 1000;
      p["jobStatus"] = s;
      return p;
    }
  }
  p["unfinished"] = true;  // still queued when the probe gave up: latency ≥ give_up
  return p;
}

// Least-squares slope of y over t (per second); 0 with fewer than two points.
double Slope(const std::vector<std::pair<double, double>>& pts) {
  if (pts.size() < 2) return 0;
  double st = 0, sy = 0;
  for (auto [t, y] : pts) st += t, sy += y;
  const double n = static_cast<double>(pts.size()), mt = st / n, my = sy / n;
  double num = 0, den = 0;
  for (auto [t, y] : pts) num += (t - mt) * (y - my), den += (t - mt) * (t - mt);
  return den > 0 ? num / den : 0;
}

struct RunSpec {
  std::string version;
  std::string backpressure;
};

json RunOne(const OverloadOptions& o, const RunSpec& spec, const study::ServerUrls& urls,
            uint64_t seed, std::stop_token stop, spdlog::logger& log) {
  study::StudyOptions so;
  so.versions = {spec.version};
  so.workers = {o.workers};
  so.backpressure = {spec.backpressure};
  so.service_ms = o.service_ms;
  so.binary = o.binary;
  so.seed = seed;
  so.slo_p99_ms = o.slo_p99_ms;
  if (auto s = so.ApplyProfile(); !s) return {{"error", s.error().message}};
  const std::vector<study::CellPlan> plans = study::PlanCells(so, urls, o.out / "data");
  if (plans.size() != 1) return {{"error", "no cell planned for " + spec.version}};
  const study::CellPlan& plan = plans[0];
  json run{{"version", plan.version},
           {"kind", plan.kind},
           {"backend", plan.backend},
           {"workers", plan.workers},
           {"backpressure", spec.backpressure},
           {"capacity", plan.capacity}};
  auto cell = study::StartCell(plan, so, o.out / "logs");
  if (!cell) {
    run["error"] = cell.error().message;
    return run;
  }
  if (auto primed = study::Prime(*cell, stop); !primed) {
    run["error"] = primed.error().message;
    return run;
  }
  const double before = o.before_seconds, burst = o.burst_seconds, after = o.after_seconds;
  run["phases"] = {{"before", {0, before}},
                   {"burst", {before, before + burst}},
                   {"after", {before + burst, before + burst + after}}};
  const double low = 0.5 * plan.capacity, high = o.multiple * plan.capacity;
  run["rates"] = {{"low", low}, {"high", high}};

  load::LoadOptions lo;
  lo.url = cell->target_url + plan.target_path;
  lo.method = "POST";
  lo.body = R"({"inputPath":"scans/page.png"})";
  lo.rate = low;
  using load::RampStage;
  auto ns = [](double s) {
    return std::chrono::duration_cast<load::Nanos>(std::chrono::duration<double>(s));
  };
  constexpr double kStep = 0.001;  // a ramp this short is a step
  lo.ramp = {RampStage{low, ns(before)}, RampStage{high, ns(kStep)},
             RampStage{high, ns(burst - kStep)}, RampStage{low, ns(kStep)},
             RampStage{low, ns(after - kStep)}};
  lo.arrivals = load::Arrivals::kPoisson;
  lo.seed = seed;
  lo.expected_latency = std::chrono::milliseconds(static_cast<int64_t>(o.slo_p99_ms));
  lo.timeout = std::chrono::seconds(10);
  lo.follow = false;  // the probes measure what a job lives through (see the header)

  std::stop_source done;
  std::mutex mu;
  json rss = json::array(), probes = json::array();
  const auto t0 = Steady::now();
  std::jthread sampler([&](std::stop_token) {
    while (!done.get_token().stop_requested()) {
      json sample{{"t", SecondsSince(t0)}};
      double workers_mb = 0;
      bool alive = true;
      for (const auto& child : cell->children) {
        const study::ProcSample s = child->Sample();
        alive = alive && s.alive;
        if (child->name() == "api" || child->name() == "serve") {
          sample["front"] = s.rss_mb;
        } else {
          workers_mb += s.rss_mb;
        }
      }
      sample["others"] = workers_mb;
      sample["alive"] = alive;
      {
        std::lock_guard lock(mu);
        rss.push_back(std::move(sample));
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });
  const http::ParsedUrl base = *http::ParseHttpUrl(cell->target_url);
  const bool async = plan.kind == "async";
  // Probes give up after the SLO × 15 (30 s by default): enough to see latency grow unbounded.
  const auto give_up = std::chrono::seconds(std::max<int64_t>(
      5, static_cast<int64_t>(o.slo_p99_ms * 15 / 1000)));
  std::vector<std::jthread> probe_threads;
  std::jthread prober([&](std::stop_token) {
    const auto interval =
        std::chrono::microseconds(static_cast<int64_t>(o.probe_interval_ms * 1000));
    auto next = Steady::now();
    while (!done.get_token().stop_requested()) {
      const double t = SecondsSince(t0);
      probe_threads.emplace_back([&, t](std::stop_token) {
        json p = Probe(base, plan.target_path, async, t, give_up, stop);
        std::lock_guard lock(mu);
        probes.push_back(std::move(p));
      });
      next += interval;
      std::this_thread::sleep_until(next);
    }
  });

  auto summary = load::RunLoad(lo, stop);
  done.request_stop();
  prober.join();
  for (auto& t : probe_threads) t.join();  // each ends within give_up
  sampler.join();
  bool alive = true;
  for (const auto& child : cell->children) alive = alive && child->Sample().alive;
  run["survived"] = alive;
  for (auto it = cell->children.rbegin(); it != cell->children.rend(); ++it) {
    (*it)->Stop(std::chrono::seconds(10));
  }
  if (!summary) {
    run["error"] = summary.error().message;
    return run;
  }
  json load = load::ToJson(*summary);
  run["load"] = {{"counts", load["counts"]},
                 {"latency2xxMs", load["latency2xxMs"]},
                 {"series", load["series"]},
                 {"warnings", load.value("warnings", json::array())}};
  std::sort(probes.begin(), probes.end(),
            [](const json& a, const json& b) { return a["t"].get<double>() < b["t"].get<double>(); });
  run["rss"] = std::move(rss);
  run["probes"] = std::move(probes);
  Judge(run, o.slo_p99_ms);
  log.info("overload {} backpressure {}: {}", plan.version, spec.backpressure,
           run["verdict"].dump());
  return run;
}

}  // namespace

Status OverloadOptions::Validate() const {
  for (const auto& b : backpressure) {
    if (b != "on" && b != "off") return InvalidArgument("--backpressure: on, off or on,off");
  }
  if (versions.empty()) return InvalidArgument("--only: give at least one version");
  if (workers < 1 || workers > 64) return InvalidArgument("--workers must be in [1, 64]");
  if (!(service_ms > 0 && service_ms <= 10000)) return InvalidArgument("--service-ms: (0, 10000]");
  if (!(multiple > 1 && multiple <= 20)) return InvalidArgument("--multiple must be in (1, 20]");
  if (!(before_seconds >= 1 && burst_seconds >= 1 && after_seconds >= 1)) {
    return InvalidArgument("--before, --burst and --after must each be at least 1 s");
  }
  if (!(probe_interval_ms >= 50)) return InvalidArgument("--probe-interval must be ≥ 50 ms");
  return Ok();
}

void Judge(json& run, double slo_p99_ms) {
  const auto& ph = run["phases"];
  const double b0 = ph["burst"][0], b1 = ph["burst"][1], a1 = ph["after"][1];
  const bool on = run.value("backpressure", "on") == "on";
  // RSS of the front process.
  double base_rss = 0, max_rss = 0, end_rss = 0;
  std::vector<std::pair<double, double>> second_half;
  for (const auto& s : run["rss"]) {
    if (!s.contains("front")) continue;
    const double t = s["t"], mb = s["front"];
    if (t < b0) base_rss = mb;
    if (t >= b0 && t < b1) max_rss = std::max(max_rss, mb);
    if (t >= b0 + (b1 - b0) / 2 && t < b1) second_half.emplace_back(t, mb);
    end_rss = mb;
  }
  const double growth_per_min = Slope(second_half) * 60;
  // Probes.
  std::vector<double> baseline, burst_accepted, last_burst;
  int64_t rejected = 0, with_retry_after = 0, unfinished = 0;
  for (const auto& p : run["probes"]) {
    const double t = p["t"];
    const int status = p.value("status", 0);
    if (status == 429 || status == 503) {
      ++rejected;
      if (p.value("retryAfter", false)) ++with_retry_after;
    }
    if (p.value("unfinished", false)) ++unfinished;
    if (!p["latencyMs"].is_number()) continue;
    const double ms = p["latencyMs"];
    if (t < b0) baseline.push_back(ms);
    if (t >= b0 && t < b1) burst_accepted.push_back(ms);
    if (t >= b1 - (b1 - b0) / 10 && t < b1) last_burst.push_back(ms);
  }
  const double base_p50 = Quantile(baseline, 0.5);
  // "Normal" is what the baseline saw, with its own spread: twice its median, its median + 100 ms,
  // or 1.5 × its p95 (a noisy host's baseline has slow probes too), whichever is largest.
  const double normal =
      std::max({2 * base_p50, base_p50 + 100, 1.5 * Quantile(baseline, 0.95)});
  // Recovery: the first probe sent after the burst from which no window of 5 consecutive probes
  // holds more than one outside `normal` (rejected or unfinished count as outside). One stray
  // slow probe is the machine's noise (a shared 2-core host); two in a row are the backlog.
  std::vector<std::pair<double, bool>> after;  // (t, within normal)
  for (const auto& p : run["probes"]) {
    const double t = p["t"];
    if (t < b1 || t >= a1) continue;
    after.emplace_back(t, p["latencyMs"].is_number() && p["latencyMs"].get<double>() <= normal);
  }
  constexpr size_t kWindow = 5;
  double recovered_at = -1;  // < 0: not recovered within the after phase
  for (size_t i = after.size(); i-- > 0;) {
    // Windows starting at i .. the last one that fits (or the tail, if shorter).
    size_t bad = 0;
    for (size_t j = i; j < std::min(after.size(), i + kWindow); ++j) bad += after[j].second ? 0 : 1;
    if (bad > 1) break;                          // from here back, still the backlog
    if (after[i].second) recovered_at = after[i].first;  // recovery starts on a good probe
  }
  // The load's rejections during the burst (the series counts by second since the start).
  int64_t burst_sent = 0, burst_4xx = 0, burst_5xx = 0;
  if (run.contains("load")) {
    for (const auto& s : run["load"]["series"]) {
      const double t = s["second"];
      if (t < b0 || t >= b1) continue;
      burst_sent += s.value("sent", int64_t{0});
      burst_4xx += s.value("4xx", int64_t{0});
      burst_5xx += s.value("5xx", int64_t{0});
    }
  }
  const bool async = run.value("kind", "async") == "async";
  double accepted_p99 = Quantile(burst_accepted, 0.99);
  std::string accepted_from = "probes";
  if (!async && run.contains("load")) {
    accepted_p99 = run["load"]["latency2xxMs"].value("p99", 0.0);
    accepted_from = "load 2xx";
  }
  json by_status = run.contains("load") ? run["load"]["counts"]["byStatus"] : json::object();
  json figures{
      {"rssMb", {{"baseline", base_rss}, {"burstMax", max_rss}, {"end", end_rss},
                 {"burstSecondHalfGrowthPerMin", growth_per_min}}},
      {"baselineP50Ms", base_p50},
      {"acceptedP99Ms", accepted_p99},
      {"acceptedP99From", accepted_from},
      {"lastBurstProbeP50Ms", last_burst.empty() ? json(nullptr) : json(Quantile(last_burst, 0.5))},
      {"rejections", {{"byStatus", by_status},
                      {"burstShare", burst_sent > 0 ? double(burst_4xx + burst_5xx) / burst_sent : 0},
                      {"probesRejected", rejected},
                      {"probesWithRetryAfter", with_retry_after}}},
      {"probesUnfinished", unfinished},
      {"recoverySeconds", recovered_at >= 0 ? json(recovered_at - b1) : json(nullptr)},
      {"normalMs", normal},
      {"survived", run.value("survived", false)}};
  json verdict;
  if (on) {
    verdict = {{"rssFlat", growth_per_min <= 16},
               {"acceptedP99UnderSlo", accepted_p99 > 0 && accepted_p99 < slo_p99_ms},
               {"rejectionsCarryRetryAfter", rejected > 0 && with_retry_after == rejected},
               {"recoveredWithin10s", recovered_at >= 0 && recovered_at - b1 <= 10},
               {"survived", run.value("survived", false)}};
  } else {
    const double last = Quantile(last_burst, 0.5);
    verdict = {{"survived", run.value("survived", false)},
               {"latencyGrew", (unfinished > 0) || (base_p50 > 0 && last >= 5 * base_p50)}};
  }
  bool all = true;
  for (const auto& [k, v] : verdict.items()) all = all && v.get<bool>();
  verdict["asExpected"] = all;
  run["figures"] = std::move(figures);
  run["verdict"] = std::move(verdict);
}

std::string OverloadMarkdown(const json& doc) {
  const report::Table t = report::OverloadTable(doc);
  return "## " + t.title + "\n\n" + report::EscapeMarkdown(t.caption) + "\n\n" +
         report::MarkdownTable(t);
}

Result<json> RunOverload(const OverloadOptions& options, std::stop_token stop,
                         std::shared_ptr<spdlog::logger> log) {
  OverloadOptions o = options;
  if (auto s = o.Validate(); !s) return std::unexpected(s.error());
  if (o.binary.empty()) o.binary = study::SelfBinary();
  if (o.out.empty()) o.out = fs::path("results") / ("overload-" + UtcFolderStamp());
  std::error_code ec;
  fs::create_directories(o.out / "logs", ec);
  if (ec) return Unavailable(fmt::format("cannot create {}: {}", o.out.string(), ec.message()));
  auto servers = study::ServerSession::Start(study::ServicesFor(o.versions), o.runtime_dir, *log);
  if (!servers) return std::unexpected(servers.error());
  json doc{{"schema", "mqlab.overload/1"},
           {"mqlabVersion", MQLAB_VERSION},
           {"startedAt", FormatRfc3339(Clock::Real().Now())},
           {"machine", load::MachineInfo()},
           {"servers", servers->info()},
           {"parameters",
            {{"versions", o.versions}, {"backpressure", o.backpressure}, {"workers", o.workers},
             {"serviceMs", o.service_ms}, {"multiple", o.multiple},
             {"beforeSeconds", o.before_seconds}, {"burstSeconds", o.burst_seconds},
             {"afterSeconds", o.after_seconds}, {"probeIntervalMs", o.probe_interval_ms},
             {"sloP99Ms", o.slo_p99_ms}, {"seed", o.seed}}},
           {"runs", json::array()},
           {"complete", false}};
  auto save = [&]() -> Status {
    if (auto s = WriteFileAtomically(o.out / report::kOverloadFile, doc.dump(1) + "\n"); !s) return s;
    return WriteFileAtomically(o.out / "overload.md", OverloadMarkdown(doc));
  };
  uint64_t seed = o.seed;
  for (const auto& v : o.versions) {
    for (const auto& bp : o.backpressure) {
      if (stop.stop_requested()) break;
      log->info("overload: {} with backpressure {}: {:.0f} s", v, bp,
                o.before_seconds + o.burst_seconds + o.after_seconds);
      doc["runs"].push_back(RunOne(o, {v, bp}, servers->urls(), ++seed, stop, *log));
      if (auto s = save(); !s) {  // after every run: a Ctrl-C or a crash keeps what was measured
        servers->Stop(*log);
        return std::unexpected(s.error());
      }
    }
  }
  servers->Stop(*log);
  doc["complete"] = !stop.stop_requested();
  if (auto s = save(); !s) return std::unexpected(s.error());
  if (fs::exists(o.out / report::kResultsFile)) {
    if (auto r = report::RenderReport(o.out); !r) {
      log->warn("overload: the study report in {} was not re-rendered: {}", o.out.string(),
                OneLine(r.error().message));
    }
  }
  doc["out"] = o.out.string();
  return doc;
}

}  // namespace mqlab::overload
