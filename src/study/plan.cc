#include "study/plan.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "app/backends.h"
#include "mqlab/domain/job.h"

namespace mqlab::study {

namespace {

const std::vector<std::string> kAllVersions = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "mem"};

std::string Num(double v) { return fmt::format("{}", v); }

}  // namespace

Status StudyOptions::ApplyProfile() {
  if (profile != "quick" && profile != "full") {
    return InvalidArgument("--profile must be quick or full");
  }
  const bool quick = profile == "quick";
  if (versions.empty()) versions = kAllVersions;
  if (workers.empty()) workers = {1, 2, 4};
  if (backpressure.empty()) backpressure = {"on", "off"};
  if (ladder.empty()) {
    ladder = quick ? std::vector<double>{0.5, 0.8, 1.2, 2.0}
                   : std::vector<double>{0.25, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0};
  }
  if (step_seconds <= 0) step_seconds = quick ? 1.5 : 15;
  if (harness_seconds < 0) harness_seconds = quick ? 15 : 60;
  if (prometheus_wait == "auto") prometheus_wait = quick ? "off" : "on";
  if (!quick) {
    if (warmup_seconds == 0.25) warmup_seconds = 3;
    if (follow_timeout_seconds == 15) follow_timeout_seconds = 60;
  }
  return Ok();
}

Status StudyOptions::Validate() const {
  for (const auto& v : versions) {
    if (std::find(kAllVersions.begin(), kAllVersions.end(), v) == kAllVersions.end()) {
      return InvalidArgument(fmt::format("--only: unknown version '{}' (v0 … v6, mem)", v));
    }
  }
  for (int w : workers) {
    if (w < 1 || w > 64) return InvalidArgument("--workers: each count must be in [1, 64]");
  }
  for (const auto& b : backpressure) {
    if (b != "on" && b != "off") return InvalidArgument("--backpressure: on, off or on,off");
  }
  if (!(service_ms > 0 && service_ms <= 60000)) {
    return InvalidArgument("--service-ms must be in (0, 60000] for a study");
  }
  if (service_dist != "fixed" && service_dist != "exp" && service_dist != "lognormal") {
    return InvalidArgument("--service-dist must be fixed, exp or lognormal");
  }
  if (mode != "sleep" && mode != "cpu") return InvalidArgument("--mode must be sleep or cpu");
  for (double m : ladder) {
    if (!(m > 0 && m <= 100)) return InvalidArgument("--ladder: each multiple must be in (0, 100]");
  }
  if (!(step_seconds >= 0.5)) return InvalidArgument("--step-seconds must be >= 0.5");
  if (prometheus != "auto" && prometheus != "on" && prometheus != "off") {
    return InvalidArgument("--prometheus must be auto, on or off");
  }
  if (!(slo_p99_ms > 0) || !(slo_error_rate >= 0 && slo_error_rate <= 1)) {
    return InvalidArgument("the SLO needs a positive p99 and an error rate in [0, 1]");
  }
  return Ok();
}

std::string BackendOf(const std::string& version) {
  if (version == "v0" || version == "v1" || version == "v2") return "ocr";
  if (version == "mem") return "memory";
  const queue::BackendEntry* b = app::BackendForVersion(version);
  return b ? std::string(b->kind) : "unknown";
}

