// Method + path routing: the pure `handle_request` of Beast's examples, with path parameters.
//
// What: routes are registered as (method, pattern, handler); a pattern is a literal path whose
// segments may be `{name}` parameters capturing exactly one non-empty segment
// (`/mem/ocr/jobs/{id}`). Matching ignores the query string. Unknown path -> 404 JSON; known
// path, other method -> 405 JSON with an `Allow` header. HEAD and OPTIONS get no special
// treatment: register them if you serve them.
//
// Precedence: when several patterns match a path, the one with a literal at the first segment
// where they differ wins (`/jobs/stats` beats `/jobs/{id}`), and that pattern alone decides
// between the handler and 405.
//
// Why pure: the Router never touches a socket; it maps a Request to a Response, so it is tested
// without a server and the server knows nothing of routes.
//
// Threading: build the Router (Add) before serving; afterwards Find and Handle are const and
// safe from any number of threads. The Router must outlive every server using it.
#ifndef MQLAB_HTTP_ROUTER_H_
#define MQLAB_HTTP_ROUTER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"
#include "mqlab/common/status.h"

namespace mqlab::http {

// The values captured by a route's `{name}` segments, raw (still percent-encoded).
class RouteParams {
 public:
  // The value captured by `{name}`; empty if the pattern has no such parameter.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  size_t size() const { return items_.size(); }
  void Add(std::string_view name, std::string_view value) { items_.emplace_back(name, value); }

 private:
  // Names point into the Router's patterns, which outlive every request.
  std::vector<std::pair<std::string_view, std::string>> items_;
};

// A route handler. The request and params outlive the returned awaitable's completion.
using RouteHandler =
    std::function<net::awaitable<Response>(const Request& request, const RouteParams& params)>;

class Router {
 public:
  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` on `pattern`.
  // Errors: InvalidArgument if the pattern does not start with '/', has an empty or malformed
  // `{}` segment, or repeats a parameter name; AlreadyExists if (method, pattern) is taken.
  // A pattern differing from a registered one only in parameter names is InvalidArgument.
  // REQUIRES: not called concurrently with anything else on this Router.
  Status Add(Verb method, std::string_view pattern, RouteHandler handler);

  enum class Outcome { kFound, kNotFound, kMethodNotAllowed };
  struct Match {
    Outcome outcome = Outcome::kNotFound;
    const RouteHandler* handler = nullptr;  // kFound only; owned by the Router
    RouteParams params;                     // kFound only
    std::string_view pattern;  // the matched pattern, owned by the Router (a bounded metrics label)
    std::string allow;                      // kMethodNotAllowed: "GET, POST"
  };
  // Pure matching: `target` is a request-target ("/path?query").
  Match Find(Verb method, std::string_view target) const;

  // Routes `request`: the handler's response, or a 404/405 JSON error.
  net::awaitable<Response> Handle(Request request) const;

  // A Handler for Server that calls Handle. The Router must outlive the server.
  Handler AsHandler() const;

  // Called by Handle after each response is built (found, 404 or 405; not when a handler
  // throws), on the request's thread: `pattern` is the matched route pattern, "" when no
  // pattern matched; `elapsed` runs from Handle's start. For the HTTP metrics (route label =
  // pattern, a bounded set) and access logs. Must be cheap and must not throw.
  // REQUIRES: set before serving, like Add.
  using Observer = std::function<void(const Request& request, std::string_view pattern,
                                      const Response& response,
                                      std::chrono::steady_clock::duration elapsed)>;
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

 private:
  struct Route;
  struct Pattern;
  std::vector<std::unique_ptr<Pattern>> patterns_;
  Observer observer_;
};

}  // namespace mqlab::http

#endif  // MQLAB_HTTP_ROUTER_H_
