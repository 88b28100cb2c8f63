// ResponseSink: a Beast response parser that keeps only what the load generator needs — the
// status, keep-alive, the Location header and (when asked) the body — without allocating.
//
// Why not beast::http::response_parser<string_body>: it builds a full header container (one
// allocation per field) and a body string for every response; at tens of thousands of responses
// per second that is most of a generator's work. Beast's basic_parser is the documented
// extension point for custom parsers: it does all of HTTP/1.1 (chunked bodies, pipelined bytes
// left in the buffer, limits), and calls us back per field and body piece.
//
// A parser handles one message: construct a new sink for every response (cheap: no heap
// memory unless the header arrives split across reads). `body` and `location` point at
// strings owned by the caller, reused across responses (their capacity is kept).
//
// Threading: one sink per connection, used on that connection's thread.
#ifndef MQLAB_LOAD_RESPONSE_SINK_H_
#define MQLAB_LOAD_RESPONSE_SINK_H_

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>

namespace mqlab::load {

class ResponseSink : public boost::beast::http::basic_parser<false> {
 public:
  // Bodies beyond this are parsed and discarded, not kept (a job is a few hundred bytes).
  static constexpr size_t kMaxKeptBody = 64 * 1024;

  // `body` (may be null: the body is discarded) and `location` are cleared and filled.
  ResponseSink(std::string* body, std::string* location);

  int status() const { return status_; }

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;

  void on_request_impl(boost::beast::http::verb, string_view, string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(boost::beast::http::field name, string_view, string_view value,
                     error_code&) override;
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override;
  size_t on_body_impl(string_view piece, error_code&) override;
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, string_view piece, error_code& ec) override {
    return on_body_impl(piece, ec);
  }
  void on_finish_impl(error_code&) override {}

  std::string* body_;
  std::string* location_;
  int status_ = 0;
};

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_RESPONSE_SINK_H_
