// `mqlab api`: the producer process of the multi-process versions.
#include "app/api_app.h"
#include "http/client.h"
#include "cli/backend_flags.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace mqlab::cli {

namespace {

struct ApiFlags {
  CommonFlags common;
  std::string store;
  app::BackendUrls backends;
  std::vector<std::string> ocr_urls;
  sync::SyncOptions sync;
  double ocr_timeout_s = 30;
  int max_attempts = 3;
  int64_t max_queue_depth = 1000;
  int64_t max_inflight = 256;
  int io_threads = 0;
  int store_pool = 8;
  std::string pg_schema = "public";
  std::string queue_name = "mqlab_jobs";
  std::string api_token;
  std::string metrics_listen;  // empty: /metrics on --listen
};

int RunApiCommand(const ApiFlags& f) {
  if (auto s = f.common.Validate(); !s) return UsageError(s.error().message);
  if (!f.store.empty() && !f.store.starts_with("sqlite:") && !f.store.starts_with("postgres://") &&
      !f.store.starts_with("postgresql://")) {
    return UsageError("--store must be postgres://… or sqlite:PATH");
  }
  auto hp = ParseHostPort(f.common.listen);
  app::ApiConfig c;
  c.http.server.host = hp->host;
  c.http.server.port = hp->port;
  c.http.io_threads = f.io_threads;
  c.http.blocking_threads = f.store_pool;
  c.data_dir = f.common.data_dir;
  c.store = f.store;
  c.backends = f.backends;
  c.sync = f.sync;
  c.sync.ocr_timeout = std::chrono::milliseconds(static_cast<int64_t>(f.ocr_timeout_s * 1000));
  for (const std::string& u : f.ocr_urls) {
    auto url = http::ParseHttpUrl(u);
    if (!url) return UsageError("--ocr-url: " + url.error().message);
    c.sync.ocr_urls.push_back(*url);
  }
  if (auto s = c.sync.Validate(); !s) return UsageError(s.error().message);
  c.admission.backpressure = f.common.backpressure_on();
  c.admission.max_queue_depth = f.max_queue_depth;
  c.admission.max_inflight = f.max_inflight;
  c.max_attempts = f.max_attempts;
  c.store_pool_size = f.store_pool;
  c.pg_schema = f.pg_schema;
  c.queue_name = f.queue_name;
  c.api_token = f.api_token;
  if (auto s = ApplyMetricsListen(f.metrics_listen, c.metrics_server); !s) {
    return UsageError(s.error().message);
  }
  return app::RunApi(c, MakeLogger("api", f.common.log));
}

}  // namespace

Runner AddApiCommand(CLI::App& root) {
  auto f = std::make_shared<ApiFlags>();
  CLI::App* cmd = root.add_subcommand("api", "Serve every version's HTTP endpoints (the producer)");
  AddCommonFlags(cmd, f->common, "127.0.0.1:8080");
  cmd->add_option("--store", f->store, "Job store: postgres://… or sqlite:PATH (default: --postgres-url)")
      ->envname("MQLAB_STORE");
  AddBackendFlags(cmd, f->backends);
  cmd->add_option("--ocr-url", f->ocr_urls, "OCR server URL for V0-V2 (repeat for V2's N servers)")
      ->envname("MQLAB_OCR_URL")->delimiter(',');
  Flag(cmd, "--v0-threads", f->sync.v0_threads, "V0: request threads blocked on the OCR call")
      ->check(CLI::Range(1, 10000));
  Flag(cmd, "--v0-queue", f->sync.v0_queue, "V0: requests waiting for a thread (backpressure on)")
      ->check(CLI::Range(0, 1000000));
  Flag(cmd, "--v1-executor", f->sync.v1_executor, "V1: concurrent OCR calls of the executor")
      ->check(CLI::Range(1, 10000));
  Flag(cmd, "--v1-queue", f->sync.v1_queue, "V1: calls waiting for the executor (backpressure on)")
      ->check(CLI::Range(0, 1000000));
  Flag(cmd, "--v2-per-server", f->sync.v2_per_server, "V2: calls in flight per OCR server")
      ->check(CLI::Range(1, 10000));
  Flag(cmd, "--v2-queue", f->sync.v2_queue, "V2: calls waiting for a server (backpressure on)")
      ->check(CLI::Range(0, 1000000));
  Flag(cmd, "--hard-cap", f->sync.hard_cap, "Most sync requests waiting when backpressure is off")
      ->check(CLI::Range(1, 10000000));
  Flag(cmd, "--ocr-timeout", f->ocr_timeout_s, "Seconds an OCR call may take before 504")
      ->check(CLI::Range(0.001, 3600.0));
  Flag(cmd, "--max-attempts", f->max_attempts, "Attempts per job before it is FAILED")
      ->check(CLI::Range(1, 100));
  Flag(cmd, "--max-queue-depth", f->max_queue_depth,
       "Backpressure: reject (429) while this many jobs wait")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  Flag(cmd, "--max-inflight", f->max_inflight,
       "Backpressure: reject (429) while this many submissions are in progress")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  Flag(cmd, "--pg-schema", f->pg_schema, "PostgreSQL schema of the job store and V3's queue");
  Flag(cmd, "--queue-name", f->queue_name, "Queue/topic name of V4-V6");
  Flag(cmd, "--io-threads", f->io_threads, "HTTP threads (0: one per core)")->check(CLI::Range(0, 256));
  Flag(cmd, "--store-pool", f->store_pool, "Store connections and blocking threads")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--api-token", f->api_token, "Require `Authorization: Bearer TOKEN` (not on /healthz)")
      ->envname("MQLAB_API_TOKEN");
  Flag(cmd, "--metrics-listen", f->metrics_listen,
       "HOST:PORT for /metrics (and /healthz, /readyz) apart from the API, no token asked there "
       "(default: on --listen)");
  return [f] { return RunApiCommand(*f); };
}

}  // namespace mqlab::cli
