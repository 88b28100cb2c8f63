// Internals of Server (server.h), shared by server.cc (listener, lifecycle) and session.cc (one
// connection). Not for use outside src/http.
//
// Ownership: Server holds a shared_ptr to Impl; the accept loop and every session coroutine hold
// one too, so Impl lives until the last of them ends. Each Connection is owned by its session
// and by `conns` (so that Stop can reach it).
//
// Threading: `strand` serialises the acceptor and the grace timer. A Connection's stream,
// `cancel` and `idle` are touched only on that connection's own strand (its socket's executor).
// `conns`, `next_id`, `accept_running` and the notifications on `cv` are guarded by `mu`; the
// counters are atomics, read without the lock by the getters.
#ifndef MQLAB_HTTP_SERVER_IMPL_H_
#define MQLAB_HTTP_SERVER_IMPL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "http/server.h"

namespace mqlab::http::internal {

using tcp = net::ip::tcp;

// After an error response or `Connection: close`, the server stops sending and reads (and
// drops) what the client still sends for at most this long before closing: closing with unread
// input makes the kernel send a reset, which can destroy the response before the client reads
// it (nginx's "lingering close"). Two seconds drains a few hundred MB on loopback.
inline constexpr std::chrono::milliseconds kLingerTimeout{2000};
// A refused connection (over max_connections) gets this long to take its 503.
inline constexpr std::chrono::milliseconds kRejectTimeout{1000};
// After an accept error (EMFILE when the fd table is full), wait this long before accepting
// again instead of spinning on the error.
inline constexpr std::chrono::milliseconds kAcceptBackoff{50};

struct Connection {
  explicit Connection(tcp::socket socket, uint64_t id) : stream(std::move(socket)), id(id) {}
  beast::tcp_stream stream;
  net::cancellation_signal cancel;  // forced stop: cancels the handler's pending operation
  bool idle = false;                // waiting for the first byte of a request
  const uint64_t id;
};

struct ServerImpl {
  ServerImpl(net::io_context& ioc, ServerOptions options, Handler handler);

  net::io_context& ioc;
  const ServerOptions options;
  const Handler handler;
  net::strand<net::io_context::executor_type> strand;
  tcp::acceptor acceptor;
  net::steady_timer grace_timer;
  bool listening = false;

  std::atomic<bool> stopping{false};
  std::atomic<size_t> active{0};
  std::atomic<uint64_t> total{0};
  std::atomic<size_t> inflight{0};

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<uint64_t, std::shared_ptr<Connection>> conns;  // guarded by mu
  uint64_t next_id = 0;                                              // guarded by mu
  bool accept_running = false;                                       // guarded by mu
};

// session.cc: serves one connection until it closes. `self` keeps the server state alive.
net::awaitable<void> RunSession(std::shared_ptr<ServerImpl> self, std::shared_ptr<Connection> c);
// session.cc: answers a connection over the limit with 503 and closes it.
net::awaitable<void> RejectConnection(tcp::socket socket);
// session.cc: stops sending, drains input for up to `timeout`, closes.
net::awaitable<void> CloseGracefully(beast::tcp_stream& stream, std::chrono::milliseconds timeout);
// server.cc: bookkeeping when a session ends (runs from the session's frame destructor).
void OnSessionEnd(const std::shared_ptr<ServerImpl>& self, uint64_t id);

}  // namespace mqlab::http::internal

#endif  // MQLAB_HTTP_SERVER_IMPL_H_
