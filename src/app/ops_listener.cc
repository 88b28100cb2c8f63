#include "app/ops_listener.h"

namespace mqlab::app {

Result<std::unique_ptr<OpsListener>> OpsListener::Create(const http::ServerOptions& server,
                                                         api::ApiContext& ctx) {
  std::unique_ptr<OpsListener> ops(new OpsListener());
  ops->router_ = std::make_unique<http::Router>();
  if (auto s = api::RegisterOpsRoutes(*ops->router_, ctx, /*with_metrics=*/true); !s) {
    return std::unexpected(s.error());
  }
  HttpRuntimeOptions hopts{.server = server, .io_threads = 1, .blocking_threads = 1};
  ops->http_ = std::make_unique<HttpRuntime>(hopts, ops->router_->AsHandler());
  return ops;
}

OpsListener::~OpsListener() { Stop(); }

Status OpsListener::Start() {
  if (auto s = http_->Listen(); !s) return s;
  http_->Start();
  started_ = true;
  return Ok();
}

void OpsListener::Stop() {
  if (!started_) return;
  started_ = false;
  http_->Stop();
}

}  // namespace mqlab::app
