#include "http/router.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <thread>

#include "http/blocking.h"
#include "http/json_response.h"

namespace mqlab::http {
namespace {

Request MakeRequest(Verb method, std::string_view target) { return Request{method, target, 11}; }

// Runs a coroutine to completion on a private io_context.
template <class T>
T RunCoroutine(net::awaitable<T> coroutine) {
  net::io_context ioc;
  std::optional<T> out;
  std::exception_ptr error;
  net::co_spawn(ioc, std::move(coroutine), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) out = std::move(value);
  });
  ioc.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

// A handler answering 200 with {"route": name, "id": params.Get("id")}.
RouteHandler Echo(std::string name) {
  return [name](const Request&, const RouteParams& params) -> net::awaitable<Response> {
    co_return JsonResponse(HttpStatus::ok,
                           {{"route", name}, {"id", std::string(params.Get("id"))}});
  };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_.Add(Verb::post, "/mem/ocr/jobs", Echo("submit")));
    ASSERT_TRUE(router_.Add(Verb::get, "/mem/ocr/jobs/{id}", Echo("get")));
    ASSERT_TRUE(router_.Add(Verb::delete_, "/mem/ocr/jobs/{id}", Echo("delete")));
    ASSERT_TRUE(router_.Add(Verb::get, "/mem/ocr/jobs/stats", Echo("stats")));
    ASSERT_TRUE(router_.Add(Verb::get, "/healthz", Echo("health")));
    ASSERT_TRUE(router_.Add(Verb::get, "/", Echo("root")));
  }
  Response Handle(Verb method, std::string_view target) {
    return RunCoroutine(router_.Handle(MakeRequest(method, target)));
  }
  Router router_;
};

TEST_F(RouterTest, RoutesLiteralPathsAndIgnoresQuery) {
  Response res = Handle(Verb::post, "/mem/ocr/jobs?debug=1");
  EXPECT_EQ(res.result(), HttpStatus::ok);
  EXPECT_EQ(nlohmann::json::parse(res.body())["route"], "submit");
  EXPECT_EQ(nlohmann::json::parse(Handle(Verb::get, "/").body())["route"], "root");
  EXPECT_EQ(nlohmann::json::parse(Handle(Verb::get, "/healthz#frag").body())["route"], "health");
}

TEST_F(RouterTest, CapturesOneSegmentParameters) {
  Response res = Handle(Verb::get, "/mem/ocr/jobs/8c1f7a52-0000-4000-8000-000000000001?x=y");
  ASSERT_EQ(res.result(), HttpStatus::ok);
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body["route"], "get");
  EXPECT_EQ(body["id"], "8c1f7a52-0000-4000-8000-000000000001");

  Router::Match m = router_.Find(Verb::delete_, "/mem/ocr/jobs/abc");
  ASSERT_EQ(m.outcome, Router::Outcome::kFound);
  EXPECT_EQ(m.params.Get("id"), "abc");
  EXPECT_TRUE(m.params.Has("id"));
  EXPECT_FALSE(m.params.Has("other"));
  EXPECT_EQ(m.pattern, "/mem/ocr/jobs/{id}");
}

TEST_F(RouterTest, LiteralSegmentBeatsParameter) {
  EXPECT_EQ(nlohmann::json::parse(Handle(Verb::get, "/mem/ocr/jobs/stats").body())["route"],
            "stats");
  // The literal pattern decides alone: DELETE is not allowed on it.
  Router::Match m = router_.Find(Verb::delete_, "/mem/ocr/jobs/stats");
  EXPECT_EQ(m.outcome, Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET");
}

TEST_F(RouterTest, UnknownPathIs404Json) {
  for (std::string_view target : {"/nope", "/mem/ocr/jobs/a/b", "/mem/ocr/jobs/", "/mem/ocr",
                                  "//", "/healthz/"}) {
    Response res = Handle(Verb::get, target);
    EXPECT_EQ(res.result(), HttpStatus::not_found) << target;
    EXPECT_EQ(res[Field::content_type], "application/json");
    auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["error"], "not_found");
    EXPECT_TRUE(body["message"].is_string());
  }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  Response res = Handle(Verb::get, "/mem/ocr/jobs");
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(res[Field::allow], "POST");
  EXPECT_EQ(nlohmann::json::parse(res.body())["error"], "method_not_allowed");

  res = Handle(Verb::put, "/mem/ocr/jobs/123");
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(res[Field::allow], "GET, DELETE");
  // HEAD is not special: not registered, not allowed.
  EXPECT_EQ(Handle(Verb::head, "/healthz").result(), HttpStatus::method_not_allowed);
}

