#include "sync/upstream.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <fmt/format.h>

namespace mqlab::sync {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

Error FromAsio(const boost::system::error_code& ec, const UpstreamOptions& o, std::string_view what) {
  std::string where = o.url.HostPort();
  if (ec == beast::error::timeout) {
    return Error{ErrorCode::kDeadlineExceeded,
                 fmt::format("OCR server {} did not answer {} in time", where, what)};
  }
  return Error{ErrorCode::kUnavailable,
               fmt::format("OCR server {} unreachable ({}): {}", where, what, ec.message())};
}

}  // namespace

Upstream::Upstream(net::io_context& io, UpstreamOptions options)
    : io_(io), options_(std::move(options)) {}

Upstream::~Upstream() = default;

std::unique_ptr<Upstream::Stream> Upstream::TakeIdle() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return nullptr;
  auto s = std::move(idle_.back());
  idle_.pop_back();
  return s;
}

void Upstream::PutIdle(std::unique_ptr<Stream> stream) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(stream));
}

net::awaitable<Result<std::unique_ptr<Upstream::Stream>>> Upstream::Connect() {
  {
    std::lock_guard lock(mu_);
    if (open_ >= options_.max_connections) {
      co_return ResourceExhausted(fmt::format("all {} connections to {} busy",
                                              options_.max_connections, options_.url.HostPort()));
    }
    ++open_;
  }
  auto stream = std::make_unique<Stream>(io_);
  boost::system::error_code ec;
  auto address = net::ip::make_address(options_.url.host, ec);
  tcp::endpoint endpoint;
  if (!ec) {
    endpoint = tcp::endpoint(address, options_.url.port);
  } else {
    tcp::resolver resolver(io_);
    auto [rec, results] = co_await resolver.async_resolve(
        options_.url.host, std::to_string(options_.url.port), net::as_tuple(net::use_awaitable));
    if (rec || results.empty()) {
      std::lock_guard lock(mu_);
      --open_;
      co_return Unavailable(fmt::format("cannot resolve {}", options_.url.host));
    }
    endpoint = *results.begin();
  }
  stream->expires_after(options_.connect_timeout);
  auto [cec] = co_await stream->async_connect(endpoint, net::as_tuple(net::use_awaitable));
  if (cec) {
    std::lock_guard lock(mu_);
    --open_;
    co_return std::unexpected(FromAsio(cec, options_, "connect"));
  }
  stream->socket().set_option(tcp::no_delay(true));
  co_return stream;
}

net::awaitable<Result<http::Response>> Upstream::RoundTrip(Stream& stream, http::Request& request,
                                                           bool& response_started) {
  stream.expires_after(options_.request_timeout);
  auto [wec, w] = co_await beast::http::async_write(stream, request, net::as_tuple(net::use_awaitable));
  (void)w;
  if (wec) co_return std::unexpected(FromAsio(wec, options_, "write"));
  beast::flat_buffer buffer;
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  auto [hec, h] = co_await beast::http::async_read_header(stream, buffer, parser,
                                                          net::as_tuple(net::use_awaitable));
  (void)h;
  if (hec) co_return std::unexpected(FromAsio(hec, options_, "read"));
  response_started = true;
  auto [rec, r] = co_await beast::http::async_read(stream, buffer, parser,
                                                   net::as_tuple(net::use_awaitable));
  (void)r;
  if (rec) co_return std::unexpected(FromAsio(rec, options_, "read"));
  co_return parser.release();
}

net::awaitable<Result<http::Response>> Upstream::Call(http::Request request) {
  in_flight_++;
  struct Leave {
    std::atomic<int64_t>& n;
    ~Leave() { n--; }
  } leave{in_flight_};
  request.set(http::Field::host, options_.url.HostPort());
  request.keep_alive(true);
  request.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Stream> stream = TakeIdle();
    const bool reused = stream != nullptr;
    if (!stream) {
      auto fresh = co_await Connect();
      if (!fresh) co_return std::unexpected(fresh.error());
      stream = std::move(*fresh);
    }
    bool response_started = false;
    auto result = co_await RoundTrip(*stream, request, response_started);
    if (result) {
      if (result->keep_alive()) {
        PutIdle(std::move(stream));
      } else {
        std::lock_guard lock(mu_);
        --open_;
      }
      co_return result;
    }
    {
      std::lock_guard lock(mu_);
      --open_;
    }
    // A stale keep-alive connection fails before any response byte: try once on a fresh one.
    if (!(reused && !response_started && result.error().code == ErrorCode::kUnavailable)) {
      co_return result;
    }
  }
  co_return Unavailable("unreachable");  // not reached: the second attempt returns
}

}  // namespace mqlab::sync
