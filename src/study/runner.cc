#include "study/runner.h"

#include <unistd.h>

#include <csignal>
#include <algorithm>
#include <ctime>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/files.h"
#include "common/logging.h"
#include "common/signals.h"
#include "http/client.h"
#include "load/machine.h"
#include "report/report.h"
#include "services/prometheus_query.h"
#include "study/prometheus_recorder.h"
#include "study/servers.h"
#include "study/step.h"

namespace mqlab::study {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Replaces "{url:NAME}" placeholders with the URL of the child called NAME.
void ResolvePlaceholders(ChildSpec& spec, const std::vector<std::unique_ptr<Child>>& started) {
  for (auto& a : spec.args) {
    if (!a.starts_with("{url:")) continue;
    const std::string name = a.substr(5, a.size() - 6);
    for (const auto& c : started) {
      if (c->name() == name) a = c->url();
    }
  }
}

json CellJson(const CellPlan& plan, const RunningCell* running) {
  json procs = json::array();
  for (const auto& spec : plan.children) {
    json argv = json::array({"mqlab"});
    for (const auto& a : spec.args) argv.push_back(a.find("://") != std::string::npos ? RedactUrl(a) : a);
    procs.push_back({{"name", spec.name}, {"argv", argv}});
  }
  (void)running;
  return {{"id", plan.id},           {"version", plan.version}, {"kind", plan.kind},
          {"backend", plan.backend}, {"workers", plan.workers},
          {"backpressure", plan.backpressure ? "on" : "off"},
          {"capacity", plan.capacity}, {"config", {{"processes", procs}}},
          {"steps", json::array()}};
}

// The Prometheus recorder the options ask for (prometheus_recorder.h): null when off, or auto and
// Prometheus is not installed, or auto and it cannot start (then with a warning); an error when
// on and it cannot start.
Result<std::unique_ptr<PrometheusRecorder>> StartRecorder(const StudyOptions& o,
                                                          const std::string& run_id,
                                                          ServerSession& servers,
                                                          spdlog::logger& log, json& warnings) {
  if (o.prometheus == "off" || (o.prometheus == "auto" && !PrometheusInstalled())) return nullptr;
  auto recorder = [&]() -> Result<std::unique_ptr<PrometheusRecorder>> {
    if (auto s = servers.Add("prometheus", log); !s) return std::unexpected(s.error());
    return PrometheusRecorder::Open(servers.urls().by_service.at("prometheus"),
                                    servers.runtime_dir(), run_id);
  }();
  if (recorder || o.prometheus == "on") return recorder;
  const std::string why = OneLine(recorder.error().message);
  log.warn("not recording to Prometheus: {}", why);
  warnings.push_back("not recorded to Prometheus (--prometheus auto): " + why);
  return nullptr;
}

// Makes the cell's processes scrape targets when recording; false when not recording (or when
// the targets cannot be written: then with a warning).
bool Watch(PrometheusRecorder* prom, const RunningCell& cell, json& warnings) {
  if (prom == nullptr) return false;
  if (auto s = prom->Watch(cell); !s) {
    warnings.push_back(fmt::format("{}: not recorded to Prometheus: {}", cell.plan->id,
                                   OneLine(s.error().message)));
    return false;
  }
  return true;
}

// Before the first rung: every process of the cell scraped (Prometheus discovers new targets in
// up to ~7 s; 15 s leaves room for a loaded machine), so that the first rung's series is whole.
void AwaitFirstScrape(PrometheusRecorder& prom, double since, const RunningCell& cell,
                      json& warnings) {
  if (!prom.WaitScraped(since, std::chrono::seconds(15))) {
    warnings.push_back(fmt::format(
        "{}: Prometheus had not scraped every process within 15 s; its series may start late",
        cell.plan->id));
  }
}

struct Progress {
  size_t cell_index = 0, cells = 0, rung = 0, rungs = 0;
  std::string cell;
  double last_p99 = -1;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  double after_s = 0;  // what comes after the last rung (the harness check's run)

