// The HTTP API of `mqlab api` and `mqlab serve`: every version's endpoints, /healthz, /readyz,
// /metrics, as DESIGN.md lists them.
//
//   POST /{mem,v3..v6}/ocr/jobs        202 + Location, or a JSON error
//   GET  /{mem,v3..v6}/ocr/jobs/{id}   200 with the job
//   POST /v{0,1,2}/ocr/sync            synchronous versions (issue 4; 503 until configured)
//   GET  /healthz /readyz /metrics
//
// A version whose backend is not configured answers 503 {"error":"backend_not_configured"} with
// what to configure. Every request gets an X-Request-Id (the client's, if it sent a sane one),
// echoed in the response and stored with the job so that worker logs can be followed back.
// When an API token is set, every route but /healthz needs `Authorization: Bearer <token>`
// (compared in constant time), else 401.
//
// Threading: handlers run as coroutines on the server's io_context; every store or queue call
// goes through RunBlocking on `blocking`. Everything ApiContext points to must outlive the server.
#ifndef MQLAB_API_API_ROUTES_H_
#define MQLAB_API_API_ROUTES_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include "api/job_service.h"
#include "http/message.h"
#include "http/router.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"

namespace mqlab::api {

// A synchronous version's handler (V0-V2), plugged in by the sync module: given the parsed
// inputPath and request id, the response.
using SyncHandler =
    std::function<http::net::awaitable<http::Response>(std::string input_path, std::string request_id)>;

struct ApiContext {
  std::map<std::string, JobService*> async_services;  // by version: "mem", "v3", …
  std::map<std::string, SyncHandler> sync_handlers;   // by version: "v0", "v1", "v2"
  metrics::Registry* registry = nullptr;
  metrics::MqlabMetrics* metrics = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  // Blocking readiness probe (store ping and the like), run on `blocking`.
  std::function<Status()> readiness;
  // Set when the process is stopping: /readyz answers 503 so balancers drain it.
  const std::atomic<bool>* stopping = nullptr;
  std::string api_token;  // empty: no authentication
  // /metrics is served by an ops listener of its own (--metrics-listen), not on the API's.
  bool metrics_elsewhere = false;
  // What to tell the user about an unconfigured version ("v3" → "start … with --store …").
  std::function<std::string(const std::string& version)> how_to_configure;
};

// Registers every route on `router`: the versions' routes and the ops routes (/healthz, /readyz,
// and /metrics unless context.metrics_elsewhere).
Status RegisterApiRoutes(http::Router& router, ApiContext& context);
// Registers /healthz, /readyz and, with `with_metrics`, /metrics (the ops listener's routes).
Status RegisterOpsRoutes(http::Router& router, ApiContext& context, bool with_metrics);

// The server's handler: routes through `router`, counts requests and latency per version and
// route pattern, assigns request ids, checks the API token. `router` and `context` must outlive
// the server.
http::Handler InstrumentedHandler(const http::Router& router, ApiContext& context);

// The versions the API knows, async and sync, in display order.
const std::vector<std::string>& AsyncVersions();  // mem, v3, v4, v5, v6
const std::vector<std::string>& SyncVersions();   // v0, v1, v2

// True if a client-supplied request id is safe to log and store: 1-64 of [A-Za-z0-9._-].
bool IsSaneRequestId(std::string_view id);

}  // namespace mqlab::api

#endif  // MQLAB_API_API_ROUTES_H_
