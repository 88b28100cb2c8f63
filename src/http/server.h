// An HTTP/1.1 server on Boost.Beast with C++20 coroutines: what every mqlab process listens with.
//
// What: accepts TCP connections and runs one coroutine per connection (on its own strand) that
// reads requests, calls the handler, and writes responses in order: keep-alive and pipelining
// work, a connection never has two requests in flight. The handler is pure from the server's
// point of view (a Router, see router.h); the server knows nothing of routes.
//
// Every session is bounded (Beast's advice): header size (431), body size (413, also for chunked
// bodies), a deadline to read a whole request once its first byte arrived (a slow-loris client is
// cut off), an idle keep-alive timeout, a write timeout, a cap on requests per connection and on
// open connections (beyond it a new connection gets a 503 and is closed at once). Malformed
// requests get a 400. Every error body is JSON (json_response.h); after one, the connection is
// closed, draining unread input for a moment first so the client can read the error instead of a
// reset.
//
// Lifecycle: main owns the io_context and runs it on N threads; it constructs a Server against
// that io_context, calls Listen (bind), then Start (accept), and on shutdown Stop. Stop is
// graceful first: the listener closes, idle connections close, in-flight requests finish and are
// answered with `Connection: close`; after `shutdown_grace` the remaining connections are closed
// and their handlers cancelled. When the last connection is gone the server holds no work on the
// io_context, so run() returns once the rest of the program is idle too.
//
// Threading: all methods are thread-safe. The server's state lives in a shared object that its
// coroutines keep alive, so the Server object may be destroyed before the io_context stops (the
// destructor calls Stop). The handler runs on the connection's strand and must never block (see
// blocking.h); whatever it captures must outlive the io_context's run.
#ifndef MQLAB_HTTP_SERVER_H_
#define MQLAB_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "http/message.h"
#include "mqlab/common/status.h"

namespace mqlab::http {

struct ServerOptions {
  // Address to bind: an IP literal or a name resolved once by Listen. Default: "127.0.0.1".
  std::string host = "127.0.0.1";
  // Port to bind; 0 picks a free one (read it back with local_endpoint()). Default: 0.
  uint16_t port = 0;
  // Largest request line + headers; beyond it: 431 and close. Default: 8 KiB (as nginx).
  uint32_t header_limit = 8 * 1024;
  // Largest request body, declared or chunked; beyond it: 413 and close. Default: 1 MiB, far
  // above any mqlab request (a job is a few hundred bytes of JSON).
  uint64_t body_limit = 1024 * 1024;
  // Deadline for reading a whole request, from its first byte to its last; a client slower than
  // this (slow loris) is disconnected without a response. Default: 30 s.
  std::chrono::milliseconds read_timeout = std::chrono::seconds(30);
  // How long a keep-alive connection may sit between requests before it is closed. Default: 60 s
  // (longer than load generators' pauses between steps, so measured runs reuse connections).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // Deadline for writing one response. Default: 30 s.
  std::chrono::milliseconds write_timeout = std::chrono::seconds(30);
  // Open connections beyond which a new one gets 503 and is closed. Default: 10000 (stays under
  // the usual 20k-64k fd limit with room for the process's other sockets and files).
  size_t max_connections = 10000;
  // Requests served per connection before it is closed (the last response says
  // `Connection: close`); 0 = unlimited. Default: 0.
  size_t max_requests_per_connection = 0;
  // On Stop, how long in-flight requests may run before their connections are forced closed.
  // Default: 10 s.
  std::chrono::milliseconds shutdown_grace = std::chrono::seconds(10);
  // listen(2) backlog. Default: 1024 (the kernel caps it at net.core.somaxconn).
  int backlog = 1024;

  // InvalidArgument naming the first field out of range (zero limits, non-positive timeouts).
  Status Validate() const;
};

class Server {
 public:
  // `io_context` must outlive the server's connections (they live until Stop completes or the
  // io_context is destroyed). `handler` is called for every well-formed request.
  Server(net::io_context& io_context, ServerOptions options, Handler handler);
  // Calls Stop() (does not wait).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the options, binds and listens. Errors: FailedPrecondition naming the address
  // when it is in use or not permitted, InvalidArgument for invalid options or a host that does
  // not resolve, Unavailable for other socket errors. REQUIRES: called once, before Start.
  Status Listen();
  // The bound address (the real port when options.port was 0). REQUIRES: Listen succeeded.
  net::ip::tcp::endpoint local_endpoint() const;
  // Starts accepting on the io_context. REQUIRES: Listen succeeded; called once.
  void Start();
  // Starts a graceful shutdown (see the file comment); returns at once. Idempotent.
  void Stop();
  // Blocks until Stop has completed: the listener closed and every connection gone. False if
  // `timeout` passed first. REQUIRES: not called on one of the io_context's threads.
  bool WaitStopped(std::chrono::milliseconds timeout);

  // Open connections now (for an mqlab_inflight-style gauge).
  size_t active_connections() const;
  // Connections accepted since Start, including refused ones.
  uint64_t total_connections() const;
  // Requests whose handler is running now.
  size_t inflight_requests() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mqlab::http

#endif  // MQLAB_HTTP_SERVER_H_