  void Print(const StepProgress& p) const {
    const double done_rungs = static_cast<double>(cell_index * rungs + rung);
    const double total_rungs = static_cast<double>(cells * rungs);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double eta =
        done_rungs > 0 ? elapsed / done_rungs * (total_rungs - done_rungs) + after_s : 0;
    fmt::print(stderr, "\r\033[K[{}/{}] {} rung {}/{} offered {:.0f}/s {}, sent {} — p99 {} — ETA {}m{:02}s",
               cell_index + 1, cells, cell, rung + 1, rungs, p.offered_rps,
               p.load.warming_up ? "(warm-up)" : "", p.load.sent,
               last_p99 < 0 ? std::string("–") : fmt::format("{:.0f} ms", last_p99),
               static_cast<int>(eta) / 60, static_cast<int>(eta) % 60);
  }
};

// The harness check's own run: the ideal queue (mem), 2 workers, Poisson arrivals at ρ = 0.8 for
// long enough to reach the steady state; its mean queue wait must sit near the queueing-theory
// value, else the harness is measuring itself.
json RunHarnessCheck(const StudyOptions& o, const ServerUrls& urls, std::stop_token stop,
                     spdlog::logger& log, PrometheusRecorder* prom, json& warnings) {
  StudyOptions h = o;
  h.versions = {"mem"};
  h.workers = {2};
  h.backpressure = {"off"};
  h.step_seconds = o.harness_seconds;
  h.warmup_seconds = std::max(1.0, o.warmup_seconds);
  std::vector<CellPlan> plans = PlanCells(h, urls, o.out / "data" / "harness");
  CellPlan& plan = plans.front();
  plan.id = "harness-mem-w2";
  auto running = StartCell(plan, h, o.out / "logs");
  if (!running) {
    log.warn("harness check: {}", OneLine(running.error().message));
    return nullptr;
  }
  fmt::print(stderr, "\r\033[Kharness check: mem, 2 workers, ρ = 0.8 for {} s", h.step_seconds);
  const double watched_at = services::UnixNow();
  const bool watching = Watch(prom, *running, warnings);
  json check = nullptr;
  if (Prime(*running, stop)) {
    if (watching) AwaitFirstScrape(*prom, watched_at, *running, warnings);
    const double start = services::UnixNow();
    json steps = json::array({RunStep(*running, h, 0.8, o.seed + 7, stop, {})});
    if (watching) {
      prom->AddSeries(steps, std::vector<Window>{Window{start, services::UnixNow()}}, warnings);
    }
    check = HarnessCheck(steps[0], o.service_dist);
  }
  for (auto& c : running->children) c->Stop(std::chrono::seconds(10));
  if (watching) prom->Unwatch();
  return check;
}

}  // namespace

Result<RunningCell> StartCell(const CellPlan& plan, const StudyOptions& o, const fs::path& logs) {
  RunningCell cell;
  cell.plan = &plan;
  for (ChildSpec spec : plan.children) {
    ResolvePlaceholders(spec, cell.children);
    auto child = Child::Start(o.binary, spec, logs / fmt::format("{}.{}.log", plan.id, spec.name),
                              std::chrono::seconds(60));
    if (!child) return std::unexpected(child.error());
    const std::string& name = (*child)->name();
    if (name == "api" || name == "serve") cell.target_url = (*child)->url();
    // The processes that run jobs (serve, workers, OCR servers) count completions and queue waits.
    if (name == "serve" || name.starts_with("ocr")) {
      cell.job_metrics_urls.push_back((*child)->url() + "/metrics");
    } else if (name.starts_with("worker")) {
      cell.job_metrics_urls.push_back((*child)->url());  // printed as …/metrics already
    }
    cell.children.push_back(std::move(*child));
  }
  return cell;
}

