#include "http/client.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

namespace mqlab::http {
namespace {

using tcp = net::ip::tcp;

bool IsIdempotent(Verb v) {
  return v == Verb::get || v == Verb::head || v == Verb::put || v == Verb::delete_ ||
         v == Verb::options;
}

}  // namespace

std::string ParsedUrl::HostPort() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

Result<ParsedUrl> ParseHttpUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return InvalidArgument("not a URL: '" + std::string(url) + "' (" + parsed.error().message() +
                           "); expected http://host:port/path");
  }
  const boost::urls::url_view& u = *parsed;
  if (u.scheme() == "https") {
    return Unsupported("https is not supported: '" + std::string(url) + "'");
  }
  if (u.scheme() != "http") {
    return InvalidArgument("not an http URL: '" + std::string(url) + "'");
  }
  ParsedUrl out;
  out.host = u.host_address();
  if (out.host.empty()) return InvalidArgument("URL has no host: '" + std::string(url) + "'");
  if (u.has_port()) {
    if (u.port_number() == 0) {
      return InvalidArgument("URL has a bad port: '" + std::string(url) + "'");
    }
    out.port = u.port_number();
  }
  out.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
  return out;
}

Client::Client(std::string host, uint16_t port, ClientOptions options)
    : host_(std::move(host)), port_(port), options_(options) {}

Client::Client(const ParsedUrl& url, ClientOptions options)
    : Client(url.host, url.port, options) {}

Client::~Client() { Close(); }

void Client::Close() {
  if (stream_) {
    beast::error_code ignored;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_->close();
    stream_.reset();
  }
  buffer_.clear();
}

void Client::Run() {
  ioc_.restart();
  ioc_.run();
}

std::string Client::Describe(const Request& request) const {
  return std::string(request.method_string()) + " http://" + ParsedUrl{host_, port_}.HostPort() +
         std::string(request.target());
}

Status Client::Connect() {
  Close();
  tcp::resolver resolver(ioc_);
  beast::error_code ec;
  auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
  const std::string where = ParsedUrl{host_, port_}.HostPort();
  if (ec) return Unavailable("cannot resolve " + host_ + ": " + ec.message());
  stream_.emplace(ioc_);
  stream_->expires_after(options_.connect_timeout);
  stream_->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  Run();
  if (ec) {
    stream_.reset();
    if (ec == beast::error::timeout) {
      return DeadlineExceeded("connect to " + where + ": timed out after " +
                              std::to_string(options_.connect_timeout.count()) + " ms");
    }
    return Unavailable("connect to " + where + ": " + ec.message());
  }
  beast::error_code ignored;
  stream_->socket().set_option(tcp::no_delay(true), ignored);
  ++connections_opened_;
  return Ok();
}

bool Client::PeerClosed() {
  if (buffer_.size() != 0) return true;  // bytes nobody asked for: do not trust this connection
  char byte;
  ssize_t n = ::recv(stream_->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
  return true;  // 0: EOF; > 0: unsolicited data (a 408 before closing, say)
}

Result<Response> Client::RoundTrip(Request& request, bool& response_started) {
  response_started = false;
  beast::error_code ec;
  stream_->expires_after(options_.request_timeout);  // one deadline for write + read
  beast::http::async_write(*stream_, request, [&](beast::error_code e, size_t) { ec = e; });
  Run();
  beast::http::response_parser<beast::http::string_body> parser;
  parser.body_limit(options_.body_limit);
  if (request.method() == Verb::head) parser.skip(true);
  if (!ec) {
    beast::http::async_read(*stream_, buffer_, parser,
                            [&](beast::error_code e, size_t) { ec = e; });
    Run();
    response_started = parser.got_some();
  }
  if (ec) {
    Close();
    if (ec == beast::error::timeout) {
      return DeadlineExceeded(Describe(request) + ": no response within " +
                              std::to_string(options_.request_timeout.count()) + " ms");
    }
    if (ec.category() == beast::http::make_error_code(beast::http::error::bad_method).category() &&
        ec != beast::http::error::end_of_stream && ec != beast::http::error::partial_message) {
      return InvalidArgument(Describe(request) + ": bad response: " + ec.message());
    }
    return Unavailable(Describe(request) + ": " + ec.message());
  }
  Response response = parser.release();
  if (!response.keep_alive()) Close();
  return response;
}

Result<Response> Client::Do(Verb method, std::string_view target, std::string body,
                            const Headers& headers) {
  Request request{method, target, 11};
  request.set(Field::host, ParsedUrl{host_, port_}.HostPort());
  request.set(Field::user_agent, "mqlab");
  bool has_content_type = false;
  for (const auto& [name, value] : headers) {
    request.set(name, value);
    has_content_type = has_content_type || beast::iequals(name, "content-type");
  }
  if (!body.empty() && !has_content_type) request.set(Field::content_type, "application/json");
  request.body() = std::move(body);
  request.prepare_payload();
  request.keep_alive(true);

  bool reused = stream_.has_value();
  if (reused && PeerClosed()) {
    Close();
    reused = false;
  }
  if (!stream_) {
    if (Status s = Connect(); !s) return std::unexpected(s.error());
  }
  bool response_started = false;
  Result<Response> result = RoundTrip(request, response_started);
  if (!result && reused && !response_started && IsIdempotent(method) &&
      result.error().code == ErrorCode::kUnavailable) {
    if (Status s = Connect(); !s) return std::unexpected(s.error());
    result = RoundTrip(request, response_started);
  }
  return result;
}

}  // namespace mqlab::http
