#include "app/embedded.h"

#include <fmt/format.h>

#include "common/signals.h"
#include "metrics/process_metrics.h"
#include "store/open_store.h"

namespace mqlab::app {

namespace fs = std::filesystem;

Result<std::unique_ptr<EmbeddedApp>> EmbeddedApp::Create(const ServeConfig& config,
                                                         std::shared_ptr<spdlog::logger> log) {
  if (auto s = config.worker.Validate(); !s) return std::unexpected(s.error());
  if (auto s = config.admission.Validate(); !s) return std::unexpected(s.error());
  if (auto s = config.model.Validate(); !s) return std::unexpected(s.error());
  std::error_code ec;
  fs::create_directories(config.data_dir, ec);
  if (ec) {
    return InvalidArgument(
        fmt::format("cannot create data folder {}: {}", config.data_dir.string(), ec.message()));
  }
  std::unique_ptr<EmbeddedApp> app(new EmbeddedApp());
  app->config_ = config;
  app->log_ = log;
  const std::string store_url =
      config.store.empty() ? "sqlite:" + (config.data_dir / "mqlab.db").string() : config.store;
  // serve is the only process using its database: hold the lock (see SqliteStoreOptions).
  auto store = store::OpenStore(store_url, {.sqlite_exclusive = true});
  if (!store) return std::unexpected(store.error());
  app->store_ = std::move(*store);
  app->queue_ = std::make_unique<queue::MemoryQueue>(
      queue::MemoryQueueOptions{.capacity = config.queue_capacity});
  app->registry_ = std::make_unique<metrics::Registry>();
  app->metrics_ = std::make_unique<metrics::MqlabMetrics>(*app->registry_);
  metrics::RegisterProcessMetrics(*app->registry_);
  app->predictor_ = std::make_unique<model::Predictor>(config.data_dir, config.model);
  worker::WorkerOptions wopts = config.worker;
  if (wopts.worker_id.empty()) wopts.worker_id = worker::DefaultWorkerId();
  app->worker_ = std::make_unique<worker::Worker>(wopts, "memory", *app->queue_, *app->store_,
                                                  *app->predictor_, Clock::Real(),
                                                  *app->metrics_, log);
  app->jobs_ = std::make_unique<api::JobService>(
      api::JobServiceOptions{.version = "mem",
                             .backend = "memory",
                             .data_dir = config.data_dir,
                             .max_attempts = config.max_attempts,
                             .admission = config.admission},
      *app->store_, *app->queue_, Clock::Real(), *app->metrics_);

  // Jobs a previous run accepted and did not finish: enqueue them again.
  auto ids = app->store_->Recover({.version = "mem", .now = Clock::Real().Now()});
  if (!ids) return std::unexpected(ids.error());
  for (const std::string& id : *ids) {
    queue::Message m{.job_id = id, .attempt = 1, .enqueued_at = Clock::Real().Now()};
    if (auto s = app->queue_->Enqueue(m); !s) {
      log->warn("{} recovered jobs could not be queued now (queue full); they stay "
                "PENDING for the next start", ids->size() - app->recovered_);
      break;
    }
    ++app->recovered_;
  }
  if (app->recovered_ > 0) log->info("recovered {} unfinished jobs", app->recovered_);

  EmbeddedApp* raw = app.get();
  raw->registry_->AddCollector([raw] {
    raw->metrics_->queue_depth.With({"memory"}).Set(
        static_cast<double>(raw->queue_->Depth().value_or(0)));
  });
  api::ApiContext& ctx = raw->context_;
  ctx.async_services["mem"] = raw->jobs_.get();
  ctx.registry = raw->registry_.get();
  ctx.metrics = raw->metrics_.get();
  ctx.stopping = &raw->stopping_;
  ctx.api_token = config.api_token;
  ctx.metrics_elsewhere = config.metrics_server.has_value();
  ctx.readiness = [raw] { return raw->store_->Ping(); };
  ctx.how_to_configure = [](const std::string& version) {
    return fmt::format("`mqlab serve` runs the mem version only; {} needs `mqlab api` with its "
                       "backend (see `mqlab api --help`)", version);
  };
  raw->router_ = std::make_unique<http::Router>();
  if (auto s = api::RegisterApiRoutes(*raw->router_, ctx); !s) return std::unexpected(s.error());
  HttpRuntimeOptions hopts = config.http;
  raw->http_ = std::make_unique<HttpRuntime>(hopts, api::InstrumentedHandler(*raw->router_, ctx));
  ctx.blocking = &raw->http_->blocking();
  if (config.metrics_server) {
    auto ops = OpsListener::Create(*config.metrics_server, ctx);
    if (!ops) return std::unexpected(ops.error());
    raw->ops_ = std::move(*ops);
  }
  return app;
}

EmbeddedApp::~EmbeddedApp() { Stop(); }

Status EmbeddedApp::Start() {
  if (ops_) {
    if (auto s = ops_->Start(); !s) return s;
  }
  if (auto s = http_->Listen(); !s) return s;
  worker_->Start();
  http_->Start();
  started_ = true;
  return Ok();
}

bool EmbeddedApp::Stop() {
  if (!started_) return true;
  started_ = false;
  stopping_ = true;
  http_->Stop();
  if (ops_) ops_->Stop();
  bool drained = worker_->Stop(config_.shutdown_grace);
  queue_->Close();
  const auto st = worker_->stats();
  log_->info("stopped; {} jobs succeeded, {} failed, {} retried, {} duplicates skipped, "
             "{} still queued (kept PENDING for the next start)",
             st.succeeded, st.failed, st.retried, st.duplicates, queue_->Depth().value_or(0));
  return drained;
}

}  // namespace mqlab::app