// One request through the whole path (and, for async versions, one job to its end), so that the
// first rung measures a warm system: connections made, consumer groups joined, schemas created.
Status Prime(const RunningCell& cell, std::stop_token stop) {
  http::Client c(*http::ParseHttpUrl(cell.target_url));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  std::string location;
  while (std::chrono::steady_clock::now() < deadline && !stop.stop_requested()) {
    if (location.empty()) {
      auto res = c.Do(http::Verb::post, cell.plan->target_path, R"({"inputPath":"scans/prime.png"})");
      if (res && res->result_int() == 200) return Ok();
      if (res && res->result_int() == 202) location = std::string((*res)[http::Field::location]);
    } else {
      auto res = c.Do(http::Verb::get, location);
      if (res && res->result_int() == 200) {
        auto j = json::parse(res->body(), nullptr, false);
        if (j.is_object() && j.value("status", "") == "SUCCESS") return Ok();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return DeadlineExceeded(fmt::format("{}: no request made it through the path within 90 s",
                                      cell.plan->id));
}

Result<json> RunStudy(const StudyOptions& options_in, std::stop_token stop,
                      std::shared_ptr<spdlog::logger> log) {
  StudyOptions o = options_in;
  if (auto s = o.ApplyProfile(); !s) return std::unexpected(s.error());
  if (auto s = o.Validate(); !s) return std::unexpected(s.error());
  if (o.binary.empty()) o.binary = SelfBinary();
  if (o.out.empty()) o.out = fs::path("results") / UtcFolderStamp();
  std::error_code ec;
  fs::create_directories(o.out / "logs", ec);
  if (ec) return Unavailable(fmt::format("cannot create {}: {}", o.out.string(), ec.message()));

  auto servers = ServerSession::Start(ServicesFor(o.versions), o.runtime_dir, *log);
  if (!servers) return std::unexpected(servers.error());
  json warnings = json::array();
  // Labels this run's series in a Prometheus that other runs (and tests) may share.
  const std::string run_id = fmt::format("{}-{}", UtcFolderStamp(), getpid());
  auto recorder = StartRecorder(o, run_id, *servers, *log, warnings);
  if (!recorder) {
    servers->Stop(*log);
    return FailedPrecondition(
        fmt::format("--prometheus on, but Prometheus cannot be used: {} (--prometheus off "
                    "runs the study without it)",
                    recorder.error().message));
  }
  std::unique_ptr<PrometheusRecorder> prom = std::move(*recorder);
  const std::vector<CellPlan> cells = PlanCells(o, servers->urls(), o.out / "data");

  json results{{"schema", "mqlab.study/1"},
               {"mqlabVersion", MQLAB_VERSION},
               {"startedAt", FormatRfc3339(Clock::Real().Now())},
               {"complete", false},
               {"machine", load::MachineInfo()},
               {"servers", servers->info()},
               {"profile", o.profile},
               {"parameters",
                {{"serviceMs", o.service_ms}, {"serviceDist", o.service_dist}, {"mode", o.mode},
                 {"failRate", 0}, {"arrivals", "poisson"}, {"seed", o.seed},
                 {"stepSeconds", o.step_seconds}, {"warmupSeconds", o.warmup_seconds},
                 {"followTimeoutSeconds", o.follow_timeout_seconds}, {"ladder", o.ladder},
                 {"slo", {{"p99Ms", o.slo_p99_ms}, {"errorRate", o.slo_error_rate}}},
                 {"versions", o.versions}, {"workers", o.workers},
                 {"backpressure", o.backpressure}}},
               {"cells", json::array()},
               {"warnings", std::move(warnings)}};
  results["harnessCheck"] = nullptr;
  results["prometheus"] = prom ? prom->Info() : json(nullptr);
  auto save = [&]() -> Status {
    if (auto s = WriteFileAtomically(o.out / "results.json", results.dump(1) + "\n"); !s) return s;
    return WriteFileAtomically(o.out / "results.csv", ResultsCsv(results));
  };

  const bool harness = o.harness_seconds > 0 &&
                       std::find(o.versions.begin(), o.versions.end(), "mem") != o.versions.end();
  Progress progress{.cells = cells.size(),
                    .rungs = o.ladder.size(),
                    .after_s = harness ? o.harness_seconds + o.warmup_seconds + 3 : 0};
  uint64_t seed = o.seed;
  for (size_t i = 0; i < cells.size() && !stop.stop_requested(); ++i) {
    const CellPlan& plan = cells[i];
    progress.cell_index = i;
    progress.cell = plan.id;
    json cell = CellJson(plan, nullptr);
    auto running = StartCell(plan, o, o.out / "logs");
    if (running) {
      const double watched_at = services::UnixNow();
      const bool watching = Watch(prom.get(), *running, results["warnings"]);
      if (auto primed = Prime(*running, stop); !primed) {
        cell["error"] = primed.error().message;
      } else {
        if (watching && o.prometheus_wait == "on") {  // see StudyOptions::prometheus_wait
          AwaitFirstScrape(*prom, watched_at, *running, results["warnings"]);
        }
        std::vector<Window> windows;
        for (size_t r = 0; r < o.ladder.size() && !stop.stop_requested(); ++r) {
          progress.rung = r;
          const double start = services::UnixNow();
          json step = RunStep(*running, o, o.ladder[r], ++seed, stop,
                              [&](const StepProgress& p) { progress.Print(p); });
          windows.push_back({start, services::UnixNow()});
          if (step["endToEnd"].is_object()) progress.last_p99 = step["endToEnd"]["p99"];
          for (const auto& w : step.value("warnings", json::array())) {
            results["warnings"].push_back(fmt::format("{} ×{}: {}", plan.id, o.ladder[r],
                                                      w.get<std::string>()));
          }
          cell["steps"].push_back(std::move(step));
        }
        if (watching) prom->AddSeries(cell["steps"], windows, results["warnings"]);
      }
      for (auto it = running->children.rbegin(); it != running->children.rend(); ++it) {
        (*it)->Stop(std::chrono::seconds(10));
      }
      if (watching) prom->Unwatch();
    } else {
      cell["error"] = running.error().message;
      log->error("{}: {}", plan.id, OneLine(running.error().message));
    }
    cell["breakingPoint"] = BreakingPoint(cell["steps"]);
    results["cells"].push_back(std::move(cell));
    if (auto s = save(); !s) return std::unexpected(s.error());
  }
  if (!stop.stop_requested() && harness) {
    results["harnessCheck"] =
        RunHarnessCheck(o, servers->urls(), stop, *log, prom.get(), results["warnings"]);
  }
  fmt::print(stderr, "\r\033[K");
  results["complete"] = !stop.stop_requested();
  results["finishedAt"] = FormatRfc3339(Clock::Real().Now());
  prom.reset();  // its targets removed before the server (if the study started it) stops
  servers->Stop(*log);
  if (auto s = save(); !s) return std::unexpected(s.error());
  if (auto s = report::WriteReport(results, o.out); !s) return std::unexpected(s.error());
  return results;
}

int RunStudyCommand(StudyOptions options, std::shared_ptr<spdlog::logger> log) {
  std::stop_source stop;
  std::jthread signals = WatchStopSignals(
      stop, "mqlab study: stopping (the report will cover what was measured; again to force)");
  auto results = RunStudy(options, stop.get_token(), log);
  signals.request_stop();
  if (!results) {
    fmt::print(stderr, "mqlab study: {}\n", OneLine(results.error().message));
    return 1;
  }
  return (*results)["complete"].get<bool>() ? 0 : 130;
}

}  // namespace mqlab::study
