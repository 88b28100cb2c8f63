#include "app/http_runtime.h"

#include <fmt/format.h>

namespace mqlab::app {

HttpRuntime::HttpRuntime(HttpRuntimeOptions options, http::Handler handler)
    : options_(std::move(options)),
      io_(),
      blocking_(static_cast<size_t>(std::max(1, options_.blocking_threads))),
      server_(std::make_unique<http::Server>(io_, options_.server, std::move(handler))) {}

HttpRuntime::~HttpRuntime() { Stop(); }

Status HttpRuntime::Listen() { return server_->Listen(); }

uint16_t HttpRuntime::port() const { return server_->local_endpoint().port(); }

std::string HttpRuntime::BaseUrl() const {
  auto ep = server_->local_endpoint();
  auto addr = ep.address();
  return addr.is_v6() ? fmt::format("http://[{}]:{}", addr.to_string(), ep.port())
                      : fmt::format("http://{}:{}", addr.to_string(), ep.port());
}

void HttpRuntime::Start() {
  server_->Start();
  int n = options_.io_threads > 0 ? options_.io_threads
                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { io_.run(); });
}

void HttpRuntime::Stop() {
  if (stopped_) return;
  stopped_ = true;
  server_->Stop();
  if (!threads_.empty()) {
    server_->WaitStopped(options_.server.shutdown_grace + std::chrono::seconds(2));
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  blocking_.join();
}

}  // namespace mqlab::app
