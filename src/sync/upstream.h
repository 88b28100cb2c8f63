// Upstream: asynchronous keep-alive connections from the API to one OCR server, for V1 and V2.
//
// Call() takes an idle connection (or opens one, up to max_connections), writes the request,
// reads the response, and returns the connection to the idle list — all as a coroutine: no thread
// waits on the OCR server. A keep-alive connection the server closed meanwhile is detected by the
// failure of its first read and the request is sent once more on a fresh connection (predict is
// safe to repeat: it only computes and writes its own output file).
//
// Errors: kUnavailable (refused, reset, closed: "OCR server down" → 502), kDeadlineExceeded (no
// answer within request_timeout → 504), kResourceExhausted (max_connections all busy; the
// admission gate in front normally prevents it).
//
// Threading: thread-safe; connections are handed out under a mutex, each used by one call at a
// time. The Upstream must outlive every call.
#ifndef MQLAB_SYNC_UPSTREAM_H_
#define MQLAB_SYNC_UPSTREAM_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "http/client.h"
#include "http/message.h"
#include "mqlab/common/status.h"

namespace mqlab::sync {

struct UpstreamOptions {
  http::ParsedUrl url;  // host, port (the path is ignored: callers give the target)
  // Open connections at most. Default: 256 (more than any in-flight limit in front of it).
  size_t max_connections = 256;
  // Default: 2 s. A refused connection fails at once; this bounds a black-holed one.
  std::chrono::milliseconds connect_timeout{2000};
  // Write + read of one request. Default: 30 s (a servlet container's usual async timeout).
  std::chrono::milliseconds request_timeout{30000};
};

class Upstream {
 public:
  Upstream(boost::asio::io_context& io, UpstreamOptions options);
  ~Upstream();

  boost::asio::awaitable<Result<http::Response>> Call(http::Request request);

  int64_t in_flight() const { return in_flight_.load(); }
  const UpstreamOptions& options() const { return options_; }

 private:
  using Stream = boost::beast::tcp_stream;
  boost::asio::awaitable<Result<std::unique_ptr<Stream>>> Connect();
  boost::asio::awaitable<Result<http::Response>> RoundTrip(Stream& stream, http::Request& request,
                                                           bool& response_started);
  std::unique_ptr<Stream> TakeIdle();
  void PutIdle(std::unique_ptr<Stream> stream);

  boost::asio::io_context& io_;
  const UpstreamOptions options_;
  std::mutex mu_;  // guards idle_, open_
  std::vector<std::unique_ptr<Stream>> idle_;
  size_t open_ = 0;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace mqlab::sync

#endif  // MQLAB_SYNC_UPSTREAM_H_
