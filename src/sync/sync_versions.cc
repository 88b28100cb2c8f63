#include "sync/sync_versions.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/http_errors.h"
#include "http/blocking.h"
#include "http/json_response.h"
#include "mqlab/domain/input_path.h"

namespace mqlab::sync {

namespace net = boost::asio;
using http::HttpStatus;
using http::Response;

struct SyncVersions::Version {
  Version(net::io_context& io, std::string n, size_t running, size_t waiting,
          metrics::MqlabMetrics& m)
      : name(std::move(n)),
        gate(io, running, waiting),
        inflight(m.inflight.With({name})),
        rejections(m.backpressure_rejections_total.With({name})) {}
  std::string name;
  AdmissionGate gate;
  metrics::Gauge& inflight;
  metrics::Counter& rejections;
};

Status SyncOptions::Validate() const {
  if (v0_threads < 1 || v0_threads > 10000) return InvalidArgument("--v0-threads must be in [1, 10000]");
  if (v1_executor < 1 || v1_executor > 10000) return InvalidArgument("--v1-executor must be in [1, 10000]");
  if (v2_per_server < 1 || v2_per_server > 10000) {
    return InvalidArgument("--v2-per-server must be in [1, 10000]");
  }
  if (v0_queue < 0 || v1_queue < 0 || v2_queue < 0 || hard_cap < 1) {
    return InvalidArgument("queue sizes must be >= 0 and the hard cap >= 1");
  }
  return Ok();
}

SyncVersions::SyncVersions(net::io_context& io, SyncOptions options, metrics::MqlabMetrics& metrics)
    : io_(io), options_(std::move(options)), metrics_(metrics) {
  if (options_.ocr_urls.empty()) return;
  auto waiting = [&](int queue) {
    return static_cast<size_t>(options_.backpressure ? queue : options_.hard_cap);
  };
  v0_ = std::make_unique<Version>(io, "v0", options_.v0_threads, waiting(options_.v0_queue), metrics);
  v1_ = std::make_unique<Version>(io, "v1", options_.v1_executor, waiting(options_.v1_queue), metrics);
  const size_t n = options_.ocr_urls.size();
  v2_ = std::make_unique<Version>(io, "v2", n * options_.v2_per_server, waiting(options_.v2_queue),
                                  metrics);
  for (const auto& url : options_.ocr_urls) {
    upstreams_.push_back(std::make_unique<Upstream>(
        io, UpstreamOptions{.url = url,
                            .connect_timeout = options_.ocr_connect_timeout,
                            .request_timeout = options_.ocr_timeout}));
  }
  v0_pool_ = std::make_unique<net::thread_pool>(options_.v0_threads);
}

SyncVersions::~SyncVersions() { Close(); }

void SyncVersions::Close() {
  if (closed_) return;
  closed_ = true;
  for (Version* v : {v0_.get(), v1_.get(), v2_.get()}) {
    if (v) v->gate.Close();
  }
  if (v0_pool_) v0_pool_->join();
}

std::map<std::string, api::SyncHandler> SyncVersions::Handlers() {
  std::map<std::string, api::SyncHandler> h;
  if (upstreams_.empty()) return h;
  h["v0"] = [this](std::string p, std::string r) { return HandleV0(std::move(p), std::move(r)); };
  h["v1"] = [this](std::string p, std::string r) { return HandleV1(std::move(p), std::move(r)); };
  h["v2"] = [this](std::string p, std::string r) { return HandleV2(std::move(p), std::move(r)); };
  return h;
}

namespace {

http::Request PredictRequest(const std::string& input_path, const std::string& request_id) {
  http::Request req{http::Verb::post, "/predict", 11};
  req.set(http::Field::content_type, http::kJsonContentType);
  if (!request_id.empty()) req.set("X-Request-Id", request_id);
  req.body() = nlohmann::json{{"inputPath", input_path}}.dump();
  req.prepare_payload();
  return req;
}

Response Rejected(const std::string& version, std::chrono::seconds retry_after) {
  return api::ErrorToResponse(
      Error{ErrorCode::kResourceExhausted,
            fmt::format("backpressure: {}'s queue is full", version)},
      api::Flavor::kSync, "", retry_after);
}

}  // namespace

Response SyncVersions::Finish(Version& v, const std::string& server, Result<Response> result) {
  if (!result) {
    return api::ErrorToResponse(result.error(), api::Flavor::kSync, "bad_request",
                                options_.retry_after);
  }
  const unsigned code = result->result_int();
  auto body = nlohmann::json::parse(result->body(), nullptr, /*allow_exceptions=*/false);
  std::string message = body.is_object() && body.contains("message") && body["message"].is_string()
                            ? body["message"].get<std::string>()
                            : result->body().substr(0, 200);
  if (code == 200 && body.is_object()) {
    body["status"] = "SUCCESS";
    body["version"] = v.name;
    body["ocrServer"] = server;
    return http::JsonResponse(HttpStatus::ok, body);
  }
  if (code == 503) {
    Response r = http::JsonError(HttpStatus::service_unavailable, "upstream_overloaded",
                                 fmt::format("OCR server {}: {}", server, message));
    r.set(http::Field::retry_after, std::to_string(options_.retry_after.count()));
    return r;
  }
  if (code >= 400 && code < 500 && body.is_object()) {
    return http::JsonResponse(static_cast<HttpStatus>(code), body);
  }
  return http::JsonError(HttpStatus::bad_gateway, "upstream_error",
                         fmt::format("OCR server {} answered {}: {}", server, code, message));
}

net::awaitable<Response> SyncVersions::HandleV0(std::string input_path, std::string request_id) {
  Version& v = *v0_;
  if (auto p = ConfineToDataDir(options_.data_dir, input_path); !p) {
    co_return api::ErrorToResponse(p.error(), api::Flavor::kSync, "invalid_input_path",
                                   options_.retry_after);
  }
  auto permit = co_await v.gate.Enter();
  if (!permit) {
    v.rejections.Inc();
    co_return Rejected(v.name, options_.retry_after);
  }
  v.inflight.Inc();
  const http::ParsedUrl& url = options_.ocr_urls.front();
  const http::ClientOptions copts{.connect_timeout = options_.ocr_connect_timeout,
                                  .request_timeout = options_.ocr_timeout};
  // A request thread blocked on the OCR call, each with its own keep-alive connection.
  Result<Response> result = co_await http::RunBlocking(*v0_pool_, [&]() -> Result<Response> {
    thread_local std::map<std::string, std::unique_ptr<http::Client>> clients;
    auto& c = clients[url.HostPort()];
    if (!c) c = std::make_unique<http::Client>(url, copts);
    http::Request req = PredictRequest(input_path, request_id);
    return c->Do(http::Verb::post, "/predict", req.body(),
                 {{"X-Request-Id", request_id.empty() ? "-" : request_id}});
  });
  v.inflight.Dec();
  co_return Finish(v, url.HostPort(), std::move(result));
}

net::awaitable<Response> SyncVersions::CallAsync(Version& v, Upstream& upstream,
                                                 const std::string& input_path,
                                                 const std::string& request_id) {
  v.inflight.Inc();
  Result<Response> result = co_await upstream.Call(PredictRequest(input_path, request_id));
  v.inflight.Dec();
  co_return Finish(v, upstream.options().url.HostPort(), std::move(result));
}

net::awaitable<Response> SyncVersions::HandleV1(std::string input_path, std::string request_id) {
  Version& v = *v1_;
  if (auto p = ConfineToDataDir(options_.data_dir, input_path); !p) {
    co_return api::ErrorToResponse(p.error(), api::Flavor::kSync, "invalid_input_path",
                                   options_.retry_after);
  }
  auto permit = co_await v.gate.Enter();
  if (!permit) {
    v.rejections.Inc();
    co_return Rejected(v.name, options_.retry_after);
  }
  co_return co_await CallAsync(v, *upstreams_.front(), input_path, request_id);
}

Upstream& SyncVersions::PickV2() {
  // Least in flight; ties broken round-robin so that an idle fleet is used evenly.
  const size_t n = upstreams_.size();
  const size_t start = v2_next_.fetch_add(1) % n;
  Upstream* best = upstreams_[start].get();
  for (size_t i = 1; i < n; ++i) {
    Upstream* u = upstreams_[(start + i) % n].get();
    if (u->in_flight() < best->in_flight()) best = u;
  }
  return *best;
}

net::awaitable<Response> SyncVersions::HandleV2(std::string input_path, std::string request_id) {
  Version& v = *v2_;
  if (auto p = ConfineToDataDir(options_.data_dir, input_path); !p) {
    co_return api::ErrorToResponse(p.error(), api::Flavor::kSync, "invalid_input_path",
                                   options_.retry_after);
  }
  auto permit = co_await v.gate.Enter();
  if (!permit) {
    v.rejections.Inc();
    co_return Rejected(v.name, options_.retry_after);
  }
  co_return co_await CallAsync(v, PickV2(), input_path, request_id);
}

}  // namespace mqlab::sync
