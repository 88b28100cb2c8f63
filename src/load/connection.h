// The generator's client side: the target (resolved once, its request serialized once) and one
// keep-alive connection running one request/response exchange at a time.
//
// Why its own client and not http::Client: that one is synchronous, one connection per thread.
// Here many connections share one thread's event loop (Asio coroutines), the request bytes are
// written as they are (no per-request serialization), responses go through ResponseSink (no
// allocation), and timeouts are enforced by the owner's periodic sweep (ExpireOverdue) instead
// of one timer per request (what wrk does too).
//
// Connection life: opened on first use (and after any error or `Connection: close`), kept alive
// between exchanges. Before reusing a connection idle for more than kProbeIdleAfter, a
// non-blocking peek checks that the server has not closed it meanwhile (servers close idle
// keep-alive connections: mqlab after 60 s, Node after 5 s), so a request is never written into
// a dead connection and counted as the server's error.
//
// Threading: a Connection belongs to one thread's io_context; Target is immutable and shared.
#ifndef MQLAB_LOAD_CONNECTION_H_
#define MQLAB_LOAD_CONNECTION_H_

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "load/options.h"
#include "mqlab/common/clock.h"

namespace mqlab::load {

namespace net = boost::asio;
using tcp = net::ip::tcp;

inline constexpr std::chrono::seconds kProbeIdleAfter{1};

struct Target {
  std::vector<tcp::endpoint> endpoints;
  std::string host_port;     // the Host header
  std::string path;          // path and query of the URL
  std::string request;       // the whole request, serialized once
  std::string poll_headers;  // header lines for --follow's GETs (Host, User-Agent, user headers)
  bool head = false;         // HEAD: responses have no body
};

// Resolves `o.url` and serializes its request. Errors: InvalidArgument (bad URL), Unavailable
// (the host does not resolve).
Result<Target> MakeTarget(const LoadOptions& o);
// One connect with `timeout`, closed at once: a start-up check that the target is reachable.
// Unavailable or DeadlineExceeded naming the URL.
Status ProbeTarget(const Target& target, const std::string& url, Nanos timeout);
// "GET <path> HTTP/1.1\r\n" + the poll headers: a --follow poll, into `out` (reused).
void BuildPoll(const Target& target, std::string_view path, std::string& out);

struct Connection {
  explicit Connection(net::io_context& ioc) : socket(ioc) {}
  void Close();

  tcp::socket socket;
  boost::beast::flat_buffer buffer;
  SteadyTime deadline = SteadyTime::max();  // of the exchange in progress, max when idle
  SteadyTime last_used{};
  bool busy = false;
  bool timed_out = false;  // set by ExpireOverdue
  std::string body;        // the last response's body (when kept)
  std::string location;    // the last response's Location header
};

enum class Outcome { kResponse, kTimeout, kConnectionError };

struct Exchanged {
  Outcome outcome = Outcome::kConnectionError;
  SteadyTime sent{};    // when the exchange began (the request was handed to the connection)
  SteadyTime done{};    // when the response was complete, or the failure seen
  int status = 0;       // kResponse only
  bool opened = false;  // a new connection was opened for it
};

// Opens `c` to the first endpoint that accepts (TCP_NODELAY set). False when none does, or
// when ExpireOverdue cut the attempt short (then c.timed_out is set).
net::awaitable<bool> Open(Connection& c, const Target& target);

// Sends `request` on `c` (connecting first if needed) and reads the response; keeps the body
// in c.body when `keep_body`. The whole exchange, connect included, must finish within
// `timeout` — enforced by the owner calling ExpireOverdue. Never throws.
// REQUIRES: runs on c.socket's io_context; c is not busy.
net::awaitable<Exchanged> Exchange(Connection& c, const Target& target, std::string_view request,
                                   Nanos timeout, bool keep_body);

// Closes every busy connection past its deadline (its exchange then ends as a timeout).
void ExpireOverdue(std::span<Connection* const> connections, SteadyTime now);

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_CONNECTION_H_
