#include "harness.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "api/api_routes.h"
#include "api/job_service.h"
#include "http/router.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"
#include "queue/memory/memory_queue.h"
#include "store/sqlite/sqlite_store.h"

namespace mqlab::fuzz {

namespace net = http::net;

struct ApiHarness::Impl {
  std::filesystem::path data_dir;
  std::unique_ptr<store::SqliteStore> store;
  queue::MemoryQueue queue;
  metrics::Registry registry;
  metrics::MqlabMetrics metrics{registry};
  std::unique_ptr<api::JobService> jobs;
  net::thread_pool blocking{1};
  api::ApiContext context;
  http::Router router;
  http::Handler handler;
  net::io_context io;
};

ApiHarness::ApiHarness() : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.data_dir = std::filesystem::temp_directory_path() /
               ("mqlab-fuzz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(s.data_dir);
  std::ofstream(s.data_dir / "scan.png") << "not really a PNG";
  auto store = store::SqliteStore::Open({.path = ":memory:"});
  MQLAB_FUZZ_CHECK(store.has_value(), "cannot open the SQLite store: %s",
                   store.error().message.c_str());
  s.store = std::move(*store);
  s.jobs = std::make_unique<api::JobService>(
      api::JobServiceOptions{.version = "mem",
                             .backend = "memory",
                             .data_dir = s.data_dir,
                             .admission = {.backpressure = false}},
      *s.store, s.queue, Clock::Real(), s.metrics);
  s.context.async_services["mem"] = s.jobs.get();
  s.context.registry = &s.registry;
  s.context.metrics = &s.metrics;
  s.context.blocking = &s.blocking;
  s.context.readiness = [&s] { return s.store->Ping(); };
  s.context.how_to_configure = [](const std::string& v) { return "not in the fuzzer: " + v; };
  auto registered = api::RegisterApiRoutes(s.router, s.context);
  MQLAB_FUZZ_CHECK(registered.has_value(), "cannot register the routes");
  s.handler = api::InstrumentedHandler(s.router, s.context);
}

ApiHarness::~ApiHarness() {
  impl_->blocking.join();
  std::error_code ec;
  std::filesystem::remove_all(impl_->data_dir, ec);
}

http::Response ApiHarness::Call(http::Request request) {
  Impl& s = *impl_;
  std::optional<http::Response> out;
  std::exception_ptr failure;
  net::co_spawn(s.io, s.handler(std::move(request)),
                [&](std::exception_ptr e, http::Response r) {
                  failure = e;
                  out = std::move(r);
                });
  s.io.run();
  s.io.restart();
  if (failure) std::rethrow_exception(failure);  // an uncaught exception: a finding
  MQLAB_FUZZ_CHECK(out.has_value(), "the handler never completed");
  return std::move(*out);
}

void ApiHarness::DrainQueue() {
  for (;;) {
    auto d = impl_->queue.Receive({.timeout = std::chrono::milliseconds(0)});
    if (!d || !*d) return;
    (void)(*d)->Ack();
  }
}

const std::filesystem::path& ApiHarness::data_dir() const { return impl_->data_dir; }

ApiHarness& Harness() {
  static ApiHarness harness;  // destroyed at exit: joins its pool, removes its data folder
  return harness;
}

std::string CheckResponse(const http::Response& res) {
  const unsigned code = res.result_int();
  MQLAB_FUZZ_CHECK(code >= 200 && code <= 599, "status %u", code);
  auto rid = res.find("X-Request-Id");
  MQLAB_FUZZ_CHECK(rid != res.end() && api::IsSaneRequestId(rid->value()),
                   "X-Request-Id missing or unsafe");
  if (code < 400) return "";
  auto body = nlohmann::json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
  MQLAB_FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].is_string() &&
                       body.contains("message") && body["message"].is_string(),
                   "error %u without a JSON {error, message} body: %s", code,
                   Printable(res.body()).c_str());
  return body["error"].get<std::string>();
}

std::string Printable(std::string_view bytes, size_t max) {
  std::string out;
  for (char c : bytes.substr(0, max)) {
    if (c >= ' ' && c <= '~') {
      out += c;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  if (bytes.size() > max) out += "…";
  return out;
}

}  // namespace mqlab::fuzz
