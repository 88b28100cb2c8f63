// For the load generator's tests: an in-process HTTP server (src/http) whose answer to each
// request is decided by a test function — how long to hold it and which status to send. Holding
// is a timer (co_await), never a blocked thread, so one server thread holds any number of
// requests at once, like a real asynchronous server.
//
// Threading: `plan` runs on the server's threads (one by default, so calls are serialized);
// requests() may be read from any thread.
#ifndef MQLAB_LOAD_TEST_SERVER_UTIL_H_
#define MQLAB_LOAD_TEST_SERVER_UTIL_H_

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/json_response.h"
#include "http/server.h"

namespace mqlab::load::testing {

struct Answer {
  std::chrono::nanoseconds hold{0};
  int status = 200;
};

class TestServer {
 public:
  // Request `index` (0-based, in arrival order) arriving at `arrived` gets `plan(index, arrived)`.
  using Plan = std::function<Answer(uint64_t index, std::chrono::steady_clock::time_point arrived)>;

  explicit TestServer(Plan plan, int threads = 1) : plan_(std::move(plan)) {
    server_ = std::make_unique<http::Server>(
        ioc_, http::ServerOptions{}, [this](http::Request req) { return Handle(std::move(req)); });
    Status s = server_->Listen();
    EXPECT_TRUE(s) << s.error().ToString();
    server_->Start();
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }
  ~TestServer() {
    server_->Stop();
    server_->WaitStopped(std::chrono::seconds(15));
    ioc_.stop();
    for (auto& t : threads_) t.join();
  }

  std::string url(std::string_view path = "/") const {
    return fmt::format("http://127.0.0.1:{}{}", server_->local_endpoint().port(), path);
  }
  uint64_t requests() const { return count_.load(); }

 private:
  http::net::awaitable<http::Response> Handle(http::Request) {
    const uint64_t index = count_.fetch_add(1);
    Answer a = plan_(index, std::chrono::steady_clock::now());
    if (a.hold > std::chrono::nanoseconds::zero()) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
      timer.expires_after(a.hold);
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    co_return http::JsonResponse(static_cast<http::HttpStatus>(a.status), {{"index", index}});
  }

  Plan plan_;
  std::atomic<uint64_t> count_{0};
  http::net::io_context ioc_;
  std::unique_ptr<http::Server> server_;
  std::vector<std::thread> threads_;
};

}  // namespace mqlab::load::testing

#endif  // MQLAB_LOAD_TEST_SERVER_UTIL_H_
