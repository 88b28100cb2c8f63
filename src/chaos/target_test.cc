#include "chaos/target.h"

#include <gtest/gtest.h>

namespace mqlab::chaos {
namespace {

std::vector<std::string> Ids(const ChaosOptions& o) {
  auto t = PlanTargets(o);
  EXPECT_TRUE(t) << t.error().message;
  std::vector<std::string> ids;
  for (const Target& x : t.value_or(std::vector<Target>{})) ids.push_back(x.id);
  return ids;
}

TEST(ChaosTargetsTest, RedisDurableChoosesTheRedisRuns) {
  ChaosOptions o;
  o.backends = {"redis"};
  o.redis_durable = "both";
  EXPECT_EQ(Ids(o), (std::vector<std::string>{"redis", "redis-volatile"}));
  o.redis_durable = "off";
  EXPECT_EQ(Ids(o), (std::vector<std::string>{"redis-volatile"}));
  o.redis_durable = "on";
  EXPECT_EQ(Ids(o), (std::vector<std::string>{"redis"}));
}

TEST(ChaosTargetsTest, EveryBackendMapsToItsVersionAndServer) {
  ChaosOptions o;
  o.redis_durable = "off";
  auto t = PlanTargets(o);
  ASSERT_TRUE(t);
  ASSERT_EQ(t->size(), 5u);
  EXPECT_EQ((*t)[0].version, "mem");
  EXPECT_EQ((*t)[0].server, "");
  EXPECT_EQ((*t)[1].version, "v3");
  EXPECT_EQ((*t)[2].server, "redis-volatile");
  EXPECT_FALSE((*t)[2].durable);
  EXPECT_EQ((*t)[3].version, "v5");
  EXPECT_EQ((*t)[4].version, "v6");
}

TEST(ChaosTargetsTest, ValidateNamesTheFlag) {
  ChaosOptions o;
  o.backends = {"mem", "nats"};
  auto s = o.Validate();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("--backends"), std::string::npos);
  o.backends = {"mem"};
  EXPECT_TRUE(o.Validate());
  o.redis_durable = "maybe";
  EXPECT_FALSE(o.Validate());
  o.redis_durable = "on";
  o.kill_every = 0.1;
  EXPECT_FALSE(o.Validate());
}

}  // namespace
}  // namespace mqlab::chaos
