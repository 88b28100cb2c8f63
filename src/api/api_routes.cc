#include "api/api_routes.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/http_errors.h"
#include "http/blocking.h"
#include "http/json_response.h"

namespace mqlab::api {

namespace net = http::net;
using http::HttpStatus;
using http::Request;
using http::Response;
using http::RouteParams;

const std::vector<std::string>& AsyncVersions() {
  static const std::vector<std::string> v = {"mem", "v3", "v4", "v5", "v6"};
  return v;
}

const std::vector<std::string>& SyncVersions() {
  static const std::vector<std::string> v = {"v0", "v1", "v2"};
  return v;
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

namespace {

constexpr std::string_view kRequestIdHeader = "X-Request-Id";
constexpr std::string_view kIdempotencyKeyHeader = "Idempotency-Key";

// The body of a job submission: {"inputPath": "…"}; other fields are ignored.
Result<std::string> ParseSubmission(const Request& req) {
  nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return InvalidArgument("body is not valid JSON");
  if (!body.is_object()) return InvalidArgument("body must be a JSON object");
  auto it = body.find("inputPath");
  if (it == body.end() || it->is_null()) return NotFound("missing field inputPath");
  if (!it->is_string()) return InvalidArgument("inputPath must be a string");
  return it->get<std::string>();
}

Response SubmissionError(const Error& e) {
  if (e.code == ErrorCode::kNotFound) {
    return http::JsonError(HttpStatus::bad_request, "missing_field", e.message);
  }
  return http::JsonError(HttpStatus::bad_request, "bad_json", e.message);
}

Response NotConfigured(const ApiContext& ctx, const std::string& version) {
  std::string how = ctx.how_to_configure ? ctx.how_to_configure(version) : "";
  return http::JsonError(HttpStatus::service_unavailable, "backend_not_configured",
                         fmt::format("{} is not configured in this process{}{}", version,
                                     how.empty() ? "" : ": ", how));
}

std::string RequestIdOf(const Request& req) {
  auto it = req.find(kRequestIdHeader);
  return it == req.end() ? std::string() : std::string(it->value());
}

net::awaitable<Response> SubmitJob(ApiContext& ctx, const std::string& version, const Request& req) {
  auto svc = ctx.async_services.find(version);
  if (svc == ctx.async_services.end()) co_return NotConfigured(ctx, version);
  auto path = ParseSubmission(req);
  if (!path) co_return SubmissionError(path.error());
  JobService* service = svc->second;
  std::string request_id = RequestIdOf(req);
  std::string key;
  if (auto it = req.find(kIdempotencyKeyHeader); it != req.end()) {
    key = std::string(it->value());
    if (!ValidIdempotencyKey(key)) {
      co_return http::JsonError(HttpStatus::bad_request, "invalid_idempotency_key",
                                "Idempotency-Key must be 1 to 255 visible ASCII characters");
    }
  }
  auto submitted = co_await http::RunBlocking(
      *ctx.blocking, [&] { return service->Submit(*path, request_id, key); });
  if (!submitted) {
    if (submitted.error().code == ErrorCode::kAlreadyExists) {
      co_return http::JsonError(HttpStatus::unprocessable_entity, "idempotency_key_reused",
                                submitted.error().message);
    }
    co_return ErrorToResponse(submitted.error(), Flavor::kAsync, "invalid_input_path",
                              service->options().admission.retry_after);
  }
  const Job* job = &submitted->job;
  const std::string location = fmt::format("/{}/ocr/jobs/{}", version, job->id);
  Response res = http::JsonResponse(HttpStatus::accepted,
                                    {{"jobId", job->id},
                                     {"status", JobStatusName(job->status)},
                                     {"version", version},
                                     {"inputPath", job->input_path},
                                     {"createdAt", FormatRfc3339(job->created_at)},
                                     {"location", location}});
  res.set(http::Field::location, location);
  // The same answer as the first time, with the job as it is now (IETF draft
  // httpapi-idempotency-key-header; the header name is Stripe's).
  if (submitted->replayed) res.set("Idempotent-Replayed", "true");
  co_return res;
}

net::awaitable<Response> GetJob(ApiContext& ctx, const std::string& version,
                                const RouteParams& params) {
  auto svc = ctx.async_services.find(version);
  if (svc == ctx.async_services.end()) co_return NotConfigured(ctx, version);
  std::string id(params.Get("id"));
  JobService* service = svc->second;
  Result<Job> job = co_await http::RunBlocking(*ctx.blocking, [&] { return service->Get(id); });
  if (!job) {
    co_return ErrorToResponse(job.error(), Flavor::kAsync, "bad_job_id",
                              service->options().admission.retry_after);
  }
  co_return http::JsonResponse(HttpStatus::ok, ToJson(*job));
}

net::awaitable<Response> SyncCall(ApiContext& ctx, const std::string& version, const Request& req) {
  auto h = ctx.sync_handlers.find(version);
  if (h == ctx.sync_handlers.end()) co_return NotConfigured(ctx, version);
  auto path = ParseSubmission(req);
  if (!path) co_return SubmissionError(path.error());
  co_return co_await h->second(std::move(*path), RequestIdOf(req));
}

net::awaitable<Response> Healthz() {
  co_return http::JsonResponse(HttpStatus::ok, {{"status", "ok"}});
}

net::awaitable<Response> Ready(ApiContext& ctx) {
  if (ctx.stopping && ctx.stopping->load()) {
    co_return http::JsonError(HttpStatus::service_unavailable, "shutting_down",
                              "the process is stopping");
  }
  if (ctx.readiness) {
    Status s = co_await http::RunBlocking(*ctx.blocking, [&] { return ctx.readiness(); });
    if (!s) co_return http::JsonError(HttpStatus::service_unavailable, "not_ready", s.error().message);
  }
  co_return http::JsonResponse(HttpStatus::ok, {{"status", "ready"}});
}

net::awaitable<Response> Metrics(ApiContext& ctx) {
  // Collectors may ask a backend for its depth: a blocking call.
  std::string text = co_await http::RunBlocking(*ctx.blocking, [&] { return ctx.registry->Render(); });
  Response res{HttpStatus::ok, 11};
  res.set(http::Field::content_type, metrics::kTextFormatContentType);
  res.body() = std::move(text);
  res.prepare_payload();
  co_return res;
}

bool TokenMatches(std::string_view header, const std::string& token) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() != kBearer.size() + token.size() || !header.starts_with(kBearer)) return false;
  // Constant time: no early exit on the first difference (timing must not reveal a prefix).
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(header[kBearer.size() + i] ^ token[i]);
  }
  return diff == 0;
}

