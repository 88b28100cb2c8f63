// `mqlab serve`: the embedded default (API + in-process workers + memory queue + SQLite).
#include "app/embedded.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace mqlab::cli {

namespace {

struct ServeFlags {
  CommonFlags common;
  int workers = 2;
  std::string store;
  int max_attempts = 3;
  int64_t max_queue_depth = 1000;
  int64_t max_inflight = 256;
  size_t queue_capacity = 100000;
  double shutdown_grace_s = 30;
  int demo = 0;
  int io_threads = 0;
  std::string api_token;
  std::string metrics_listen;  // empty: /metrics on --listen
  PipelineFlags pipeline;
};

int RunServeCommand(const ServeFlags& f) {
  if (auto s = f.common.Validate(); !s) return UsageError(s.error().message);
  auto hp = ParseHostPort(f.common.listen);
  auto model = f.common.PredictorOptions();
  app::ServeConfig c;
  c.http.server.host = hp->host;
  c.http.server.port = hp->port;
  c.http.io_threads = f.io_threads;
  c.data_dir = f.common.data_dir;
  c.store = f.store;
  c.model = *model;
  c.worker.concurrency = f.workers;
  f.pipeline.Apply(c.worker);
  c.max_attempts = f.max_attempts;
  c.admission.backpressure = f.common.backpressure_on();
  c.admission.max_queue_depth = f.max_queue_depth;
  c.admission.max_inflight = f.max_inflight;
  c.queue_capacity = f.queue_capacity;
  c.shutdown_grace = std::chrono::milliseconds(static_cast<int64_t>(f.shutdown_grace_s * 1000));
  c.api_token = f.api_token;
  if (auto s = ApplyMetricsListen(f.metrics_listen, c.metrics_server); !s) {
    return UsageError(s.error().message);
  }
  if (!f.store.empty() && !f.store.starts_with("sqlite:")) {
    return UsageError("--store: serve keeps its jobs in SQLite (sqlite:PATH)");
  }
  return app::RunServe(c, f.demo, MakeLogger("serve", f.common.log));
}

}  // namespace

Runner AddServeCommand(CLI::App& root) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = root.add_subcommand(
      "serve", "Run everything in one process: API + in-process workers + memory queue + SQLite");
  AddCommonFlags(cmd, f->common, "127.0.0.1:8080");
  Flag(cmd, "--workers", f->workers, "In-process workers (parallel model instances)")
      ->check(CLI::Range(1, 1024));
  Flag(cmd, "--store", f->store, "Job store, sqlite:PATH (default: sqlite:<data-dir>/mqlab.db)");
  Flag(cmd, "--max-attempts", f->max_attempts, "Attempts per job before it is FAILED")
      ->check(CLI::Range(1, 100));
  Flag(cmd, "--max-queue-depth", f->max_queue_depth,
       "Backpressure: reject (429) while this many jobs wait")->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  Flag(cmd, "--max-inflight", f->max_inflight,
       "Backpressure: reject (429) while this many submissions are in progress")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  Flag(cmd, "--queue-capacity", f->queue_capacity,
       "Hard cap of the memory queue, also with backpressure off")->check(CLI::Range(size_t{1}, size_t{100000000}));
  Flag(cmd, "--shutdown-grace", f->shutdown_grace_s, "Seconds in-flight jobs may take at stop")
      ->check(CLI::Range(0.0, 3600.0));
  Flag(cmd, "--demo", f->demo,
       "Submit this many jobs to itself, follow them to the end, print a summary and exit")
      ->check(CLI::Range(0, 1000000));
  Flag(cmd, "--io-threads", f->io_threads, "HTTP threads (0: one per core)")->check(CLI::Range(0, 256));
  Flag(cmd, "--api-token", f->api_token, "Require `Authorization: Bearer TOKEN` (not on /healthz)");
  AddPipelineFlags(cmd, f->pipeline);
  Flag(cmd, "--metrics-listen", f->metrics_listen,
       "HOST:PORT for /metrics (and /healthz, /readyz) apart from the API, no token asked there "
       "(default: on --listen)");
  return [f] { return RunServeCommand(*f); };
}

}  // namespace mqlab::cli
