#include "api/http_errors.h"

#include <string>

#include "http/json_response.h"

namespace mqlab::api {

http::Response ErrorToResponse(const Error& error, Flavor flavor, std::string_view invalid_code,
                               std::chrono::seconds retry_after) {
  using S = http::HttpStatus;
  auto with_retry = [&](http::Response r) {
    r.set(http::Field::retry_after, std::to_string(retry_after.count()));
    return r;
  };
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return http::JsonError(S::bad_request, invalid_code, error.message);
    case ErrorCode::kNotFound:
      return http::JsonError(S::not_found, "not_found", error.message);
    case ErrorCode::kResourceExhausted:
      return flavor == Flavor::kAsync
                 ? with_retry(http::JsonError(S::too_many_requests, "backpressure", error.message))
                 : with_retry(http::JsonError(S::service_unavailable, "overloaded", error.message));
    case ErrorCode::kUnavailable:
      return flavor == Flavor::kAsync
                 ? with_retry(
                       http::JsonError(S::service_unavailable, "backend_unavailable", error.message))
                 : http::JsonError(S::bad_gateway, "upstream_unavailable", error.message);
    case ErrorCode::kDeadlineExceeded:
      return http::JsonError(S::gateway_timeout, "timeout", error.message);
    default:
      return http::JsonError(S::internal_server_error, "internal", error.message);
  }
}

}  // namespace mqlab::api
