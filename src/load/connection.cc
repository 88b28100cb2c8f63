#include "load/connection.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>  // operator<< of a message
#include <cerrno>
#include <sstream>

#include "http/client.h"
#include "load/response_sink.h"

namespace mqlab::load {
namespace {

namespace bh = boost::beast::http;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);
// Bytes asked of the socket per read: a few responses' worth, one allocation per connection.
constexpr size_t kReadChunk = 16 * 1024;

SteadyTime Now() { return std::chrono::steady_clock::now(); }

bool IsContentField(std::string_view name) {
  return boost::beast::iequals(name, "content-type") ||
         boost::beast::iequals(name, "content-length") ||
         boost::beast::iequals(name, "transfer-encoding");
}

// True if the peer closed the connection (EOF), reset it, or sent bytes nobody asked for.
bool PeerClosed(Connection& c) {
  if (c.buffer.size() != 0) return true;
  char byte;
  ssize_t n = ::recv(c.socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;
}

}  // namespace

net::awaitable<bool> Open(Connection& c, const Target& target) {
  c.buffer.clear();
  for (const tcp::endpoint& ep : target.endpoints) {
    auto [ec] = co_await c.socket.async_connect(ep, kTuple);
    if (!ec) {
      boost::system::error_code ignored;
      c.socket.set_option(tcp::no_delay(true), ignored);
      co_return true;
    }
    c.Close();
    if (c.timed_out) break;
  }
  co_return false;
}

Result<Target> MakeTarget(const LoadOptions& o) {
  auto url = http::ParseHttpUrl(o.url);
  if (!url) return std::unexpected(url.error());
  Target t;
  t.host_port = url->HostPort();
  t.path = url->target;
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  auto results = resolver.resolve(url->host, std::to_string(url->port), ec);
  if (ec) return Unavailable(fmt::format("cannot resolve {}: {}", url->host, ec.message()));
  for (const auto& r : results) t.endpoints.push_back(r.endpoint());
  if (t.endpoints.empty()) return Unavailable("cannot resolve " + url->host + ": no address");

  const std::string method = o.EffectiveMethod();
  bh::request<bh::string_body> req;
  req.method_string(method);
  req.target(t.path);
  req.version(11);
  req.set(bh::field::host, t.host_port);
  req.set(bh::field::user_agent, "mqlab-load/" MQLAB_VERSION);
  bool has_type = false;
  std::string poll =
      fmt::format("Host: {}\r\nUser-Agent: mqlab-load/{}\r\n", t.host_port, MQLAB_VERSION);
  for (const auto& [name, value] : o.headers) {
    has_type = has_type || boost::beast::iequals(name, "content-type");
    if (boost::beast::iequals(name, "content-length") ||
        boost::beast::iequals(name, "transfer-encoding")) {
      continue;  // the framing is ours
    }
    req.set(name, value);
    if (!IsContentField(name) && !boost::beast::iequals(name, "host")) {
      poll += fmt::format("{}: {}\r\n", name, value);
    }
  }
  if (!o.body.empty() && !has_type) req.set(bh::field::content_type, "application/json");
  req.body() = o.body;
  req.prepare_payload();
  std::ostringstream out;
  out << req;
  t.request = out.str();
  t.poll_headers = std::move(poll);
  t.head = method == "HEAD";
  return t;
}

Status ProbeTarget(const Target& target, const std::string& url, Nanos timeout) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  net::steady_timer timer(ioc);
  boost::system::error_code result = net::error::timed_out;
  for (const tcp::endpoint& ep : target.endpoints) {
    bool done = false;
    socket.async_connect(ep, [&](boost::system::error_code ec) {
      done = true;
      result = ec;
      timer.cancel();
    });
    timer.expires_after(timeout);
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec && !done) socket.close();
    });
    ioc.restart();
    ioc.run();
    if (!result) return Ok();
    if (!done || result == net::error::operation_aborted) result = net::error::timed_out;
    socket = tcp::socket(ioc);
  }
  if (result == net::error::timed_out) {
    return DeadlineExceeded(
        fmt::format("cannot connect to {}: no answer within {}", url, FormatDuration(timeout)));
  }
  return Unavailable(fmt::format("cannot connect to {}: {}", url, result.message()));
}

