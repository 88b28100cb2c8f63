// The launcher against a real redis-server: up, up again (finds it), PING and its settings, down
// (PID gone, port free), restart on the same port with the data kept (AOF), and the non-durable
// variant.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <memory>

#include "services/process.h"
#include "services/redis_service.h"
#include "services/service_set.h"
#include "tests/support/temp_dir.h"

namespace mqlab::services {
namespace {

// Runs one command on 127.0.0.1:port; its reply as text (arrays joined by spaces), or "" with a
// test failure.
std::string Command(int port, std::vector<std::string> args) {
  timeval tv{2, 0};
  std::unique_ptr<redisContext, decltype(&redisFree)> c(
      redisConnectWithTimeout("127.0.0.1", port, tv), redisFree);
  if (!c || c->err != 0) {
    ADD_FAILURE() << "connect 127.0.0.1:" << port << ": " << (c ? c->errstr : "no memory");
    return "";
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  std::unique_ptr<redisReply, decltype(&freeReplyObject)> r(
      static_cast<redisReply*>(
          redisCommandArgv(c.get(), static_cast<int>(argv.size()), argv.data(), lens.data())),
      freeReplyObject);
  if (!r) {
    ADD_FAILURE() << args[0] << ": " << c->errstr;
    return "";
  }
  if (r->type == REDIS_REPLY_ARRAY) {
    std::string out;
    for (size_t i = 0; i < r->elements; ++i) {
      out += (i ? " " : "") + std::string(r->element[i]->str ? r->element[i]->str : "");
    }
    return out;
  }
  if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
  return r->str ? r->str : "";
}

TEST(RedisServiceTest, UpFindsItselfServesAndDownLeavesNothing) {
  mqlab::testing::TempDir dir("redis-service");
  const auto started = std::chrono::steady_clock::now();
  auto up = UpServices(dir.path(), {"redis"});
  ASSERT_TRUE(up.has_value()) << up.error().ToString();
  RecordProperty("up_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - started)
                                               .count()));
  ASSERT_EQ(up->size(), 1u);
  const std::string url = (*up)[0].url;
  RedisService service;
  auto status = service.GetStatus(dir.path());
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->running) << status->detail;
  const int pid = status->pid;
  const int port = status->port;
  EXPECT_EQ(url, RedisService::UrlForPort(port));
  EXPECT_NE(port, 6379) << "never the default port";
  EXPECT_TRUE(IsAlive(pid));
  struct Guard {
    const std::filesystem::path& dir;
    ~Guard() { (void)DownServices(dir, {"redis"}); }
  } guard{dir.path()};

  auto env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  EXPECT_EQ((*env)["MQLAB_REDIS_URL"], url);

  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, url);
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid) << "a second up must find the first server";

  EXPECT_EQ(Command(port, {"PING"}), "PONG");
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "bind"}), "bind 127.0.0.1");
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "appendonly"}), "appendonly yes");
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "appendfsync"}), "appendfsync everysec");
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "save"}), "save ") << "RDB snapshots are off";
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "daemonize"}), "daemonize no");
  EXPECT_EQ(Command(port, {"SET", "kept", "across-restarts"}), "OK");

  auto down = DownServices(dir.path(), {"redis"});
  ASSERT_TRUE(down.has_value()) << down.error().ToString();
  EXPECT_FALSE(IsAlive(pid));
  EXPECT_TRUE(IsLoopbackPortFree(port));
  EXPECT_FALSE(service.IsRunning(dir.path()));
  EXPECT_EQ(service.Url(dir.path()).error().code, ErrorCode::kNotFound);
  env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value());
  EXPECT_FALSE(env->contains("MQLAB_REDIS_URL"));
  EXPECT_TRUE(service.Stop(dir.path()).has_value()) << "stopping twice is fine";

  // Up again: same port, so the same URL, and the data back from the AOF.
  auto restarted = service.Start(dir.path());
  ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  EXPECT_EQ(*restarted, url);
  EXPECT_NE(service.GetStatus(dir.path())->pid, pid);
  EXPECT_EQ(Command(port, {"GET", "kept"}), "across-restarts");
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
}

TEST(RedisServiceTest, NonDurableRunsWithoutPersistenceAndForgetsOnRestart) {
  mqlab::testing::TempDir dir("redis-volatile");
  RedisService service({.durable = false});
  auto url = service.Start(dir.path());
  ASSERT_TRUE(url.has_value()) << url.error().ToString();
  const int port = service.GetStatus(dir.path())->port;
  struct Guard {
    RedisService& s;
    const std::filesystem::path& dir;
    ~Guard() { (void)s.Stop(dir); }
  } guard{service, dir.path()};
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "appendonly"}), "appendonly no");
  EXPECT_EQ(Command(port, {"CONFIG", "GET", "save"}), "save ");
  EXPECT_EQ(Command(port, {"SET", "lost", "on-restart"}), "OK");
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, *url);
  EXPECT_EQ(Command(port, {"EXISTS", "lost"}), "0");
}

TEST(RedisServiceTest, StaleRecordOfAKilledServerIsCleanedUp) {
  mqlab::testing::TempDir dir("redis-killed");
  RedisService service;
  auto url = service.Start(dir.path());
  ASSERT_TRUE(url.has_value()) << url.error().ToString();
  const int pid = service.GetStatus(dir.path())->pid;
  kill(pid, SIGKILL);
  ASSERT_TRUE(WaitGone(pid, std::chrono::seconds(10)));
  auto status = service.GetStatus(dir.path());
  ASSERT_TRUE(status.has_value());
  EXPECT_FALSE(status->running);
  EXPECT_NE(status->detail.find("stale"), std::string::npos) << status->detail;
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, *url);
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
}

}  // namespace
}  // namespace mqlab::services
