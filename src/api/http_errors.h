// mqlab::Error → HTTP error response, the one table every endpoint uses (DESIGN.md § Errors).
//
//   kInvalidArgument    400 <code given by the caller, e.g. invalid_input_path>
//   kNotFound           404 not_found
//   kResourceExhausted  429 backpressure (async) / 503 overloaded (sync), with Retry-After
//   kUnavailable        503 backend_unavailable with Retry-After (async: a job backend is down)
//                       502 upstream_unavailable (sync: the OCR server is down)
//   kDeadlineExceeded   504 timeout
//   others              500 internal
#ifndef MQLAB_API_HTTP_ERRORS_H_
#define MQLAB_API_HTTP_ERRORS_H_

#include <chrono>
#include <string_view>

#include "http/message.h"
#include "mqlab/common/status.h"

namespace mqlab::api {

enum class Flavor { kAsync, kSync };

// `invalid_code` names the 400 case ("invalid_input_path", "bad_job_id"); `retry_after` is sent
// with 429/503.
http::Response ErrorToResponse(const Error& error, Flavor flavor, std::string_view invalid_code,
                               std::chrono::seconds retry_after);

}  // namespace mqlab::api

#endif  // MQLAB_API_HTTP_ERRORS_H_
