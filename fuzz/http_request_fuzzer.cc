// Raw bytes from a client socket, read as the server's session reads them (src/http/session.cc):
// a Beast request_parser with the server's default header and body limits, fed from a buffer
// holding what the client sent, request after request (pipelining), each request given to the
// API's handler (InstrumentedHandler over the real routes, job service, SQLite store and memory
// queue). Properties: parsing ends in a request or in an error the session answers (400, 413,
// 431) or closes on (end of stream, partial message), never in anything else; every response
// satisfies CheckResponse (JSON errors, a safe X-Request-Id); nothing crashes or trips ASan/UBSan.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include "harness.h"
#include "http/server.h"

namespace {

using namespace mqlab;
namespace beast = http::beast;
namespace net = http::net;
namespace bh = beast::http;

// A SyncReadStream over the client's bytes, handing out at most 16 KiB per read (the session's
// read size), then end of stream (the client half-closed).
class ClientBytes {
 public:
  explicit ClientBytes(std::string_view bytes) : rest_(bytes) {}
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    if (rest_.empty()) {
      ec = net::error::eof;
      return 0;
    }
    const size_t n =
        net::buffer_copy(buffers, net::buffer(rest_.data(), std::min<size_t>(rest_.size(), 16384)));
    rest_.remove_prefix(n);
    ec = {};
    return n;
  }
  template <class MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const http::ServerOptions options;  // the limits every mqlab server runs with
  fuzz::ApiHarness& api = fuzz::Harness();
  ClientBytes client({reinterpret_cast<const char*>(data), size});
  beast::flat_buffer buffer;
  for (int served = 0; served < 64; ++served) {
    bh::request_parser<bh::string_body> parser;
    parser.header_limit(options.header_limit);
    parser.body_limit(options.body_limit);
    beast::error_code ec;
    bh::read_header(client, buffer, parser, ec);
    if (!ec && !parser.is_done()) bh::read(client, buffer, parser, ec);
    if (ec) {
      // The session answers these with a JSON 400/413/431, or closes on a finished stream.
      const bool http_error = ec.category() == bh::make_error_code(bh::error::bad_method).category();
      MQLAB_FUZZ_CHECK(http_error || ec == net::error::eof, "unexpected read error %s",
                       ec.message().c_str());
      break;
    }
    http::Request request = parser.release();
    const bool keep_alive = request.keep_alive();
    http::Response res = api.Call(std::move(request));
    fuzz::CheckResponse(res);
    if (!keep_alive) break;
  }
  api.DrainQueue();
  return 0;
}
