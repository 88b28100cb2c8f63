// `mqlab worker`: one consumer process — a queue of the chosen kind, the PostgreSQL job store,
// the model, the worker loop (src/worker), and a small HTTP endpoint for /metrics, /healthz and
// /readyz on --metrics-listen. SIGTERM/SIGINT drain in-flight jobs within the grace period and
// exit 0; a second signal exits at once (unsettled deliveries come back to other workers).
#ifndef MQLAB_APP_WORKER_APP_H_
#define MQLAB_APP_WORKER_APP_H_

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "app/backends.h"
#include "app/http_runtime.h"
#include "mqlab/model/predictor.h"
#include "queue/registry.h"
#include "worker/worker.h"

namespace mqlab::app {

struct WorkerConfig {
  std::string queue_kind;  // postgres, redis, rabbitmq, kafka
  queue::QueueOptions queue;  // url filled from `backends` when empty
  BackendUrls backends;
  // Job store URL. Default: "" = the PostgreSQL URL.
  std::string store;
  std::string pg_schema = "public";  // Default: "public" (store and V3 queue)
  std::filesystem::path data_dir = "./data";
  model::PredictorOptions model;
  worker::WorkerOptions worker;
  HttpRuntimeOptions metrics_http;  // --metrics-listen
  std::chrono::milliseconds shutdown_grace{30000};  // Default: 30 s
};

int RunWorker(const WorkerConfig& config, std::shared_ptr<spdlog::logger> log);

}  // namespace mqlab::app

#endif  // MQLAB_APP_WORKER_APP_H_
