#include "http/json_response.h"

#include <string>

namespace mqlab::http {

Response JsonResponse(HttpStatus status, const nlohmann::json& body) {
  Response res{status, 11};
  res.set(Field::content_type, kJsonContentType);
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

Response JsonError(HttpStatus status, std::string_view code, std::string_view message) {
  return JsonResponse(status, {{"error", std::string(code)}, {"message", std::string(message)}});
}

}  // namespace mqlab::http