TEST(RouterAddTest, RejectsBadPatternsAndDuplicates) {
  Router r;
  EXPECT_EQ(r.Add(Verb::get, "jobs", Echo("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add(Verb::get, "/jobs/{}", Echo("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add(Verb::get, "/jobs/{a-b}", Echo("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add(Verb::get, "/jobs/x{id}", Echo("x")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.Add(Verb::get, "/a/{id}/{id}", Echo("x")).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(r.Add(Verb::get, "/jobs/{id}", Echo("x")));
  EXPECT_EQ(r.Add(Verb::get, "/jobs/{id}", Echo("x")).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(r.Add(Verb::post, "/jobs/{name}", Echo("x")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(r.Add(Verb::post, "/jobs/{id}", Echo("x")));
}

TEST_F(RouterTest, ObserverSeesPatternAndStatus) {
  std::vector<std::pair<std::string, unsigned>> seen;
  router_.SetObserver([&](const Request&, std::string_view pattern, const Response& res,
                          std::chrono::steady_clock::duration elapsed) {
    EXPECT_GE(elapsed.count(), 0);
    seen.emplace_back(pattern, res.result_int());
  });
  Handle(Verb::get, "/mem/ocr/jobs/42?x=1");
  Handle(Verb::get, "/mem/ocr/jobs");
  Handle(Verb::get, "/nope");
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, unsigned>>{
                      {"/mem/ocr/jobs/{id}", 200}, {"/mem/ocr/jobs", 405}, {"", 404}}));
}

TEST(RouterAddTest, AsHandlerRoutes) {
  Router r;
  ASSERT_TRUE(r.Add(Verb::get, "/x", Echo("x")));
  Handler h = r.AsHandler();
  EXPECT_EQ(RunCoroutine(h(MakeRequest(Verb::get, "/x"))).result(), HttpStatus::ok);
  EXPECT_EQ(RunCoroutine(h(MakeRequest(Verb::get, "/y"))).result(), HttpStatus::not_found);
}

TEST(JsonResponseTest, ErrorShapeAndHeaders) {
  Response res = JsonError(HttpStatus::payload_too_large, "body_too_large", "too \"big\"\n");
  EXPECT_EQ(res.result(), HttpStatus::payload_too_large);
  EXPECT_EQ(res[Field::content_type], "application/json");
  EXPECT_EQ(res[Field::content_length], std::to_string(res.body().size()));
  auto body = nlohmann::json::parse(res.body());
  EXPECT_EQ(body, (nlohmann::json{{"error", "body_too_large"}, {"message", "too \"big\"\n"}}));
  // Invalid UTF-8 is replaced, not thrown.
  EXPECT_NO_THROW(JsonError(HttpStatus::bad_request, "bad", std::string("\xff\xfe", 2)));
}

TEST(RunBlockingTest, RunsOnThePoolAndResumesOnTheCallersThread) {
  net::thread_pool pool(1);
  std::thread::id pool_thread, resumed_thread;
  auto coroutine = [&]() -> net::awaitable<int> {
    int v = co_await RunBlocking(pool, [&] {
      pool_thread = std::this_thread::get_id();
      return 41;
    });
    co_await RunBlocking(pool, [] {});  // void
    resumed_thread = std::this_thread::get_id();
    co_return v + 1;
  };
  EXPECT_EQ(RunCoroutine(coroutine()), 42);
  EXPECT_NE(pool_thread, std::this_thread::get_id());
  EXPECT_EQ(resumed_thread, std::this_thread::get_id());
  pool.join();
}

TEST(RunBlockingTest, PropagatesExceptionsAndMoveOnlyResults) {
  net::thread_pool pool(1);
  auto throwing = [&]() -> net::awaitable<int> {
    co_return co_await RunBlocking(pool, []() -> int { throw std::runtime_error("boom"); });
  };
  EXPECT_THROW(RunCoroutine(throwing()), std::runtime_error);
  auto move_only = [&]() -> net::awaitable<std::unique_ptr<int>> {
    co_return co_await RunBlocking(pool, [] { return std::make_unique<int>(7); });
  };
  EXPECT_EQ(*RunCoroutine(move_only()), 7);
  pool.join();
}

}  // namespace
}  // namespace mqlab::http
