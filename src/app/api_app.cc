#include "app/api_app.h"

#include <csignal>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/logging.h"
#include "common/signals.h"
#include "metrics/process_metrics.h"
#include "store/open_store.h"

namespace mqlab::app {

Result<std::unique_ptr<ApiApp>> ApiApp::Create(const ApiConfig& config,
                                               std::shared_ptr<spdlog::logger> log) {
  if (auto s = config.admission.Validate(); !s) return std::unexpected(s.error());
  std::unique_ptr<ApiApp> app(new ApiApp());
  app->config_ = config;
  app->log_ = log;
  std::string store_url = config.store.empty() ? config.backends.postgres : config.store;
  if (!store_url.empty()) {
    auto store = store::OpenStore(store_url,
                                  {.pool_size = config.store_pool_size, .schema = config.pg_schema});
    if (!store) return std::unexpected(store.error());
    app->store_ = std::move(*store);
  }
  app->registry_ = std::make_unique<metrics::Registry>();
  app->metrics_ = std::make_unique<metrics::MqlabMetrics>(*app->registry_);
  metrics::RegisterProcessMetrics(*app->registry_);
  if (auto s = app->OpenBackends(); !s) return std::unexpected(s.error());

  ApiApp* raw = app.get();
  api::ApiContext& ctx = raw->context_;
  for (auto& [version, service] : raw->services_) ctx.async_services[version] = service.get();
  ctx.registry = raw->registry_.get();
  ctx.metrics = raw->metrics_.get();
  ctx.stopping = &raw->stopping_;
  ctx.api_token = config.api_token;
  ctx.metrics_elsewhere = config.metrics_server.has_value();
  ctx.readiness = [raw]() -> Status { return raw->store_ ? raw->store_->Ping() : Ok(); };
  ctx.how_to_configure = [raw](const std::string& version) -> std::string {
    if (version == "v0" || version == "v1" || version == "v2") {
      return "give the OCR servers with --ocr-url (mqlab ocr-server)";
    }
    if (version == "mem") return "the memory queue lives inside `mqlab serve`";
    const queue::BackendEntry* b = BackendForVersion(version);
    if (!b) return "its backend is not built into this mqlab yet";
    if (!raw->store_) return "start with --store postgres://… (or MQLAB_POSTGRES_URL)";
    return fmt::format("give its server with {} (`mqlab services up {}` starts one)",
                       UrlFlagFor(b->kind), b->kind);
  };
  raw->router_ = std::make_unique<http::Router>();
  if (auto s = api::RegisterApiRoutes(*raw->router_, ctx); !s) return std::unexpected(s.error());
  raw->http_ = std::make_unique<HttpRuntime>(config.http, api::InstrumentedHandler(*raw->router_, ctx));
  ctx.blocking = &raw->http_->blocking();
  if (config.metrics_server) {
    auto ops = OpsListener::Create(*config.metrics_server, ctx);
    if (!ops) return std::unexpected(ops.error());
    raw->ops_ = std::move(*ops);
  }
  sync::SyncOptions sopts = config.sync;
  sopts.data_dir = config.data_dir;
  sopts.backpressure = config.admission.backpressure;
  if (auto s = sopts.Validate(); !s) return std::unexpected(s.error());
  raw->sync_ = std::make_unique<sync::SyncVersions>(raw->http_->io_context(), sopts, *raw->metrics_);
  ctx.sync_handlers = raw->sync_->Handlers();
  return app;
}

Status ApiApp::OpenBackends() {
  if (!store_) return Ok();
  for (const std::string& version : api::AsyncVersions()) {
    const queue::BackendEntry* b = BackendForVersion(version);
    if (!b || b->kind == "memory") continue;
    std::string url = config_.backends.UrlFor(b->kind);
    if (url.empty()) continue;
    queue::QueueOptions qo{.kind = std::string(b->kind), .url = url};
    qo.schema = config_.pg_schema;
    if (b->kind != "postgres") qo.name = config_.queue_name;
    auto q = b->open(qo);
    if (!q) {
      return std::unexpected(Error{q.error().code, fmt::format("{} ({}): {}", version, b->kind,
                                                               q.error().message)});
    }
    metrics::Gauge& depth = metrics_->queue_depth.With({std::string(b->kind)});
    queue::JobQueue* qp = q->get();
    registry_->AddCollector([qp, &depth] {
      if (auto d = qp->Depth(); d) depth.Set(static_cast<double>(*d));
    });
    services_[version] = std::make_unique<api::JobService>(
        api::JobServiceOptions{.version = version,
                               .backend = std::string(b->kind),
                               .data_dir = config_.data_dir,
                               .max_attempts = config_.max_attempts,
                               .admission = config_.admission},
        *store_, **q, Clock::Real(), *metrics_);
    queues_[version] = std::move(*q);
  }
  return Ok();
}

std::vector<std::string> ApiApp::LiveVersions() const {
  std::vector<std::string> v;
  for (const auto& [version, _] : context_.sync_handlers) v.push_back(version);
  for (const auto& [version, _] : services_) v.push_back(version);
  return v;
}

ApiApp::~ApiApp() { Stop(); }

Status ApiApp::Start() {
  if (ops_) {
    if (auto s = ops_->Start(); !s) return s;
  }
  if (auto s = http_->Listen(); !s) return s;
  http_->Start();
  started_ = true;
  return Ok();
}

void ApiApp::Stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  sync_->Close();  // waiting sync requests are answered 503 at once
  http_->Stop();
  if (ops_) ops_->Stop();
  for (auto& [_, q] : queues_) q->Close();
}

int RunApi(const ApiConfig& config, std::shared_ptr<spdlog::logger> log) {
  auto app = ApiApp::Create(config, log);
  if (!app) {
    fmt::print(stderr, "mqlab api: {}\n", OneLine(app.error().message));
    return 1;
  }
  if (auto s = (*app)->Start(); !s) {
    fmt::print(stderr, "mqlab api: {}\n", OneLine(s.error().message));
    return 1;
  }
  auto live = (*app)->LiveVersions();
  fmt::print("mqlab api: listening on {} (live: {}; metrics on {})\n", (*app)->BaseUrl(),
             live.empty() ? std::string("none") : fmt::format("{}", fmt::join(live, ", ")),
             (*app)->MetricsUrl());
  std::fflush(stdout);
  int sig = WaitForStopSignal();
  log->info("api: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  ArmForcedExit();
  (*app)->Stop();
  return 0;
}

}  // namespace mqlab::app