void BuildPoll(const Target& target, std::string_view path, std::string& out) {
  out.clear();
  out.append("GET ")
      .append(path)
      .append(" HTTP/1.1\r\n")
      .append(target.poll_headers)
      .append("\r\n");
}

void Connection::Close() {
  boost::system::error_code ignored;
  socket.close(ignored);
  buffer.clear();
}

namespace {

// Writes all of `bytes`. One write_some is the usual case (a request fits the socket buffer);
// no composed operation in between (what Asio's async_write adds per request shows in profiles).
net::awaitable<bool> WriteAll(Connection& c, std::string_view bytes) {
  while (!bytes.empty()) {
    auto [ec, n] = co_await c.socket.async_write_some(net::buffer(bytes), kTuple);
    if (ec) co_return false;
    bytes.remove_prefix(n);
  }
  co_return true;
}

// Reads one response into `sink`, leaving bytes of a next (pipelined) one in c.buffer. The
// parse loop Beast's async_read runs, without its two layers of composed operations.
net::awaitable<bool> ReadResponse(Connection& c, ResponseSink& sink) {
  sink.eager(true);
  boost::beast::error_code pec;
  for (;;) {
    if (c.buffer.size() != 0) {
      const size_t used = sink.put(c.buffer.data(), pec);
      c.buffer.consume(used);
      if (pec == bh::error::need_more) pec = {};
      if (pec) co_return false;
      if (sink.is_done()) co_return true;
      if (used != 0 && c.buffer.size() != 0) continue;
    }
    auto [ec, n] = co_await c.socket.async_read_some(c.buffer.prepare(kReadChunk), kTuple);
    if (ec == net::error::eof && sink.got_some()) {
      sink.put_eof(pec);  // a body delimited by the end of the connection
      co_return !pec && sink.is_done();
    }
    if (ec) co_return false;
    c.buffer.commit(n);
  }
}

}  // namespace

net::awaitable<Exchanged> Exchange(Connection& c, const Target& target, std::string_view request,
                                   Nanos timeout, bool keep_body) {
  Exchanged r;
  r.sent = Now();
  c.busy = true;
  c.timed_out = false;
  c.deadline = r.sent + timeout;
  bool ok = true;
  if (c.socket.is_open() && r.sent - c.last_used > kProbeIdleAfter && PeerClosed(c)) c.Close();
  if (!c.socket.is_open()) {
    ok = co_await Open(c, target);
    r.opened = ok;
  }
  ok = ok && co_await WriteAll(c, request);
  if (ok) {
    ResponseSink sink(keep_body ? &c.body : nullptr, &c.location);
    if (target.head) sink.skip(true);
    ok = co_await ReadResponse(c, sink);
    if (ok) {
      r.status = sink.status();
      r.outcome = Outcome::kResponse;
      if (!sink.keep_alive()) c.Close();
    }
  }
  r.done = Now();
  if (!ok) {
    r.outcome = c.timed_out ? Outcome::kTimeout : Outcome::kConnectionError;
    c.Close();
  }
  c.busy = false;
  c.deadline = SteadyTime::max();
  c.last_used = r.done;
  co_return r;
}

void ExpireOverdue(std::span<Connection* const> connections, SteadyTime now) {
  for (Connection* c : connections) {
    if (c->busy && now > c->deadline) {
      c->timed_out = true;
      // Only the socket: a read may still own part of the buffer until its abort is delivered.
      boost::system::error_code ignored;
      c->socket.close(ignored);
    }
  }
}

}  // namespace mqlab::load
