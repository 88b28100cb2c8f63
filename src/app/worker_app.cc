#include "app/worker_app.h"

#include <csignal>

#include <fmt/format.h>

#include "common/logging.h"
#include "common/signals.h"
#include "http/blocking.h"
#include "http/json_response.h"
#include "http/router.h"
#include "metrics/process_metrics.h"
#include "store/open_store.h"

namespace mqlab::app {
namespace {

namespace net = http::net;

int Fail(std::string_view message) {
  fmt::print(stderr, "mqlab worker: {}\n", OneLine(message));
  return 1;
}

net::awaitable<http::Response> Text(std::string body, std::string_view type) {
  http::Response res{http::HttpStatus::ok, 11};
  res.set(http::Field::content_type, type);
  res.body() = std::move(body);
  res.prepare_payload();
  co_return res;
}

}  // namespace

int RunWorker(const WorkerConfig& config, std::shared_ptr<spdlog::logger> log) {
  const queue::BackendEntry* backend = BackendForKind(config.queue_kind);
  if (config.queue_kind == "memory") {
    return Fail("the memory queue lives inside one process: use `mqlab serve --workers N`");
  }
  queue::QueueOptions qopts = config.queue;
  qopts.kind = config.queue_kind;
  qopts.schema = config.pg_schema;
  if (qopts.url.empty()) qopts.url = config.backends.UrlFor(config.queue_kind);
  if (qopts.url.empty()) {
    return Fail(fmt::format("no {} server given: pass {} or run `mqlab services up {}`",
                            config.queue_kind, UrlFlagFor(config.queue_kind), config.queue_kind));
  }
  const std::string store_url = config.store.empty() ? config.backends.postgres : config.store;
  if (store_url.empty()) {
    return Fail("no job store: pass --store postgres://… or --postgres-url (or run `mqlab "
                "services up postgres`)");
  }
  auto store = store::OpenStore(
      store_url, {.pool_size = config.worker.concurrency + 5, .schema = config.pg_schema});
  if (!store) return Fail(store.error().message);
  if (!backend) {
    return Fail(fmt::format("the {} backend is not built into this mqlab", config.queue_kind));
  }
  // Jobs running, ready for their slot and being recorded (see WorkerOptions::Prefetch).
  qopts.prefetch = std::max(qopts.prefetch, config.worker.Prefetch());
  auto queue = backend->open(qopts);
  if (!queue) return Fail(queue.error().message);

  metrics::Registry registry;
  metrics::MqlabMetrics metrics(registry);
  metrics::RegisterProcessMetrics(registry);
  metrics::Gauge& depth = metrics.queue_depth.With({config.queue_kind});
  queue::JobQueue* qp = queue->get();
  registry.AddCollector([qp, &depth] {
    if (auto d = qp->Depth(); d) depth.Set(static_cast<double>(*d));
  });
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  model::Predictor predictor(config.data_dir, config.model);
  worker::WorkerOptions wopts = config.worker;
  if (wopts.worker_id.empty()) wopts.worker_id = worker::DefaultWorkerId();
  worker::Worker worker(wopts, config.queue_kind, **queue, **store, predictor, Clock::Real(),
                        metrics, log);

  std::atomic<bool> stopping{false};
  http::Router router;
  HttpRuntime* runtime_ptr = nullptr;
  (void)router.Add(http::Verb::get, "/metrics", [&](const http::Request&, const http::RouteParams&)
                       -> net::awaitable<http::Response> {
    std::string text = co_await http::RunBlocking(runtime_ptr->blocking(),
                                                  [&] { return registry.Render(); });
    co_return co_await Text(std::move(text), metrics::kTextFormatContentType);
  });
  (void)router.Add(http::Verb::get, "/healthz", [](const http::Request&, const http::RouteParams&) {
    return Text(R"({"status":"ok"})", http::kJsonContentType);
  });
  (void)router.Add(http::Verb::get, "/readyz", [&](const http::Request&, const http::RouteParams&)
                       -> net::awaitable<http::Response> {
    if (stopping.load()) {
      co_return http::JsonError(http::HttpStatus::service_unavailable, "shutting_down",
                                "the worker is stopping");
    }
    co_return co_await Text(R"({"status":"ready"})", http::kJsonContentType);
  });
  HttpRuntimeOptions hopts = config.metrics_http;
  hopts.blocking_threads = 1;
  hopts.io_threads = 1;
  HttpRuntime runtime(hopts, router.AsHandler());
  runtime_ptr = &runtime;
  if (auto s = runtime.Listen(); !s) return Fail(s.error().message);
  runtime.Start();
  worker.Start();
  fmt::print("mqlab worker: consuming {} with concurrency {} (id {}); metrics on {}/metrics\n",
             config.queue_kind, wopts.concurrency, wopts.worker_id, runtime.BaseUrl());
  std::fflush(stdout);
  int sig = WaitForStopSignal();
  log->info("worker: {} received, draining (again to force)", sig == SIGINT ? "SIGINT" : "SIGTERM");
  ArmForcedExit();
  stopping = true;
  bool drained = worker.Stop(config.shutdown_grace);
  (*queue)->Close();
  runtime.Stop();
  auto st = worker.stats();
  log->info("worker: stopped; {} succeeded, {} failed, {} retried, {} duplicates, {} dead-lettered",
            st.succeeded, st.failed, st.retried, st.duplicates, st.dead_lettered);
  return drained ? 0 : 1;
}

}  // namespace mqlab::app
