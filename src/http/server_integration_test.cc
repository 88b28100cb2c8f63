// Server against real sockets on 127.0.0.1 (port 0): keep-alive, pipelining, limits, timeouts,
// connection cap, graceful and forced Stop. Events are awaited with deadlines, never sleeps.
#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/client.h"
#include "http/json_response.h"

namespace mqlab::http {
namespace {

using namespace std::chrono_literals;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

// Polls `done` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling interval, not a wait for an event
  }
  return true;
}

// A client socket speaking raw bytes, every read bounded by a deadline.
class RawConnection {
 public:
  explicit RawConnection(const tcp::endpoint& server) { socket_.connect(server); }

  // Closes the client side, as a client does after `Connection: close`.
  void Close() {
    beast::error_code ignored;
    socket_.close(ignored);
  }
  // Half-closes: the client will send nothing more (EOF at the server), but still reads.
  void ShutdownSend() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }
  void Send(std::string_view bytes) {
    beast::error_code ignored;  // the server may have closed already: the test checks that
    net::write(socket_, net::buffer(bytes), ignored);
  }
  // Starts writing `bytes` in the background (progresses while Read*/WaitClosed run), for
  // bodies larger than the socket buffers that the server may stop reading.
  void StartSend(std::string bytes) {
    pending_ = std::move(bytes);
    net::async_write(socket_, net::buffer(pending_), [](beast::error_code, size_t) {});
  }
  // The next response, or nullopt if none arrived within `timeout`.
  std::optional<Response> ReadResponse(std::chrono::milliseconds timeout = 5s) {
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(1 << 20);
    bool done = false;
    beast::error_code ec;
    beast::http::async_read(socket_, buffer_, parser, [&](beast::error_code e, size_t) {
      ec = e;
      done = true;
    });
    if (!RunUntil(done, timeout) || ec) return std::nullopt;
    return parser.release();
  }
  // True if the server closes the connection (EOF or reset) within `timeout`; data that
  // arrives meanwhile is dropped, or makes it false unless `allow_data`.
  bool WaitClosed(std::chrono::milliseconds timeout = 5s, bool allow_data = true) {
    if (!allow_data && buffer_.size() > 0) return false;  // read along with a response
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      bool done = false;
      beast::error_code ec;
      socket_.async_read_some(net::buffer(sink_), [&](beast::error_code e, size_t) {
        ec = e;
        done = true;
      });
      if (!RunUntil(done, left)) return false;
      if (ec) return ec == net::error::eof || ec == net::error::connection_reset;
      if (!allow_data) return false;
    }
  }

 private:
  // Runs the private io_context until `done` or the timeout; on timeout cancels the reads.
  bool RunUntil(const bool& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    ioc_.restart();
    while (!done && Clock::now() < deadline) ioc_.run_one_until(deadline);
    if (done) return true;
    beast::error_code ignored;
    socket_.cancel(ignored);
    ioc_.restart();
    while (!done) ioc_.run_one();
    return false;
  }

  net::io_context ioc_;
  tcp::socket socket_{ioc_};
  beast::flat_buffer buffer_;
  std::string pending_;
  std::array<char, 65536> sink_;
};

std::string Get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

class ServerTest : public ::testing::Test {
 protected:
  // /echo...: 200 {"target","bodySize"}; /slow?ms=N: waits N ms first; /throw: throws.
  static net::awaitable<Response> TestHandler(std::atomic<int>* slow_started, Request req) {
    std::string target(req.target());
    if (target.starts_with("/slow")) {
      slow_started->fetch_add(1);
      net::steady_timer timer(co_await net::this_coro::executor);
      const int ms = std::stoi(target.substr(target.find('=') + 1));
      timer.expires_after(std::chrono::milliseconds(ms));
      co_await timer.async_wait(net::use_awaitable);
    }
    if (target == "/throw") throw std::runtime_error("handler bug");
    co_return JsonResponse(HttpStatus::ok, {{"target", target}, {"bodySize", req.body().size()}});
  }

