// The launcher against a real Kafka broker: up, up again (finds it), metadata, down, nothing left,
// and a restart on the same ports with the same data.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "services/kafka_service.h"
#include "services/process.h"
#include "services/service_set.h"
#include "tests/support/temp_dir.h"

namespace mqlab::services {
namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(KafkaServiceTest, UpFindsItselfServesDownLeavesNothingRestartKeepsPorts) {
  mqlab::testing::TempDir dir("kafka-service");
  auto up = UpServices(dir.path(), {"kafka"});
  ASSERT_TRUE(up.has_value()) << up.error().ToString();
  ASSERT_EQ(up->size(), 1u);
  const std::string url = (*up)[0].url;
  KafkaService service;
  // Whatever happens below, stop exactly this broker before the folder goes.
  struct Guard {
    KafkaService& service;
    const std::filesystem::path& dir;
    ~Guard() { (void)service.Stop(dir); }
  } guard{service, dir.path()};

  auto status = service.GetStatus(dir.path());
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->running) << status->detail;
  const int pid = status->pid;
  const int port = status->port;
  EXPECT_GT(pid, 0);
  EXPECT_EQ(url, KafkaService::UrlForPort(port));
  EXPECT_TRUE(IsAlive(pid));
  const std::filesystem::path root = dir.path() / "kafka";
  const std::string properties = ReadFile(root / "server.properties");
  EXPECT_NE(properties.find("process.roles=broker,controller"), std::string::npos);
  EXPECT_NE(properties.find("listeners=PLAINTEXT://127.0.0.1:" + std::to_string(port)),
            std::string::npos);
  int controller_port = 0;
  std::ifstream(root / "controller-port") >> controller_port;
  EXPECT_GT(controller_port, 0);
  EXPECT_NE(controller_port, port);
  EXPECT_FALSE(IsLoopbackPortFree(port));
  EXPECT_FALSE(IsLoopbackPortFree(controller_port));
  EXPECT_NE(ReadFile(root / "server.log").find("Kafka Server started"), std::string::npos)
      << "the broker logs to its own file";

  auto env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  EXPECT_EQ((*env)["MQLAB_KAFKA_BROKERS"], url);

  // A second `up` finds the running broker instead of starting another.
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, url);
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid);
  EXPECT_TRUE(KafkaService::ServesMetadata(url, std::chrono::seconds(5)));

  auto down = DownServices(dir.path(), {"kafka"});
  ASSERT_TRUE(down.has_value()) << down.error().ToString();
  EXPECT_FALSE(IsAlive(pid));
  EXPECT_TRUE(IsLoopbackPortFree(port));
  EXPECT_TRUE(IsLoopbackPortFree(controller_port));
  EXPECT_FALSE(service.IsRunning(dir.path()));
  EXPECT_EQ(service.Url(dir.path()).error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(KafkaService::ServesMetadata(url, std::chrono::milliseconds(300)));
  env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value());
  EXPECT_FALSE(env->contains("MQLAB_KAFKA_BROKERS"));
  EXPECT_TRUE(service.Stop(dir.path()).has_value());  // stopping twice is fine

  // Up again: the same storage (no second format), the same ports, so the same URL.
  const std::string meta = ReadFile(root / "data" / "meta.properties");
  auto restarted = service.Start(dir.path());
  ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  EXPECT_EQ(*restarted, url);
  EXPECT_EQ(ReadFile(root / "data" / "meta.properties"), meta) << "storage was formatted again";
  auto after = service.GetStatus(dir.path());
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(after->running);
  EXPECT_NE(after->pid, pid);
  int controller_port_after = 0;
  std::ifstream(root / "controller-port") >> controller_port_after;
  EXPECT_EQ(controller_port_after, controller_port);
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
  EXPECT_FALSE(IsAlive(after->pid));
}

TEST(KafkaServiceTest, MissingJarsSayHowToFetchThem) {
  mqlab::testing::TempDir dir("kafka-nojars");
  KafkaService service({.libs_dir = dir.path() / "nothing-here"});
  auto url = service.Start(dir.path());
  ASSERT_FALSE(url.has_value());
  EXPECT_EQ(url.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(url.error().message.find("kafka_2.13"), std::string::npos) << url.error().message;
}

}  // namespace
}  // namespace mqlab::services
