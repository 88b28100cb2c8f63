// OpsListener: /metrics, /healthz and /readyz on a listener of their own (--metrics-listen), so
// that the metrics endpoint can be bound to another interface than the API (a private network,
// loopback for a local Prometheus) and firewalled apart. On it no bearer token is asked: it is
// meant for a private address; the API's own listener then answers /metrics with 404.
//
// Threading: Start/Stop from the controlling thread. One io thread; /metrics renders on the
// context's blocking pool (the API's), as it does on the API listener.
#ifndef MQLAB_APP_OPS_LISTENER_H_
#define MQLAB_APP_OPS_LISTENER_H_

#include <memory>
#include <string>

#include "api/api_routes.h"
#include "app/http_runtime.h"
#include "http/router.h"

namespace mqlab::app {

class OpsListener {
 public:
  // `ctx` (its registry, readiness probe, stopping flag and blocking pool) must outlive this.
  static Result<std::unique_ptr<OpsListener>> Create(const http::ServerOptions& server,
                                                     api::ApiContext& ctx);
  ~OpsListener();
  Status Start();  // binds (port 0: a free one) and serves
  void Stop();     // idempotent
  std::string BaseUrl() const { return http_->BaseUrl(); }

 private:
  OpsListener() = default;
  std::unique_ptr<http::Router> router_;
  std::unique_ptr<HttpRuntime> http_;
  bool started_ = false;
};

}  // namespace mqlab::app

#endif  // MQLAB_APP_OPS_LISTENER_H_
