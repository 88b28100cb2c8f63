#include "load/response_sink.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>

namespace mqlab::load {
namespace {

// Feeds `raw` to `sink` as the socket read loop would; returns the bytes it consumed.
size_t Feed(ResponseSink& sink, std::string_view raw) {
  boost::beast::error_code ec;
  size_t used = 0;
  sink.eager(true);
  while (!sink.is_done() && used < raw.size()) {
    size_t n = sink.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
    if (ec == boost::beast::http::error::need_more) break;
    EXPECT_FALSE(ec) << ec.message();
    if (ec || n == 0) break;
    used += n;
  }
  return used;
}

TEST(ResponseSinkTest, KeepsStatusLocationAndBody) {
  std::string body, location;
  ResponseSink sink(&body, &location);
  const std::string raw =
      "HTTP/1.1 202 Accepted\r\nServer: mqlab\r\nLocation: /mem/ocr/jobs/abc\r\n"
      "Content-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"jobId\":\"abc\"}\n";
  EXPECT_EQ(Feed(sink, raw), raw.size());
  ASSERT_TRUE(sink.is_done());
  EXPECT_EQ(sink.status(), 202);
  EXPECT_EQ(location, "/mem/ocr/jobs/abc");
  EXPECT_EQ(body, "{\"jobId\":\"abc\"}\n");
  EXPECT_TRUE(sink.keep_alive());
}

TEST(ResponseSinkTest, ReadsChunkedBodiesAndConnectionClose) {
  std::string body, location = "stale";
  ResponseSink sink(&body, &location);
  const std::string raw =
      "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  EXPECT_EQ(Feed(sink, raw), raw.size());
  ASSERT_TRUE(sink.is_done());
  EXPECT_EQ(sink.status(), 503);
  EXPECT_EQ(body, "hello world");
  EXPECT_EQ(location, "");  // cleared: it was the previous response's
  EXPECT_FALSE(sink.keep_alive());
}

TEST(ResponseSinkTest, StopsAtTheEndOfOneResponseAndCanDiscardBodies) {
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const std::string second = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  std::string location;
  ResponseSink a(nullptr, &location);
  EXPECT_EQ(Feed(a, first + second), first.size());  // pipelined bytes stay for the next sink
  EXPECT_EQ(a.status(), 200);
  ResponseSink b(nullptr, &location);
  EXPECT_EQ(Feed(b, second), second.size());
  EXPECT_EQ(b.status(), 404);
}

TEST(ResponseSinkTest, CapsTheKeptBody) {
  std::string body, location;
  ResponseSink sink(&body, &location);
  const size_t big = ResponseSink::kMaxKeptBody + 1000;
  const std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big) + "\r\n\r\n" +
                          std::string(big, 'x');
  EXPECT_EQ(Feed(sink, raw), raw.size());
  EXPECT_TRUE(sink.is_done());
  EXPECT_EQ(body.size(), ResponseSink::kMaxKeptBody);
}

}  // namespace
}  // namespace mqlab::load
