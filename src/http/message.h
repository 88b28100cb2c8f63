// The HTTP message types every mqlab HTTP component shares (server, router, handlers, client).
//
// Requests and responses are Beast messages with std::string bodies: every body mqlab serves or
// sends is small JSON (the server caps request bodies, see ServerOptions::body_limit).
#ifndef MQLAB_HTTP_MESSAGE_H_
#define MQLAB_HTTP_MESSAGE_H_

#include <functional>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

namespace mqlab::http {

namespace net = boost::asio;
namespace beast = boost::beast;

using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;
using Verb = beast::http::verb;
using HttpStatus = beast::http::status;  // not mqlab::Status, the error value
using Field = beast::http::field;

// What a server calls for every request; the response completes on the connection's executor.
// A handler should not throw (the server answers 500 if it does) and must never block: blocking
// client libraries go through RunBlocking (blocking.h).
using Handler = std::function<net::awaitable<Response>(Request request)>;

}  // namespace mqlab::http

#endif  // MQLAB_HTTP_MESSAGE_H_