  void StartServer(ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(ioc_, options, [this](Request req) {
      return TestHandler(&slow_started_, std::move(req));
    });
    Status listening = server_->Listen();
    ASSERT_TRUE(listening) << listening.error().ToString();
    endpoint_ = server_->local_endpoint();
    ASSERT_NE(endpoint_.port(), 0);
    server_->Start();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  void TearDown() override {
    if (server_) {
      server_->Stop();
      EXPECT_TRUE(server_->WaitStopped(15s));
    }
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  net::io_context ioc_;
  std::unique_ptr<Server> server_;
  tcp::endpoint endpoint_;
  std::vector<std::thread> threads_;
  std::atomic<int> slow_started_{0};
};

nlohmann::json BodyOf(const Response& res) { return nlohmann::json::parse(res.body()); }

TEST_F(ServerTest, KeepAliveReusesOneConnection) {
  StartServer();
  Client client("127.0.0.1", endpoint_.port());
  for (int i = 0; i < 5; ++i) {
    Result<Response> res = client.Do(Verb::post, "/echo/" + std::to_string(i), R"({"a":1})");
    ASSERT_TRUE(res) << res.error().ToString();
    EXPECT_EQ(res->result(), HttpStatus::ok);
    EXPECT_TRUE(res->keep_alive());
    EXPECT_EQ(BodyOf(*res)["bodySize"], 7);
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(server_->total_connections(), 1u);
  EXPECT_EQ(server_->active_connections(), 1u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  RawConnection conn(endpoint_);
  conn.Send(Get("/slow?ms=200") + Get("/echo/2") + Get("/echo/3"));
  for (std::string expected : {"/slow?ms=200", "/echo/2", "/echo/3"}) {
    std::optional<Response> res = conn.ReadResponse();
    ASSERT_TRUE(res) << expected;
    EXPECT_EQ(BodyOf(*res)["target"], expected);
  }
}

TEST_F(ServerTest, HeadersOverTheLimitGet431AndClose) {
  StartServer();
  RawConnection conn(endpoint_);
  conn.Send(Get("/echo", "X-Big: " + std::string(16 * 1024, 'a') + "\r\n"));
  std::optional<Response> res = conn.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::request_header_fields_too_large);
  EXPECT_EQ(BodyOf(*res)["error"], "headers_too_large");
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(conn.WaitClosed());
}

TEST_F(ServerTest, BodyOverTheLimitGets413WithContentLength) {
  StartServer();
  RawConnection conn(endpoint_);
  const size_t size = 2 << 20;
  conn.StartSend("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(size) +
                 "\r\n\r\n" + std::string(size, 'x'));
  std::optional<Response> res = conn.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::payload_too_large);
  EXPECT_EQ(BodyOf(*res)["error"], "body_too_large");
  EXPECT_TRUE(conn.WaitClosed());
}

TEST_F(ServerTest, BodyOverTheLimitGets413WhenChunked) {
  StartServer();
  RawConnection conn(endpoint_);
  std::string request = "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 32; ++i) request += "10000\r\n" + chunk + "\r\n";  // 32 x 64 KiB = 2 MiB
  request += "0\r\n\r\n";
  conn.StartSend(std::move(request));
  std::optional<Response> res = conn.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::payload_too_large);
  EXPECT_TRUE(conn.WaitClosed());
}

TEST_F(ServerTest, BodyWithinTheLimitIsServed) {
  StartServer();
  Client client("127.0.0.1", endpoint_.port());
  Result<Response> res = client.Do(Verb::post, "/echo", std::string(1 << 20, 'x'));
  ASSERT_TRUE(res) << res.error().ToString();
  EXPECT_EQ(res->result(), HttpStatus::ok);
  EXPECT_EQ(BodyOf(*res)["bodySize"], 1 << 20);
}

TEST_F(ServerTest, MalformedRequestGets400AndClose) {
  StartServer();
  RawConnection conn(endpoint_);
  conn.Send("THIS IS NOT HTTP\r\n\r\n");
  std::optional<Response> res = conn.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::bad_request);
  EXPECT_EQ(BodyOf(*res)["error"], "bad_request");
  EXPECT_TRUE(conn.WaitClosed());
}

// Hostile or broken request heads and framings, each on its own connection: a 400 with a JSON
// body, then the connection closes (nothing after a framing error can be trusted).
TEST_F(ServerTest, MalformedHeadersAndFramingGet400JsonAndClose) {
  StartServer();
  static constexpr char kBinaryMethod[] = "\0\x01\x02 /echo HTTP/1.1\r\n\r\n";
  const std::vector<std::string> bad = {
      "GET /echo HTTP/1.1\r\nNoColonHere\r\n\r\n",
      "GET /echo HTTP/1.1\r\nBad Name: x\r\n\r\n",
      "GET /echo HTTP/1.1\r\nX-Ctl: a\x01b\r\n\r\n",
      "GET /echo HTTP/1.x\r\n\r\n",
      "GET  /echo HTTP/1.1\r\n\r\n",
      std::string(kBinaryMethod, sizeof kBinaryMethod - 1),
      "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      "POST /echo HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
  };
  for (const std::string& request : bad) {
    SCOPED_TRACE(::testing::PrintToString(request));
    RawConnection conn(endpoint_);
    conn.Send(request);
    std::optional<Response> res = conn.ReadResponse();
    ASSERT_TRUE(res);
    EXPECT_EQ(res->result(), HttpStatus::bad_request);
    EXPECT_EQ(BodyOf(*res)["error"], "bad_request");
    EXPECT_FALSE(res->keep_alive());
    EXPECT_TRUE(conn.WaitClosed());
  }
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

// Pipelined requests are answered in order up to a malformed one, which gets its 400; what
// follows it on the connection is never served.
TEST_F(ServerTest, PipelinedRequestsUpToAMalformedOneAreAnsweredThenClosed) {
  StartServer();
  RawConnection conn(endpoint_);
  conn.Send(Get("/echo/1") + "POST /echo/2 HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\nabc" +
            "NOT HTTP AT ALL\r\n\r\n" + Get("/echo/4"));
  std::optional<Response> first = conn.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_EQ(BodyOf(*first)["target"], "/echo/1");
  std::optional<Response> second = conn.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(BodyOf(*second)["target"], "/echo/2");
  EXPECT_EQ(BodyOf(*second)["bodySize"], 3);
  std::optional<Response> third = conn.ReadResponse();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->result(), HttpStatus::bad_request);
  EXPECT_EQ(BodyOf(*third)["error"], "bad_request");
  EXPECT_FALSE(third->keep_alive());
  EXPECT_TRUE(conn.WaitClosed(5s, /*allow_data=*/false));  // /echo/4 is not answered
}

