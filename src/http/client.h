// A small synchronous HTTP/1.1 client for tests and tools (health checks, `mqlab` talking to its
// own processes, the study's set-up calls). Not the load generator's client: that one must be
// asynchronous and open-model.
//
// What: one keep-alive connection, opened on first use and reopened when the server has closed
// it. Every call blocks up to its timeouts. A connection found closed before a request is sent is
// replaced silently; a request that fails on a reused connection before any byte of the response
// arrived is retried once on a new connection only if its method is idempotent (GET, HEAD, PUT,
// DELETE, OPTIONS), so a POST is never sent twice by the client.
//
// Threading: not thread-safe; use one Client per thread. It runs its own private io_context.
#ifndef MQLAB_HTTP_CLIENT_H_
#define MQLAB_HTTP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "http/message.h"
#include "mqlab/common/status.h"

namespace mqlab::http {

struct ParsedUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  uint16_t port = 80;
  std::string target = "/";  // path and query, as sent in the request line
  // "host:port" (IPv6 in brackets), the value of a Host header.
  std::string HostPort() const;
};

// Parses "http://host[:port][/path][?query]". Errors: InvalidArgument for anything else
// (including a missing host), Unsupported for https (mqlab's processes talk plain HTTP on
// loopback or a private network; put a proxy in front for TLS).
Result<ParsedUrl> ParseHttpUrl(std::string_view url);

struct ClientOptions {
  // Deadline for resolving and connecting. Default: 5 s.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds(5);
  // Deadline for writing a request and reading its whole response. Default: 30 s.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(30);
  // Largest response body accepted. Default: 64 MiB (a /metrics page is tens of KiB).
  uint64_t body_limit = 64 * 1024 * 1024;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

class Client {
 public:
  Client(std::string host, uint16_t port, ClientOptions options = {});
  // For the host and port of `url` (its path is ignored).
  explicit Client(const ParsedUrl& url, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and returns the response, whatever its status. Sets Host, User-Agent,
  // Content-Length, and Content-Type: application/json when `body` is not empty and `headers`
  // has none. Errors: DeadlineExceeded on a timeout, Unavailable when the server cannot be
  // reached or drops the connection, InvalidArgument for a response that is not HTTP or over
  // the body limit. After an error the connection is closed; the next call opens a new one.
  Result<Response> Do(Verb method, std::string_view target, std::string body = {},
                      const Headers& headers = {});

  // Closes the connection (the next Do reconnects).
  void Close();
  bool connected() const { return stream_.has_value(); }
  // How many connections this client has opened (a test sees keep-alive at work).
  uint64_t connections_opened() const { return connections_opened_; }

 private:
  Status Connect();
  // True if the open connection was closed by the server (EOF or unexpected data pending).
  bool PeerClosed();
  // One attempt on the current connection. `response_started` says whether any byte of the
  // response arrived.
  Result<Response> RoundTrip(Request& request, bool& response_started);
  // Runs the private io_context until the pending operation completes.
  void Run();
  std::string Describe(const Request& request) const;

  const std::string host_;
  const uint16_t port_;
  const ClientOptions options_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  uint64_t connections_opened_ = 0;
};

}  // namespace mqlab::http

#endif  // MQLAB_HTTP_CLIENT_H_
