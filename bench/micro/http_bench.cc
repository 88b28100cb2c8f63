// Micro-benchmarks of the HTTP front: parsing a typical job submission and routing it, the work
// the server does per request before a handler runs.
#include <benchmark/benchmark.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <string>

#include "http/json_response.h"
#include "http/router.h"

namespace mqlab::http {
namespace {

// What `mqlab load` sends to an async endpoint.
const std::string kBody = "{\"inputPath\":\"images/sample-000042.png\"}";
const std::string kSubmit =
    "POST /v3/ocr/jobs HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent: mqlab-load\r\n"
    "Accept: */*\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: " + std::to_string(kBody.size()) + "\r\n"
    "\r\n" + kBody;

RouteHandler Noop() {
  return [](const Request&, const RouteParams&) -> net::awaitable<Response> {
    co_return JsonResponse(HttpStatus::ok, nullptr);
  };
}

// The routing table of `mqlab api`: every version's endpoints plus the service routes.
void AddApiRoutes(Router& router) {
  for (const char* v : {"v0", "v1", "v2"}) {
    (void)router.Add(Verb::post, std::string("/") + v + "/ocr/sync", Noop());
  }
  for (const char* v : {"v3", "v4", "v5", "v6", "mem"}) {
    (void)router.Add(Verb::post, std::string("/") + v + "/ocr/jobs", Noop());
    (void)router.Add(Verb::get, std::string("/") + v + "/ocr/jobs/{id}", Noop());
  }
  for (const char* p : {"/healthz", "/readyz", "/metrics"}) (void)router.Add(Verb::get, p, Noop());
}

void BM_ParseRequest(benchmark::State& state) {
  for (auto _ : state) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(1 << 20);
    parser.eager(true);
    beast::error_code ec;
    parser.put(net::buffer(kSubmit), ec);
    benchmark::DoNotOptimize(parser.get().body().data());
    if (ec || !parser.is_done()) state.SkipWithError("parse failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSubmit.size()));
}
BENCHMARK(BM_ParseRequest);

void BM_Route(benchmark::State& state) {
  Router router;
  AddApiRoutes(router);
  const bool by_id = state.range(0) == 1;
  const std::string target =
      by_id ? "/v3/ocr/jobs/8c1f7a52-3b7e-4a55-9d07-1d2c6f0e9a11" : "/v3/ocr/jobs";
  const Verb method = by_id ? Verb::get : Verb::post;
  for (auto _ : state) {
    Router::Match m = router.Find(method, target);
    benchmark::DoNotOptimize(m.handler);
  }
}
BENCHMARK(BM_Route)->Arg(0)->Arg(1)->ArgName("by_id");

void BM_ParseAndRoute(benchmark::State& state) {
  Router router;
  AddApiRoutes(router);
  for (auto _ : state) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(1 << 20);
    parser.eager(true);
    beast::error_code ec;
    parser.put(net::buffer(kSubmit), ec);
    if (ec || !parser.is_done()) state.SkipWithError("parse failed");
    Router::Match m = router.Find(parser.get().method(), parser.get().target());
    benchmark::DoNotOptimize(m.handler);
  }
}
BENCHMARK(BM_ParseAndRoute);

void BM_JsonError(benchmark::State& state) {
  for (auto _ : state) {
    Response res = JsonError(HttpStatus::too_many_requests, "backpressure",
                             "queue depth above threshold; retry later");
    benchmark::DoNotOptimize(res.body().data());
  }
}
BENCHMARK(BM_JsonError);

}  // namespace
}  // namespace mqlab::http