// The version label of a route pattern: its first segment if it names a version, else "none".
std::string VersionOf(std::string_view pattern) {
  if (pattern.size() > 1) {
    std::string_view first = pattern.substr(1, pattern.find('/', 1) - 1);
    for (const auto& v : AsyncVersions()) {
      if (first == v) return v;
    }
    for (const auto& v : SyncVersions()) {
      if (first == v) return v;
    }
  }
  return "none";
}

}  // namespace

Status RegisterApiRoutes(http::Router& router, ApiContext& ctx) {
  using http::Verb;
  for (const std::string& v : AsyncVersions()) {
    auto s = router.Add(Verb::post, fmt::format("/{}/ocr/jobs", v),
                        [&ctx, v](const Request& req, const RouteParams&) {
                          return SubmitJob(ctx, v, req);
                        });
    if (!s) return s;
    s = router.Add(Verb::get, fmt::format("/{}/ocr/jobs/{{id}}", v),
                   [&ctx, v](const Request&, const RouteParams& p) { return GetJob(ctx, v, p); });
    if (!s) return s;
  }
  for (const std::string& v : SyncVersions()) {
    auto s = router.Add(Verb::post, fmt::format("/{}/ocr/sync", v),
                        [&ctx, v](const Request& req, const RouteParams&) {
                          return SyncCall(ctx, v, req);
                        });
    if (!s) return s;
  }
  return RegisterOpsRoutes(router, ctx, !ctx.metrics_elsewhere);
}

Status RegisterOpsRoutes(http::Router& router, ApiContext& ctx, bool with_metrics) {
  using http::Verb;
  auto s = router.Add(Verb::get, "/healthz",
                      [](const Request&, const RouteParams&) { return Healthz(); });
  if (!s) return s;
  s = router.Add(Verb::get, "/readyz",
                 [&ctx](const Request&, const RouteParams&) { return Ready(ctx); });
  if (!s || !with_metrics) return s;
  return router.Add(Verb::get, "/metrics",
                    [&ctx](const Request&, const RouteParams&) { return Metrics(ctx); });
}

http::Handler InstrumentedHandler(const http::Router& router, ApiContext& ctx) {
  return [&router, &ctx](Request req) -> net::awaitable<Response> {
    const auto start = std::chrono::steady_clock::now();
    std::string request_id = RequestIdOf(req);
    if (!IsSaneRequestId(request_id)) {
      request_id = NewJobId().substr(0, 18);
      req.set(kRequestIdHeader, request_id);
    }
    http::Router::Match match = router.Find(req.method(), req.target());
    const std::string route = match.outcome == http::Router::Outcome::kNotFound
                                  ? std::string("unmatched")
                                  : std::string(match.pattern);
    Response res;
    if (!ctx.api_token.empty() && route != "/healthz" &&
        !TokenMatches(req[http::Field::authorization], ctx.api_token)) {
      res = http::JsonError(HttpStatus::unauthorized, "unauthorized",
                            "missing or wrong bearer token");
      res.set(http::Field::www_authenticate, "Bearer");
    } else if (match.outcome == http::Router::Outcome::kFound) {
      res = co_await (*match.handler)(req, match.params);
    } else {
      res = co_await router.Handle(req);
    }
    res.set(kRequestIdHeader, request_id);
    const std::string version = VersionOf(match.pattern);
    ctx.metrics->http_requests_total.With({version, route, std::to_string(res.result_int())}).Inc();
    ctx.metrics->http_request_duration_seconds.With({version, route})
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    co_return res;
  };
}

}  // namespace mqlab::api
