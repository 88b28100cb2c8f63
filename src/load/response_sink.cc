#include "load/response_sink.h"

#include <algorithm>

namespace mqlab::load {

ResponseSink::ResponseSink(std::string* body, std::string* location)
    : body_(body), location_(location) {
  if (body_) body_->clear();
  location_->clear();
  // The body is never held beyond kMaxKeptBody, so any length may be read through.
  body_limit(boost::none);
}

void ResponseSink::on_field_impl(boost::beast::http::field name, string_view, string_view value,
                                 error_code&) {
  if (name == boost::beast::http::field::location) location_->assign(value.data(), value.size());
}

void ResponseSink::on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) {
  if (body_ && length) body_->reserve(std::min<uint64_t>(*length, kMaxKeptBody));
}

size_t ResponseSink::on_body_impl(string_view piece, error_code&) {
  if (body_ && body_->size() < kMaxKeptBody) {
    body_->append(piece.data(), std::min(piece.size(), kMaxKeptBody - body_->size()));
  }
  return piece.size();
}

}  // namespace mqlab::load