std::vector<std::string> ServicesFor(const std::vector<std::string>& versions) {
  std::vector<std::string> out;
  auto need = [&](const std::string& s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (const auto& v : versions) {
    std::string b = BackendOf(v);
    if (b == "ocr" || b == "memory") continue;
    need("postgres");  // the job store of every V3-V6
    need(b);
  }
  return out;
}

namespace {

std::vector<std::string> ModelArgs(const StudyOptions& o, uint64_t seed) {
  return {"--service-ms", Num(o.service_ms), "--service-dist", o.service_dist, "--mode", o.mode,
          "--seed", std::to_string(seed), "--log-level", "warn"};
}

void Append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// Backpressure thresholds scale with capacity: about one second of work may wait (so that an
// accepted job still meets a 2 s SLO).
int64_t QueueBound(double capacity) { return std::max<int64_t>(4, std::llround(capacity)); }

void PlanSync(const StudyOptions& o, CellPlan& c, const std::string& data, uint64_t seed) {
  const std::string bp = c.backpressure ? "on" : "off";
  const int servers = c.version == "v2" ? c.workers : 1;
  const int instances = c.version == "v2" ? 1 : c.workers;
  std::vector<std::string> api = {"api", "--listen", "127.0.0.1:0", "--data-dir", data,
                                   "--backpressure", bp, "--log-level", "warn"};
  const std::string bound = std::to_string(QueueBound(c.capacity));
  Append(api, {"--v0-queue", bound, "--v1-queue", bound, "--v2-queue", bound});
  for (int i = 0; i < servers; ++i) {
    ChildSpec ocr{.name = fmt::format("ocr-{}", i),
                  .args = {"ocr-server", "--listen", "127.0.0.1:0", "--data-dir", data,
                           "--concurrency", std::to_string(instances), "--queue", "100000",
                           "--backpressure", "off"}};
    Append(ocr.args, ModelArgs(o, seed + i));
    c.children.push_back(std::move(ocr));
    Append(api, {"--ocr-url", fmt::format("{{url:ocr-{}}}", i)});  // filled in at start
  }
  c.children.push_back(ChildSpec{.name = "api", .args = api});
  c.target_path = fmt::format("/{}/ocr/sync", c.version);
  c.depth_series = fmt::format("mqlab_inflight{{component=\"{}\"}}", c.version);
}

void PlanAsync(const StudyOptions& o, const ServerUrls& urls, CellPlan& c, const std::string& data,
               uint64_t seed) {
  const std::string bp = c.backpressure ? "on" : "off";
  const std::string depth = std::to_string(QueueBound(c.capacity));
  if (c.version == "mem") {
    ChildSpec serve{.name = "serve",
                    .args = {"serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--workers",
                             std::to_string(c.workers), "--backpressure", bp, "--max-queue-depth",
                             depth}};
    Append(serve.args, ModelArgs(o, seed));
    c.children.push_back(std::move(serve));
    c.target_path = "/mem/ocr/jobs";
    c.depth_series = "mqlab_queue_depth{backend=\"memory\"}";
    return;
  }
  const std::string schema = "study_" + c.id.substr(0, c.id.find('-')) + "_" + NewJobId().substr(0, 8);
  const std::string queue = "study_" + NewJobId().substr(0, 8);
  std::vector<std::string> servers = {"--postgres-url", urls.by_service.at("postgres"),
                                      "--pg-schema", schema};
  if (c.backend != "postgres") {
    Append(servers, {app::UrlFlagFor(c.backend), urls.by_service.at(c.backend)});
  }
  for (int i = 0; i < c.workers; ++i) {
    ChildSpec w{.name = fmt::format("worker-{}", i),
                .args = {"worker", "--queue", c.backend, "--metrics-listen", "127.0.0.1:0",
                         "--data-dir", data, "--worker-id", fmt::format("{}-w{}", c.id, i)},
                .ready_marker = "metrics on"};
    if (c.backend != "postgres") Append(w.args, {"--queue-name", queue});
    Append(w.args, servers);
    Append(w.args, ModelArgs(o, seed + i));
    c.children.push_back(std::move(w));
  }
  ChildSpec api{.name = "api",
                .args = {"api", "--listen", "127.0.0.1:0", "--data-dir", data, "--backpressure", bp,
                         "--max-queue-depth", depth, "--queue-name", queue, "--log-level", "warn"}};
  Append(api.args, servers);
  // The API starts first: it creates the schema, so that workers starting at once do not race.
  c.children.insert(c.children.begin(), std::move(api));
  c.target_path = fmt::format("/{}/ocr/jobs", c.version);
  c.depth_series = fmt::format("mqlab_queue_depth{{backend=\"{}\"}}", c.backend);
}

}  // namespace

std::vector<CellPlan> PlanCells(const StudyOptions& o, const ServerUrls& urls,
                                const std::filesystem::path& data_dir) {
  std::vector<CellPlan> cells;
  uint64_t seed = o.seed;
  for (const auto& v : o.versions) {
    for (int w : o.workers) {
      for (const auto& bp : o.backpressure) {
        CellPlan c;
        c.version = v;
        c.workers = w;
        c.backpressure = bp == "on";
        c.backend = BackendOf(v);
        c.kind = c.backend == "ocr" ? "sync" : "async";
        c.id = fmt::format("{}-w{}-{}", v, w, bp);
        c.capacity = w * 1000.0 / o.service_ms;
        const std::string data = (data_dir / c.id).string();
        seed += 100;
        if (c.kind == "sync") {
          PlanSync(o, c, data, seed);
        } else {
          PlanAsync(o, urls, c, data, seed);
        }
        cells.push_back(std::move(c));
      }
    }
  }
  return cells;
}

}  // namespace mqlab::study
