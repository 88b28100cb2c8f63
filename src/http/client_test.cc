#include "http/client.h"

#include <gtest/gtest.h>

namespace mqlab::http {
namespace {

TEST(ParseHttpUrlTest, ParsesHostPortAndTarget) {
  Result<ParsedUrl> u = ParseHttpUrl("http://127.0.0.1:8080/v3/ocr/jobs?x=1");
  ASSERT_TRUE(u) << u.error().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/v3/ocr/jobs?x=1");
  EXPECT_EQ(u->HostPort(), "127.0.0.1:8080");

  u = ParseHttpUrl("http://localhost");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/");

  u = ParseHttpUrl("http://[::1]:9000/metrics");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->HostPort(), "[::1]:9000");
  EXPECT_EQ(u->target, "/metrics");
}

TEST(ParseHttpUrlTest, RejectsWhatItCannotServe) {
  EXPECT_EQ(ParseHttpUrl("https://example.com/").error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(ParseHttpUrl("ftp://example.com/").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHttpUrl("127.0.0.1:8080").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHttpUrl("http:///path").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHttpUrl("http://host:0/").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ParseHttpUrl("not a url").error().code, ErrorCode::kInvalidArgument);
}

TEST(ClientTest, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nothing listens there, the kernel refuses at once.
  Client c("127.0.0.1", 1, {.connect_timeout = std::chrono::seconds(2)});
  Result<Response> r = c.Do(Verb::get, "/");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("127.0.0.1:1"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace mqlab::http
