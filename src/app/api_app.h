// ApiApp: `mqlab api`, the producer of the multi-process versions. Serves every version's
// endpoints; a version is live when its backend is configured (V3-V6: the PostgreSQL job store
// plus the version's queue URL; V0-V2: OCR server URLs), else it answers 503
// backend_not_configured saying what to configure.
//
// Object tree: store → queues (one per configured async version) → metrics → job services →
// router → HTTP runtime. Threading: Create/Start/Stop from one controlling thread.
#ifndef MQLAB_APP_API_APP_H_
#define MQLAB_APP_API_APP_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/logger.h>

#include "api/api_routes.h"
#include "api/job_service.h"
#include "app/backends.h"
#include "app/http_runtime.h"
#include "app/ops_listener.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"
#include "mqlab/store/job_store.h"
#include "mqlab/queue/job_queue.h"
#include "sync/sync_versions.h"

namespace mqlab::app {

struct ApiConfig {
  HttpRuntimeOptions http;
  std::filesystem::path data_dir = "./data";
  // Job store URL: postgres://… or sqlite:PATH. Default: "" = the PostgreSQL URL if one is
  // configured, else no store (async versions unconfigured).
  std::string store;
  BackendUrls backends;
  sync::SyncOptions sync;  // V0-V2: OCR server URLs, pools, queues (data_dir and backpressure
                          // are copied from above)
  api::AdmissionOptions admission;
  int max_attempts = 3;
  int store_pool_size = 8;  // Default: 8, the size of the blocking pool
  // PostgreSQL schema of the job store and of V3's queue. Default: "public".
  std::string pg_schema = "public";
  // Queue/topic name of V4-V6 (V3's queue is the store's table). Default: "mqlab_jobs".
  std::string queue_name = "mqlab_jobs";
  std::string api_token;
  // --metrics-listen: serve /metrics (with /healthz, /readyz) on this address instead of the API's
  // listener. Default: unset = on the API's listener.
  std::optional<http::ServerOptions> metrics_server;
};

class ApiApp {
 public:
  static Result<std::unique_ptr<ApiApp>> Create(const ApiConfig& config,
                                                std::shared_ptr<spdlog::logger> log);
  ~ApiApp();
  Status Start();
  void Stop();
  std::string BaseUrl() const { return http_->BaseUrl(); }
  // Where /metrics is served: "<base url>/metrics", on the ops listener when there is one.
  std::string MetricsUrl() const { return (ops_ ? ops_->BaseUrl() : BaseUrl()) + "/metrics"; }
  // The versions that are live, for the start-up line.
  std::vector<std::string> LiveVersions() const;

 private:
  ApiApp() = default;
  Status OpenBackends();

  ApiConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<store::JobStore> store_;
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<metrics::MqlabMetrics> metrics_;
  std::map<std::string, std::unique_ptr<queue::JobQueue>> queues_;    // by version
  std::map<std::string, std::unique_ptr<api::JobService>> services_;  // by version
  api::ApiContext context_;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<HttpRuntime> http_;
  std::unique_ptr<OpsListener> ops_;  // when metrics_server is set
  std::unique_ptr<sync::SyncVersions> sync_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
};

int RunApi(const ApiConfig& config, std::shared_ptr<spdlog::logger> log);

}  // namespace mqlab::app

#endif  // MQLAB_APP_API_APP_H_
