// The synchronous versions of the study: the API calls the OCR server and answers with its result.
//
//   V0  thread per request: a fixed pool of request threads (Tomcat's defaults: 200 threads,
//       accept queue 100), each BLOCKED on its HTTP call to the OCR server. The capacity knob is
//       the pool; a slow OCR server ties up threads.
//   V1  internal async: the request is handed to a bounded executor (default 8 slots, queue 100,
//       like Spring Boot's task executor with a bounded queue); no thread waits on the call (the
//       OCR call is asynchronous I/O), the response completes when it returns.
//   V2  N OCR servers called directly, no queue in between: each request goes to the server
//       with the fewest calls in flight (ties round-robin), over keep-alive connection pools;
//       at most `v2_per_server` calls in flight per server.
//
// Backpressure on: each version has a bounded queue in front (AdmissionGate); when it is full the
// request is rejected at once with 503 and Retry-After. Off: the queue is bounded only by the
// documented hard cap (Default: 10000 waiting requests per version), so memory stays bounded and
// the process never dies of overload, but latency grows without bound.
// Errors (DESIGN.md § Errors): OCR server down → 502 upstream_unavailable; no answer within
// ocr_timeout → 504 timeout; the OCR server's own queue full → 503 upstream_overloaded.
//
// Threading: handlers are coroutines on the API's io_context; V0's blocking calls run on its own
// thread pool. SyncVersions must outlive the server using its handlers.
#ifndef MQLAB_SYNC_SYNC_VERSIONS_H_
#define MQLAB_SYNC_SYNC_VERSIONS_H_

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api/api_routes.h"
#include "http/client.h"
#include "metrics/mqlab_metrics.h"
#include "sync/admission_gate.h"
#include "sync/upstream.h"

namespace mqlab::sync {

struct SyncOptions {
  std::vector<http::ParsedUrl> ocr_urls;  // V0 and V1 use the first; V2 all of them
  std::filesystem::path data_dir = "./data";
  bool backpressure = true;  // Default: on
  int v0_threads = 200;      // Default: 200 (Tomcat's maxThreads)
  int v0_queue = 100;        // Default: 100 (Tomcat's acceptCount)
  int v1_executor = 8;       // Default: 8 (Spring Boot's task executor core size)
  int v1_queue = 100;        // Default: 100
  int v2_per_server = 4;     // Default: 4 calls in flight per OCR server
  int v2_queue = 100;        // Default: 100
  // With backpressure off, the most requests a version lets wait. Default: 10000.
  int hard_cap = 10000;
  // API → OCR server: connect and whole-call deadlines. Default: 2 s, 30 s.
  std::chrono::milliseconds ocr_connect_timeout{2000};
  std::chrono::milliseconds ocr_timeout{30000};
  std::chrono::seconds retry_after{1};  // Default: 1 s

  Status Validate() const;
};

class SyncVersions {
 public:
  // `io` runs the API's coroutines; `metrics` must outlive this object.
  SyncVersions(boost::asio::io_context& io, SyncOptions options, metrics::MqlabMetrics& metrics);
  ~SyncVersions();

  // Handlers for "v0", "v1", "v2" (all three when OCR URLs are given, none otherwise).
  std::map<std::string, api::SyncHandler> Handlers();
  // Rejects waiting requests and stops V0's threads. Idempotent.
  void Close();

 private:
  struct Version;
  boost::asio::awaitable<http::Response> HandleV0(std::string input_path, std::string request_id);
  boost::asio::awaitable<http::Response> HandleV1(std::string input_path, std::string request_id);
  boost::asio::awaitable<http::Response> HandleV2(std::string input_path, std::string request_id);
  boost::asio::awaitable<http::Response> CallAsync(Version& v, Upstream& upstream,
                                                   const std::string& input_path,
                                                   const std::string& request_id);
  http::Response Finish(Version& v, const std::string& server, Result<http::Response> result);
  Upstream& PickV2();

  boost::asio::io_context& io_;
  const SyncOptions options_;
  metrics::MqlabMetrics& metrics_;
  std::unique_ptr<Version> v0_, v1_, v2_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;  // one per OCR URL
  std::unique_ptr<boost::asio::thread_pool> v0_pool_;
  std::atomic<uint64_t> v2_next_{0};
  bool closed_ = false;
};

}  // namespace mqlab::sync

#endif  // MQLAB_SYNC_SYNC_VERSIONS_H_
