// `mqlab chaos` in a short form, as a process, with servers of its own: its private PostgreSQL,
// Redis (with AOF, and a second one without persistence), RabbitMQ and Kafka live in the test's
// own runtime folder, so restarting them never disturbs the fixture's servers that other
// integration tests share. Asserts the contract of issue 6: workers were killed and the servers
// restarted, every durable backend lost 0 accepted jobs, Redis without persistence loses the
// backlog its restart met (and says so), and clients got fast errors during the outages, never a
// hang.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab::chaos {
namespace {

using nlohmann::json;

class ChaosCommandTest : public ::testing::Test {
 protected:
  void TearDown() override {
    // Whatever happened, the servers this test's chaos run started are stopped (they are private
    // and would otherwise outlive the test).
    for (const auto& rt : {dir_.path() / "rt", dir_.path() / "rt" / "volatile"}) {
      testing::RunMqlab({"services", "down", "--runtime-dir", rt.string()},
                        std::chrono::seconds(120));
    }
  }
  testing::TempDir dir_{"chaos"};
};

const json* FindRun(const json& doc, const std::string& target) {
  for (const json& r : doc["runs"]) {
    if (r["target"] == target) return &r;
  }
  return nullptr;
}

TEST_F(ChaosCommandTest, ShortRunLosesNothingDurableAndFailsFast) {
  const auto out = dir_.path() / "out";
  auto res = testing::RunMqlab({"chaos",
                                "--backends",
                                "mem,postgres,redis,rabbitmq,kafka",
                                "--redis-durable",
                                "both",
                                "--seconds",
                                "10",
                                "--rate",
                                "30",
                                "--workers",
                                "3",
                                "--kill-every",
                                "2.5s",
                                "--drain-timeout",
                                "20",
                                "--seed",
                                "7",
                                "--out",
                                out.string(),
                                "--runtime-dir",
                                (dir_.path() / "rt").string()},
                               std::chrono::minutes(6));
  std::ifstream in(out / "chaos.json");
  ASSERT_TRUE(in) << "no chaos.json; exit " << res.exit_code << ":\n" << res.output;
  const json doc = json::parse(in);
  EXPECT_EQ(res.exit_code, 0) << res.output;
  EXPECT_TRUE(doc["complete"].get<bool>());
  ASSERT_EQ(doc["runs"].size(), 6u) << doc.dump(1);

  for (const json& r : doc["runs"]) {
    const std::string id = r["target"];
    SCOPED_TRACE(id);
    ASSERT_FALSE(r.contains("error")) << r["error"];
    const json& a = r["accounting"];
    EXPECT_GT(a["accepted"].get<int>(), 100) << "the load did not run";
    EXPECT_GE(r["kills"].get<int>(), 3) << "workers were not killed";
    if (id != "mem") {
      EXPECT_EQ(r["backendRestarts"].get<int>(), 1);
      EXPECT_EQ(r["storeRestarts"].get<int>(), 1);
    }
    if (r["durable"].get<bool>()) {
      EXPECT_EQ(a["lost"].get<int>(), 0) << a.dump();
      EXPECT_EQ(a["completed"].get<int>() + a["failed"].get<int>(), a["accepted"].get<int>());
    }
    for (const json& e : r["events"]) {
      if (e["kind"] == "kill -9") {
        EXPECT_TRUE(e.contains("replacement")) << e.dump();
      }
    }
    // No request hung past the client timeout (10 s), and errors came back fast: 503s during
    // the outages, refused connections while serve restarts. V6: while its broker restarts, one
    // submission per second (the producer's circuit-breaker probe) may wait the delivery timeout
    // (5 s); every other one fails at once.
    const json& c = r["clients"];
    EXPECT_EQ(c["hung"].get<int>(), 0) << c.dump();
    EXPECT_EQ(c["dropped"].get<int>(), 0) << c.dump();
    EXPECT_LT(c["slowestErrorSeconds"].get<double>(), id == "kafka" ? 6.0 : 2.0) << c.dump();
  }

  // Without persistence, the restart empties Redis: the queued jobs stay PENDING forever.
  const json* volatile_redis = FindRun(doc, "redis-volatile");
  ASSERT_NE(volatile_redis, nullptr);
  EXPECT_FALSE((*volatile_redis)["durable"].get<bool>());
  EXPECT_GT((*volatile_redis)["accounting"]["lost"].get<int>(), 0);
  EXPECT_GT((*volatile_redis)["accounting"]["lostByStatus"].value("PENDING", 0), 0);

  // The table says so.
  std::ifstream md(out / "chaos.md");
  std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("redis-volatile (v4)"), std::string::npos) << text;
  EXPECT_EQ(text.find("accepted jobs although configured durably"), std::string::npos) << text;
}

TEST_F(ChaosCommandTest, MisuseIsOneLineAndExitTwo) {
  auto res = testing::RunMqlab({"chaos", "--backends", "mem,nats", "--seconds", "1"});
  EXPECT_EQ(res.exit_code, 2);
  EXPECT_NE(res.output.find("unknown backend 'nats'"), std::string::npos) << res.output;
  res = testing::RunMqlab({"chaos", "--kill-every", "soon"});
  EXPECT_EQ(res.exit_code, 2);
  EXPECT_NE(res.output.find("--kill-every"), std::string::npos) << res.output;
}

}  // namespace
}  // namespace mqlab::chaos
