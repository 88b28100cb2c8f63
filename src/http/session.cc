// One connection of Server: read a request, call the handler, write the response, repeat.
//
// States of a connection: idle (waiting, up to idle_timeout, for the first byte of a request;
// the only state in which a graceful Stop closes it), reading (up to read_timeout for the whole
// request), handling (no deadline of its own: the handler's business; cancelled only by a
// forced stop), writing (up to write_timeout), closing (lingering, see kLingerTimeout).
#include <array>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "http/json_response.h"
#include "http/server_impl.h"

namespace mqlab::http::internal {
namespace {

namespace bh = beast::http;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// Bytes asked of the socket per read while idle; pipelined requests beyond them stay queued in
// the kernel until the parser wants them.
constexpr size_t kReadChunk = 16 * 1024;

// The answer to a request that could not be read, or nullopt when the client is gone or too
// slow, in which case the connection closes without a response.
std::optional<Response> ResponseForReadError(const beast::error_code& ec, const ServerOptions& o) {
  if (ec == bh::error::header_limit) {
    return JsonError(HttpStatus::request_header_fields_too_large, "headers_too_large",
                     "request line and headers exceed " + std::to_string(o.header_limit) +
                         " bytes");
  }
  if (ec == bh::error::body_limit) {
    return JsonError(HttpStatus::payload_too_large, "body_too_large",
                     "request body exceeds " + std::to_string(o.body_limit) + " bytes");
  }
  if (ec == bh::error::end_of_stream || ec == bh::error::partial_message) return std::nullopt;
  if (ec.category() == bh::make_error_code(bh::error::bad_method).category()) {
    return JsonError(HttpStatus::bad_request, "bad_request",
                     "malformed HTTP request: " + ec.message());
  }
  return std::nullopt;  // a socket error or beast::error::timeout
}

// Reads one request into `parser`, answering `Expect: 100-continue` in between, so that a client
// waiting for permission sends its body (or learns from a 413 that it must not).
net::awaitable<beast::error_code> ReadRequest(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                              bh::request_parser<bh::string_body>& parser) {
  auto [ec, n] = co_await bh::async_read_header(stream, buffer, parser, kTuple);
  if (ec || parser.is_done()) co_return ec;
  if (beast::iequals(parser.get()[Field::expect], "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [wec, wn] = co_await net::async_write(stream, net::buffer(kContinue), kTuple);
    if (wec) co_return wec;
  }
  auto [rec, rn] = co_await bh::async_read(stream, buffer, parser, kTuple);
  co_return rec;
}

// Calls the handler, turning an exception into a 500 (a handler should not throw, but one that
// does must not take the connection's other requests, or the process, with it).
net::awaitable<Response> CallHandler(ServerImpl& self, Request request) {
  struct InflightGuard {
    std::atomic<size_t>& n;
    explicit InflightGuard(std::atomic<size_t>& n) : n(n) { n.fetch_add(1); }
    ~InflightGuard() { n.fetch_sub(1); }
  } guard(self.inflight);
  std::string failure;
  try {
    co_return co_await self.handler(std::move(request));
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  co_return JsonError(HttpStatus::internal_server_error, "internal",
                      "request handler failed: " + failure);
}

// Sets what the handler must not decide: version, keep-alive, framing.
void FinishResponse(Response& res, unsigned version, bool keep_alive, bool head) {
  res.version(version);
  res.keep_alive(keep_alive);
  if (res.count(Field::server) == 0) res.set(Field::server, "mqlab");
  const unsigned code = res.result_int();
  if (code < 200 || code == 204 || code == 304) res.body().clear();  // no body allowed
  res.prepare_payload();
  if (head) res.body().clear();  // keep Content-Length of the GET, send no body
}

net::awaitable<bool> Write(beast::tcp_stream& stream, Response& res,
                           std::chrono::milliseconds timeout) {
  stream.expires_after(timeout);
  auto [ec, n] = co_await bh::async_write(stream, res, kTuple);
  co_return !ec;
}

// Closes the socket and accounts for the session however its coroutine ends (return, error,
// exception, cancellation, or destruction of a suspended frame with the io_context).
struct SessionEnd {
  std::shared_ptr<ServerImpl> self;
  std::shared_ptr<Connection> c;
  ~SessionEnd() {
    c->stream.close();
    OnSessionEnd(self, c->id);
  }
};

}  // namespace

net::awaitable<void> CloseGracefully(beast::tcp_stream& stream, std::chrono::milliseconds timeout) {
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!ec) {
    stream.expires_after(timeout);
    std::array<char, 4096> sink;
    for (;;) {
      auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), kTuple);
      if (rec) break;
    }
  }
  stream.close();
}

net::awaitable<void> RunSession(std::shared_ptr<ServerImpl> self, std::shared_ptr<Connection> c) {
  SessionEnd end{self, c};
  const ServerOptions& o = self->options;
  beast::tcp_stream& stream = c->stream;
  beast::flat_buffer buffer;
  size_t served = 0;
  for (;;) {
    if (buffer.size() == 0) {
      // Idle. Stop closes idle connections; checking `stopping` after setting `idle` (both on
      // this strand) means a concurrent Stop either sees us idle or we see it.
      c->idle = true;
      if (self->stopping.load()) co_return;
      stream.expires_after(o.idle_timeout);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
      c->idle = false;
      if (ec) co_return;  // closed by the client, idle timeout, or Stop
      buffer.commit(n);
    }

    bh::request_parser<bh::string_body> parser;
    parser.header_limit(o.header_limit);
    parser.body_limit(o.body_limit);
    stream.expires_after(o.read_timeout);  // one deadline for the whole request
    if (beast::error_code ec = co_await ReadRequest(stream, buffer, parser)) {
      if (std::optional<Response> res = ResponseForReadError(ec, o)) {
        FinishResponse(*res, 11, /*keep_alive=*/false, /*head=*/false);
        if (co_await Write(stream, *res, o.write_timeout)) {
          co_await CloseGracefully(stream, kLingerTimeout);
        }
      }
      co_return;
    }

    Request request = parser.release();
    const bool head = request.method() == Verb::head;
    const unsigned version = request.version();
    ++served;
    bool keep_alive = request.keep_alive() && (o.max_requests_per_connection == 0 ||
                                               served < o.max_requests_per_connection);
    Response res = co_await CallHandler(*self, std::move(request));
    keep_alive = keep_alive && !self->stopping.load();
    FinishResponse(res, version, keep_alive, head);
    if (!co_await Write(stream, res, o.write_timeout)) co_return;
    if (!keep_alive) {
      co_await CloseGracefully(stream, kLingerTimeout);
      co_return;
    }
  }
}

net::awaitable<void> RejectConnection(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  Response res = JsonError(HttpStatus::service_unavailable, "too_many_connections",
                           "the server is at its connection limit; retry later");
  res.set(Field::retry_after, "1");
  FinishResponse(res, 11, /*keep_alive=*/false, /*head=*/false);
  if (co_await Write(stream, res, kRejectTimeout)) co_await CloseGracefully(stream, kRejectTimeout);
}

}  // namespace mqlab::http::internal
