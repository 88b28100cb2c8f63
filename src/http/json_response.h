// JSON responses, the only kind mqlab's HTTP API sends (errors included).
//
// Every error body has the shape DESIGN.md fixes: {"error":"<code>","message":"<text>"}, where
// the code is a stable snake_case word clients can switch on ("not_found", "body_too_large") and
// the message is for people. The server, the router and every handler build their responses here.
#ifndef MQLAB_HTTP_JSON_RESPONSE_H_
#define MQLAB_HTTP_JSON_RESPONSE_H_

#include <string_view>

#include <nlohmann/json.hpp>

#include "http/message.h"

namespace mqlab::http {

inline constexpr std::string_view kJsonContentType = "application/json";

// A response with `body` serialised as JSON, Content-Type application/json and Content-Length
// set. HTTP/1.1; keep-alive is decided by the server. Invalid UTF-8 in strings is replaced
// (U+FFFD), never thrown.
Response JsonResponse(HttpStatus status, const nlohmann::json& body);

// {"error": code, "message": message} with the given status.
Response JsonError(HttpStatus status, std::string_view code, std::string_view message);

}  // namespace mqlab::http

#endif  // MQLAB_HTTP_JSON_RESPONSE_H_
