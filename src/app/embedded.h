// EmbeddedApp: `mqlab serve`, the whole system in one process — API + N in-process workers +
// the memory queue + the SQLite store. What a new user runs first, and the `mem` baseline of the
// study (the ideal queue: no network hop, no broker).
//
// Object tree (built in Create, torn down in reverse): store → queue → metrics → predictor →
// worker → job service → router → HTTP runtime. Start-up recovers the unfinished `mem` jobs of a
// previous run from the store and enqueues them again (the memory queue does not survive the
// process; the store does), so a stop — graceful or not — loses no accepted job.
//
// Stop order: /readyz turns 503, the HTTP server stops accepting and finishes in-flight requests,
// then the workers drain in-flight jobs within the grace period; queued jobs stay PENDING in the
// store for the next start.
//
// Threading: Create/Start/Stop from one controlling thread.
#ifndef MQLAB_APP_EMBEDDED_H_
#define MQLAB_APP_EMBEDDED_H_

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/logger.h>

#include "api/api_routes.h"
#include "api/job_service.h"
#include "app/http_runtime.h"
#include "app/ops_listener.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"
#include "mqlab/model/predictor.h"
#include "mqlab/store/job_store.h"
#include "queue/memory/memory_queue.h"
#include "worker/worker.h"

namespace mqlab::app {

struct ServeConfig {
  HttpRuntimeOptions http;
  std::filesystem::path data_dir = "./data";
  // "sqlite:PATH". Default: "" = sqlite:<data_dir>/mqlab.db.
  std::string store;
  model::PredictorOptions model;
  worker::WorkerOptions worker;  // worker.concurrency is --workers
  api::AdmissionOptions admission;
  // The memory queue's hard cap (backpressure off still never holds more). Default: 100000.
  size_t queue_capacity = 100000;
  int max_attempts = 3;  // Default: 3
  // How long in-flight jobs may take to finish at stop. Default: 30 s.
  std::chrono::milliseconds shutdown_grace{30000};
  std::string api_token;  // Default: "" (no authentication)
  // --metrics-listen: serve /metrics (with /healthz, /readyz) on this address instead of the API's
  // listener. Default: unset = on the API's listener.
  std::optional<http::ServerOptions> metrics_server;
};

class EmbeddedApp {
 public:
  // Builds everything and recovers unfinished jobs; serves nothing yet.
  static Result<std::unique_ptr<EmbeddedApp>> Create(const ServeConfig& config,
                                                     std::shared_ptr<spdlog::logger> log);
  ~EmbeddedApp();

  // Binds, starts the workers and the server.
  Status Start();
  // Graceful stop (see the file comment). Returns true if every in-flight job finished.
  bool Stop();

  std::string BaseUrl() const { return http_->BaseUrl(); }
  // Where /metrics is served: "<base url>/metrics", on the ops listener when there is one.
  std::string MetricsUrl() const { return (ops_ ? ops_->BaseUrl() : BaseUrl()) + "/metrics"; }
  worker::Worker& worker() { return *worker_; }
  size_t recovered() const { return recovered_; }

 private:
  EmbeddedApp() = default;

  ServeConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<store::JobStore> store_;
  std::unique_ptr<queue::MemoryQueue> queue_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<metrics::MqlabMetrics> metrics_;
  std::unique_ptr<model::Predictor> predictor_;
  std::unique_ptr<worker::Worker> worker_;
  std::unique_ptr<api::JobService> jobs_;
  api::ApiContext context_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<HttpRuntime> http_;
  std::unique_ptr<OpsListener> ops_;  // when metrics_server is set
  std::atomic<bool> stopping_{false};
  size_t recovered_ = 0;
  bool started_ = false;
};

// `mqlab serve`: runs until SIGINT/SIGTERM, prints where it listens. With `demo_jobs` > 0 it
// instead submits that many jobs to itself over HTTP, follows them to the end, prints a summary
// and exits (the README's first command). Returns the process exit code.
int RunServe(const ServeConfig& config, int demo_jobs, std::shared_ptr<spdlog::logger> log);

}  // namespace mqlab::app

#endif  // MQLAB_APP_EMBEDDED_H_
