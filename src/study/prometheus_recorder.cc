#include "study/prometheus_recorder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "common/logging.h"
#include "http/client.h"
#include "services/prometheus_service.h"

namespace mqlab::study {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// `v` to 1 / `per_unit` (per_unit 100: two decimals), written as JSON writes that decimal.
double Round(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

// The target group of a run: one file in targets.d/.
std::string Group(const std::string& run_id) { return "study-" + run_id; }

}  // namespace

bool PrometheusInstalled() {
  std::error_code ec;
  return fs::exists(services::PrometheusServiceOptions{}.binary, ec);
}

PrometheusRecorder::PrometheusRecorder(std::string url, fs::path runtime_dir, std::string run_id,
                                       double interval_s)
    : url_(std::move(url)),
      runtime_dir_(std::move(runtime_dir)),
      run_id_(std::move(run_id)),
      interval_s_(interval_s),
      query_(url_) {}

Result<std::unique_ptr<PrometheusRecorder>> PrometheusRecorder::Open(std::string url,
                                                                     fs::path runtime_dir,
                                                                     std::string run_id) {
  services::PrometheusQuery probe(url);
  auto interval = probe.ScrapeIntervalSeconds();
  if (!interval) return std::unexpected(interval.error());
  std::unique_ptr<PrometheusRecorder> r(
      new PrometheusRecorder(std::move(url), std::move(runtime_dir), std::move(run_id), *interval));
  // An empty group at once: a bad folder fails here, before any cell runs.
  if (auto s =
          services::PrometheusService::WriteTargetGroup(r->runtime_dir_, Group(r->run_id_), {});
      !s) {
    return std::unexpected(s.error());
  }
  return r;
}

PrometheusRecorder::~PrometheusRecorder() {
  (void)services::PrometheusService::RemoveTargetGroup(runtime_dir_, Group(run_id_));
}

json PrometheusRecorder::Info() const {
  return {{"url", RedactUrl(url_)}, {"scrapeIntervalSeconds", interval_s_}, {"study", run_id_}};
}

Status PrometheusRecorder::Watch(const RunningCell& cell) {
  std::vector<services::ScrapeTarget> targets;
  for (const auto& child : cell.children) {
    auto u = http::ParseHttpUrl(child->url());
    if (!u) {
      return InvalidArgument(
          fmt::format("{} printed no URL to scrape ({})", child->name(), u.error().message));
    }
    targets.push_back(
        {.addresses = {u->HostPort()},
         .labels = {{"study", run_id_}, {"cell", cell.plan->id}, {"process", child->name()}}});
  }
  cell_ = &cell;
  return services::PrometheusService::WriteTargetGroup(runtime_dir_, Group(run_id_), targets);
}

void PrometheusRecorder::Unwatch() {
  cell_ = nullptr;
  (void)services::PrometheusService::WriteTargetGroup(runtime_dir_, Group(run_id_), {});
}

std::string PrometheusRecorder::Ours(std::string_view selector, services::Labels more) const {
  more["study"] = run_id_;
  more["cell"] = cell_ != nullptr ? cell_->plan->id : "";
  return services::WithLabels(selector, more);
}

bool PrometheusRecorder::WaitScraped(double since, std::chrono::milliseconds timeout) {
  if (cell_ == nullptr) return false;
  const double want = static_cast<double>(cell_->children.size());
  const std::string expr = fmt::format("count(timestamp({}) >= {:.3f})", Ours("up"), since);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto r = query_.Instant(expr);
    if (r && !r->empty() && r->front().value >= want) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    // A tenth of a scrape interval: waits end within ~100 ms of the scrape they wait for.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::max<int64_t>(50, std::llround(interval_s_ * 100))));
  }
}

Result<json> PrometheusRecorder::Series(const Window& w) {
  if (cell_ == nullptr) return FailedPrecondition("no cell is watched");
  const CellPlan& plan = *cell_->plan;
  std::string target = "api";
  for (const auto& c : cell_->children) {
    if (c->name() == "serve") target = "serve";
  }
  const std::string cell = services::LabelMatchers({{"study", run_id_}, {"cell", plan.id}});
  // irate over 3 intervals: the last two samples, with room for one missed scrape.
  const int64_t window_ms = std::llround(3 * interval_s_ * 1000);
  const std::pair<const char*, std::string> queries[] = {
      {"queueDepth", fmt::format("max({})", Ours(plan.depth_series, {{"process", target}}))},
      {"inflight", fmt::format("sum(mqlab_inflight{{component=~\"worker|ocr\",{}}})", cell)},
      {"utilisation", fmt::format("sum(irate(mqlab_job_processing_seconds_sum{{{}}}[{}ms])) / {}",
                                  cell, window_ms, std::max(1, plan.workers))}};
  // The evaluation grid ends at the window's end (a point at `end` shows how the rung left the
  // system: drained or not) and steps back by the interval to the window's start.
  const double steps = std::floor(std::max(0.0, w.end - w.start) / interval_s_ + 1e-9);
  const double first = w.end - steps * interval_s_;
  json out = json::object();
  for (const auto& [key, expr] : queries) {
    auto r = query_.Range(expr, first, w.end, interval_s_);
    if (!r) return std::unexpected(r.error());
    json points = json::array();
    if (!r->empty()) {
      for (const auto& [t, v] : r->front().points) {
        if (!std::isfinite(v)) continue;
        points.push_back({Round(std::max(0.0, t - w.start), 100), Round(v, 10000)});
      }
    }
    out[key] = std::move(points);
  }
  return out;
}

void PrometheusRecorder::AddSeries(json& steps, const std::vector<Window>& windows,
                                   json& warnings) {
  if (windows.empty() || cell_ == nullptr) return;
  const std::string id = cell_->plan->id;
  // One more scrape of every process after the last rung: up to an interval, plus a loaded
  // machine's delay.
  const auto timeout = std::chrono::milliseconds(std::llround(3 * interval_s_ * 1000) + 5000);
  if (!WaitScraped(windows.back().end, timeout)) {
    warnings.push_back(fmt::format(
        "{}: Prometheus did not scrape every process after the last rung; its series may end "
        "early",
        id));
  }
  for (size_t i = 0; i < windows.size() && i < steps.size(); ++i) {
    auto series = Series(windows[i]);
    if (!series) {
      warnings.push_back(fmt::format("{}: Prometheus series of rung {}: {}", id, i + 1,
                                     OneLine(series.error().message)));
      steps[i]["prometheus"] = nullptr;
      continue;
    }
    steps[i]["prometheus"] = std::move(*series);
  }
}

}  // namespace mqlab::study