// A pipelined `Connection: close` is the last request served; HTTP/1.0 without keep-alive too.
TEST_F(ServerTest, PipelinedConnectionCloseIsTheLastRequestServed) {
  StartServer();
  RawConnection conn(endpoint_);
  conn.Send(Get("/echo/1") + Get("/echo/2", "Connection: close\r\n") + Get("/echo/3"));
  std::optional<Response> first = conn.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->keep_alive());
  std::optional<Response> second = conn.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_EQ(BodyOf(*second)["target"], "/echo/2");
  EXPECT_FALSE(second->keep_alive());
  EXPECT_TRUE(conn.WaitClosed(5s, /*allow_data=*/false));  // /echo/3 is not answered

  RawConnection old(endpoint_);
  old.Send("GET /echo/10 HTTP/1.0\r\n\r\n" + Get("/echo/11"));
  std::optional<Response> res = old.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->version(), 10u);
  EXPECT_EQ(BodyOf(*res)["target"], "/echo/10");
  EXPECT_TRUE(old.WaitClosed(5s, /*allow_data=*/false));
}

// A client that stops in the middle of a request (headers or body) and half-closes gets no
// response: the connection is closed at once, without waiting for the read deadline.
TEST_F(ServerTest, TruncatedRequestIsClosedWithoutAResponse) {
  StartServer({.read_timeout = 30s});
  for (std::string partial : {std::string("GET /echo HTTP/1.1\r\nHost: te"),
                              std::string("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
                              Get("/echo/1") + "GET /ec"}) {
    SCOPED_TRACE(partial);
    RawConnection conn(endpoint_);
    conn.Send(partial);
    conn.ShutdownSend();
    const auto start = Clock::now();
    if (partial.starts_with(Get("/echo/1"))) {
      std::optional<Response> complete = conn.ReadResponse();  // the whole first request
      ASSERT_TRUE(complete);
      EXPECT_EQ(BodyOf(*complete)["target"], "/echo/1");
    }
    EXPECT_TRUE(conn.WaitClosed(2s, /*allow_data=*/false));  // no response for the partial one
    EXPECT_LT(Clock::now() - start, 3s);
  }
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, SlowLorisIsCutOffAtTheReadDeadline) {
  StartServer({.read_timeout = 300ms, .idle_timeout = 30s});
  RawConnection conn(endpoint_);
  const auto start = Clock::now();
  conn.Send("GET /echo HTTP/1.1\r\n");
  // One header line every 50 ms: each read makes progress, only the whole-request deadline
  // stops it.
  bool closed = false;
  for (int i = 0; i < 100 && !closed; ++i) {
    conn.Send("X-Drip-" + std::to_string(i) + ": 1\r\n");
    closed = conn.WaitClosed(50ms);
  }
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 3s);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  StartServer({.idle_timeout = 200ms});
  RawConnection conn(endpoint_);
  conn.Send(Get("/echo"));
  ASSERT_TRUE(conn.ReadResponse());
  EXPECT_TRUE(conn.WaitClosed(3s));
  EXPECT_TRUE(WaitFor([&] { return server_->active_connections() == 0; }));
}

