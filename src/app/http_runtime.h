// HttpRuntime: the io_context, its threads, the blocking pool and one HTTP server, as every
// serving subcommand (api, serve, worker's metrics endpoint, ocr-server) runs them.
//
// Owns the io_context (Beast's examples: main owns it and its threads) and runs it on
// `io_threads` threads; blocking client calls go to `blocking_threads` pool threads
// (http/blocking.h). Stop() is graceful first (the server's shutdown grace), then the io_context
// is stopped and its threads joined.
//
// Threading: Start/Stop from the controlling thread; handlers run on the io threads.
#ifndef MQLAB_APP_HTTP_RUNTIME_H_
#define MQLAB_APP_HTTP_RUNTIME_H_

#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "http/server.h"

namespace mqlab::app {

struct HttpRuntimeOptions {
  http::ServerOptions server;
  // Threads running the io_context. Default: 0 = one per core (at least 1).
  int io_threads = 0;
  // Threads for blocking store/queue calls; size it like the connection pools. Default: 8.
  int blocking_threads = 8;
};

class HttpRuntime {
 public:
  HttpRuntime(HttpRuntimeOptions options, http::Handler handler);
  ~HttpRuntime();

  // Binds (port 0 → a free one). Errors name the address.
  Status Listen();
  // "http://127.0.0.1:8080", valid after Listen.
  std::string BaseUrl() const;
  uint16_t port() const;
  void Start();
  // Graceful stop, then joins the threads. Idempotent.
  void Stop();

  boost::asio::thread_pool& blocking() { return blocking_; }
  boost::asio::io_context& io_context() { return io_; }
  http::Server& server() { return *server_; }

 private:
  HttpRuntimeOptions options_;
  boost::asio::io_context io_;
  boost::asio::thread_pool blocking_;
  std::unique_ptr<http::Server> server_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace mqlab::app

#endif  // MQLAB_APP_HTTP_RUNTIME_H_
