// The launcher against a real RabbitMQ node: up, up again (finds it), serve, down (node and
// epmd gone, ports free), up again on the same port with the data kept.
#include <gtest/gtest.h>

#include <fstream>

#include "mqlab/domain/job.h"
#include "queue/rabbitmq/rabbitmq_queue.h"
#include "services/process.h"
#include "services/rabbitmq_service.h"
#include "services/service_set.h"
#include "tests/support/temp_dir.h"

namespace mqlab::services {
namespace {

int ReadPort(const std::filesystem::path& file) {
  std::ifstream in(file);
  int port = 0;
  in >> port;
  return port;
}

queue::Message NewMessage() {
  queue::Message m;
  m.job_id = NewJobId();
  m.enqueued_at = Clock::Real().Now();
  return m;
}

TEST(RabbitMqServiceTest, UpFindsItselfServesAndDownLeavesNothing) {
  mqlab::testing::TempDir dir("rmq-service");
  const auto started = std::chrono::steady_clock::now();
  auto up = UpServices(dir.path(), {"rabbitmq"});
  ASSERT_TRUE(up.has_value()) << up.error().ToString();
  RecordProperty("start_ms", static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - started)
                                                  .count()));
  ASSERT_EQ(up->size(), 1u);
  const std::string url = (*up)[0].url;
  // Whatever happens below, stop exactly this node (and its epmd) before the folder goes.
  struct Guard {
    const std::filesystem::path& dir;
    ~Guard() { (void)DownServices(dir, {"rabbitmq"}); }
  } guard{dir.path()};
  RabbitMqService service;
  auto status = service.GetStatus(dir.path());
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->running) << status->detail;
  const int pid = status->pid;
  const int port = status->port;
  const int epmd_pid = RabbitMqService::EpmdPid(dir.path());
  const int dist_port = ReadPort(dir.path() / "rabbitmq" / "dist_port");
  const int epmd_port = ReadPort(dir.path() / "rabbitmq" / "epmd_port");
  EXPECT_EQ(url, RabbitMqService::UrlForPort(port));
  EXPECT_TRUE(IsAlive(pid));
  EXPECT_TRUE(IsAlive(epmd_pid));
  EXPECT_NE(pid, epmd_pid);
  EXPECT_FALSE(IsLoopbackPortFree(dist_port));
  EXPECT_FALSE(IsLoopbackPortFree(epmd_port));

  auto env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  EXPECT_EQ((*env)["MQLAB_AMQP_URL"], url);

  // A second `up` finds the running node instead of starting another.
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, url);
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid);
  EXPECT_EQ(RabbitMqService::EpmdPid(dir.path()), epmd_pid);

  // It serves AMQP: a durable queue with one persistent message, kept for the restart below.
  const queue::Message kept = NewMessage();
  {
    auto q = queue::RabbitMqQueue::Open({.url = url, .name = "launcher_check"});
    ASSERT_TRUE(q) << q.error().ToString();
    ASSERT_TRUE((*q)->Enqueue(kept));
    EXPECT_EQ((*q)->Depth().value_or(-1), 1);
  }

  auto down = DownServices(dir.path(), {"rabbitmq"});
  ASSERT_TRUE(down.has_value()) << down.error().ToString();
  EXPECT_FALSE(IsAlive(pid));
  EXPECT_FALSE(IsAlive(epmd_pid)) << "epmd outlives the node unless stopped by its PID";
  EXPECT_TRUE(IsLoopbackPortFree(port));
  EXPECT_TRUE(IsLoopbackPortFree(dist_port));
  EXPECT_TRUE(IsLoopbackPortFree(epmd_port));
  EXPECT_FALSE(service.IsRunning(dir.path()));
  EXPECT_EQ(service.Url(dir.path()).error().code, ErrorCode::kNotFound);
  env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value());
  EXPECT_FALSE(env->contains("MQLAB_AMQP_URL"));
  EXPECT_TRUE(service.Stop(dir.path()).has_value());  // stopping twice is fine

  // Up again: the same port (so the same URL) and the same data.
  auto restarted = service.Start(dir.path());
  ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  EXPECT_EQ(*restarted, url);
  {
    auto q = queue::RabbitMqQueue::Open({.url = url, .name = "launcher_check"});
    ASSERT_TRUE(q) << q.error().ToString();
    auto d = (*q)->Receive({.timeout = std::chrono::milliseconds(5000)});
    ASSERT_TRUE(d) << d.error().ToString();
    ASSERT_NE(*d, nullptr) << "the persistent message did not survive the restart";
    EXPECT_EQ((*d)->message().job_id, kept.job_id);
    ASSERT_TRUE((*d)->Ack());
  }
  const int new_pid = service.GetStatus(dir.path())->pid;
  const int new_epmd = RabbitMqService::EpmdPid(dir.path());
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
  EXPECT_FALSE(IsAlive(new_pid));
  EXPECT_FALSE(IsAlive(new_epmd));
}

}  // namespace
}  // namespace mqlab::services