TEST_F(ServerTest, ConnectionLimitIsEnforced) {
  StartServer({.max_connections = 2});
  auto a = std::make_unique<RawConnection>(endpoint_);
  RawConnection b(endpoint_);
  for (RawConnection* c : {a.get(), &b}) {
    c->Send(Get("/echo"));
    ASSERT_TRUE(c->ReadResponse());
  }
  ASSERT_TRUE(WaitFor([&] { return server_->active_connections() == 2; }));

  RawConnection refused(endpoint_);
  refused.Send(Get("/echo"));
  const auto start = Clock::now();
  std::optional<Response> res = refused.ReadResponse(2s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::service_unavailable);
  EXPECT_EQ(BodyOf(*res)["error"], "too_many_connections");
  EXPECT_TRUE(refused.WaitClosed(3s));
  EXPECT_LT(Clock::now() - start, 2s);

  a.reset();  // frees a slot
  ASSERT_TRUE(WaitFor([&] { return server_->active_connections() == 1; }));
  RawConnection admitted(endpoint_);
  admitted.Send(Get("/echo"));
  res = admitted.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::ok);
}

TEST_F(ServerTest, MaxRequestsPerConnectionClosesAfterTheLast) {
  StartServer({.max_requests_per_connection = 2});
  RawConnection conn(endpoint_);
  conn.Send(Get("/echo/1"));
  std::optional<Response> first = conn.ReadResponse();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->keep_alive());
  conn.Send(Get("/echo/2"));
  std::optional<Response> second = conn.ReadResponse();
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->keep_alive());
  EXPECT_TRUE(conn.WaitClosed());
}

TEST_F(ServerTest, ExpectContinueHeadAndHandlerExceptions) {
  StartServer();
  RawConnection conn(endpoint_);
  conn.Send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  std::optional<Response> cont = conn.ReadResponse();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->result(), HttpStatus::continue_);
  conn.Send("hello");
  std::optional<Response> res = conn.ReadResponse();
  ASSERT_TRUE(res);
  EXPECT_EQ(BodyOf(*res)["bodySize"], 5);

  Client client("127.0.0.1", endpoint_.port());
  Result<Response> head = client.Do(Verb::head, "/echo");
  ASSERT_TRUE(head) << head.error().ToString();
  EXPECT_TRUE(head->body().empty());
  EXPECT_NE((*head)[Field::content_length], "0");
  Result<Response> failed = client.Do(Verb::get, "/throw");
  ASSERT_TRUE(failed) << failed.error().ToString();
  EXPECT_EQ(failed->result(), HttpStatus::internal_server_error);
  EXPECT_EQ(BodyOf(*failed)["error"], "internal");
  // The connection survives a handler's exception.
  Result<Response> after = client.Do(Verb::get, "/echo");
  ASSERT_TRUE(after);
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST_F(ServerTest, PortInUseIsAClearError) {
  StartServer();
  net::io_context other;
  Server second(other, {.host = "127.0.0.1", .port = endpoint_.port()}, nullptr);
  Status s = second.Listen();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message.find("127.0.0.1:" + std::to_string(endpoint_.port())),
            std::string::npos)
      << s.error().message;

  Server invalid(other, {.header_limit = 0}, nullptr);
  EXPECT_EQ(invalid.Listen().error().code, ErrorCode::kInvalidArgument);
}

TEST_F(ServerTest, GracefulStopLetsInFlightRequestsFinish) {
  StartServer({.shutdown_grace = 10s});
  RawConnection busy(endpoint_);
  RawConnection idle(endpoint_);
  busy.Send(Get("/slow?ms=500"));
  ASSERT_TRUE(WaitFor([&] { return slow_started_.load() == 1; }));
  ASSERT_TRUE(WaitFor([&] { return server_->active_connections() == 2; }));

  server_->Stop();
  EXPECT_TRUE(idle.WaitClosed(2s));
  // The listener is closed: new connections are refused.
  EXPECT_TRUE(WaitFor([&] {
    net::io_context ioc;
    tcp::socket s(ioc);
    beast::error_code ec;
    s.connect(endpoint_, ec);
    return ec == net::error::connection_refused;
  }));
  std::optional<Response> res = busy.ReadResponse(5s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->result(), HttpStatus::ok);
  EXPECT_FALSE(res->keep_alive());
  EXPECT_TRUE(busy.WaitClosed());
  busy.Close();
  EXPECT_TRUE(server_->WaitStopped(1s));
}

TEST_F(ServerTest, StopForcesConnectionsClosedAfterTheGracePeriod) {
  StartServer({.shutdown_grace = 200ms});
  RawConnection stuck(endpoint_);
  stuck.Send(Get("/slow?ms=60000"));
  ASSERT_TRUE(WaitFor([&] { return slow_started_.load() == 1; }));
  const auto start = Clock::now();
  server_->Stop();
  EXPECT_TRUE(stuck.WaitClosed(5s));
  EXPECT_TRUE(server_->WaitStopped(5s));
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(server_->inflight_requests(), 0u);
}

}  // namespace
}  // namespace mqlab::http
