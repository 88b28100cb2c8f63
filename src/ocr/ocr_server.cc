#include "ocr/ocr_server.h"

#include <csignal>
#include <optional>

#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "common/signals.h"
#include "http/blocking.h"
#include "http/json_response.h"
#include "http/router.h"
#include "metrics/process_metrics.h"
#include "mqlab/domain/input_path.h"
#include "mqlab/domain/job.h"
#include "sync/admission_gate.h"

namespace mqlab::ocr {

namespace net = boost::asio;
using http::HttpStatus;
using http::Request;
using http::Response;

Status OcrServerConfig::Validate() const {
  if (concurrency < 1 || concurrency > 1024) return InvalidArgument("--concurrency must be in [1, 1024]");
  if (queue < 0 || hard_cap < 1) return InvalidArgument("--queue must be >= 0");
  return model.Validate();
}

struct OcrServer::Impl {
  OcrServerConfig config;
  std::shared_ptr<spdlog::logger> log;
  metrics::Registry registry;
  metrics::MqlabMetrics metrics{registry};
  model::Predictor predictor;
  net::thread_pool model_pool;
  http::Router router;
  std::unique_ptr<app::HttpRuntime> http;
  std::unique_ptr<sync::AdmissionGate> gate;
  std::atomic<bool> stopping{false};
  bool started = false;

  Impl(const OcrServerConfig& c, std::shared_ptr<spdlog::logger> l)
      : config(c),
        log(std::move(l)),
        predictor(c.data_dir, c.model),
        model_pool(static_cast<size_t>(c.concurrency)) {}

  net::awaitable<Response> Predict(const Request& req);
  net::awaitable<Response> Metrics();
};

net::awaitable<Response> OcrServer::Impl::Predict(const Request& req) {
  auto body = nlohmann::json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) {
    co_return http::JsonError(HttpStatus::bad_request, "bad_json", "body must be a JSON object");
  }
  auto it = body.find("inputPath");
  if (it == body.end() || !it->is_string()) {
    co_return http::JsonError(HttpStatus::bad_request, "missing_field", "missing field inputPath");
  }
  auto path = ConfineToDataDir(config.data_dir, it->get<std::string>());
  if (!path) {
    co_return http::JsonError(HttpStatus::bad_request, "invalid_input_path", path.error().message);
  }
  auto permit = co_await gate->Enter();
  if (!permit) {
    metrics.backpressure_rejections_total.With({"ocr"}).Inc();
    Response r = http::JsonError(HttpStatus::service_unavailable, "overloaded",
                                 fmt::format("all {} model instances busy and {} requests waiting",
                                             config.concurrency, gate->waiting()));
    r.set(http::Field::retry_after, "1");
    co_return r;
  }
  metrics::Gauge& inflight = metrics.inflight.With({"ocr"});
  inflight.Inc();
  const std::string id = NewJobId();
  const auto start = std::chrono::steady_clock::now();
  auto result = co_await http::RunBlocking(model_pool, [&] {
    return predictor.Predict({.job_id = id, .input_path = *path, .attempt = 1});
  });
  metrics.job_processing_seconds.With({"ocr"}).Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  inflight.Dec();
  if (!result) {
    metrics.jobs_completed_total.With({"ocr", "FAILED"}).Inc();
    co_return http::JsonError(HttpStatus::internal_server_error, "model_failed",
                              result.error().message);
  }
  metrics.jobs_completed_total.With({"ocr", "SUCCESS"}).Inc();
  co_return http::JsonResponse(
      HttpStatus::ok, {{"inputPath", *path},
                       {"outputPath", result->output_path},
                       {"serviceMs", static_cast<double>(result->service_time.count()) / 1000.0},
                       {"requestId", std::string(req["X-Request-Id"])}});
}

net::awaitable<Response> OcrServer::Impl::Metrics() {
  std::string text = co_await http::RunBlocking(http->blocking(), [&] { return registry.Render(); });
  Response res{HttpStatus::ok, 11};
  res.set(http::Field::content_type, metrics::kTextFormatContentType);
  res.body() = std::move(text);
  res.prepare_payload();
  co_return res;
}

Result<std::unique_ptr<OcrServer>> OcrServer::Create(const OcrServerConfig& config,
                                                     std::shared_ptr<spdlog::logger> log) {
  if (auto s = config.Validate(); !s) return std::unexpected(s.error());
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  auto impl = std::make_unique<Impl>(config, log);
  metrics::RegisterProcessMetrics(impl->registry);
  Impl* raw = impl.get();
  using http::RouteParams;
  auto ok = raw->router.Add(http::Verb::post, "/predict",
                            [raw](const Request& r, const RouteParams&) { return raw->Predict(r); });
  if (!ok) return std::unexpected(ok.error());
  (void)raw->router.Add(http::Verb::get, "/metrics",
                        [raw](const Request&, const RouteParams&) { return raw->Metrics(); });
  for (const char* path : {"/healthz", "/readyz"}) {
    (void)raw->router.Add(http::Verb::get, path,
                          [raw, path](const Request&, const RouteParams&) -> net::awaitable<Response> {
                            if (std::string_view(path) == "/readyz" && raw->stopping.load()) {
                              co_return http::JsonError(HttpStatus::service_unavailable,
                                                        "shutting_down", "stopping");
                            }
                            co_return http::JsonResponse(HttpStatus::ok, {{"status", "ok"}});
                          });
  }
  app::HttpRuntimeOptions hopts = config.http;
  hopts.blocking_threads = 1;  // only /metrics renders there; predictions have their own pool
  raw->http = std::make_unique<app::HttpRuntime>(hopts, raw->router.AsHandler());
  raw->gate = std::make_unique<sync::AdmissionGate>(
      raw->http->io_context(), static_cast<size_t>(config.concurrency),
      static_cast<size_t>(config.backpressure ? config.queue : config.hard_cap));
  return std::unique_ptr<OcrServer>(new OcrServer(std::move(impl)));
}

OcrServer::OcrServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

OcrServer::~OcrServer() { Stop(); }

Status OcrServer::Start() {
  if (auto s = impl_->http->Listen(); !s) return s;
  impl_->http->Start();
  impl_->started = true;
  return Ok();
}

void OcrServer::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->stopping = true;
  impl_->http->Stop();
  impl_->gate->Close();
  impl_->model_pool.join();
}

std::string OcrServer::BaseUrl() const { return impl_->http->BaseUrl(); }

int RunOcrServer(const OcrServerConfig& config, std::shared_ptr<spdlog::logger> log) {
  auto server = OcrServer::Create(config, log);
  if (!server) {
    fmt::print(stderr, "mqlab ocr-server: {}\n", OneLine(server.error().message));
    return 1;
  }
  if (auto s = (*server)->Start(); !s) {
    fmt::print(stderr, "mqlab ocr-server: {}\n", OneLine(s.error().message));
    return 1;
  }
  fmt::print("mqlab ocr-server: listening on {} ({} model instance{}, queue {})\n",
             (*server)->BaseUrl(), config.concurrency, config.concurrency == 1 ? "" : "s",
             config.backpressure ? config.queue : config.hard_cap);
  std::fflush(stdout);
  int sig = WaitForStopSignal();
  log->info("{} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  ArmForcedExit();
  (*server)->Stop();
  return 0;
}

}  // namespace mqlab::ocr
