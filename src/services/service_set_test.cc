#include "services/service_set.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace mqlab::services {
namespace {

TEST(ServiceRegistryTest, FindsServicesByName) {
  auto names = ServiceNames();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "postgres");
  auto pg = MakeService("postgres");
  ASSERT_TRUE(pg.has_value());
  EXPECT_EQ((*pg)->name(), "postgres");
  EXPECT_EQ((*pg)->env_var(), "MQLAB_POSTGRES_URL");
  auto unknown = MakeService("mongodb");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_NE(unknown.error().message.find("postgres"), std::string::npos);
}

TEST(EnvFileTest, RoundTripsAndKeepsOtherLines) {
  mqlab::testing::TempDir dir("envfile");
  const auto file = ServicesEnvPath(dir.path());
  EXPECT_EQ(ReadEnvFile(file).error().code, ErrorCode::kNotFound);
  std::map<std::string, std::string> vars = {
      {"MQLAB_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5433/postgres"},
      {"MQLAB_REDIS_URL", "redis://127.0.0.1:6380"}};
  ASSERT_TRUE(WriteEnvFile(file, vars).has_value());
  auto back = ReadEnvFile(file);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(*back, vars);
}

TEST(EnvFileTest, AcceptsCommentsAndBlanksRejectsGarbage) {
  mqlab::testing::TempDir dir("envfile");
  const auto file = dir.path() / "x.env";
  std::ofstream(file) << "# comment\n\n  MQLAB_A = one=two \nMQLAB_B=\n";
  auto vars = ReadEnvFile(file);
  ASSERT_TRUE(vars.has_value()) << vars.error().ToString();
  EXPECT_EQ((*vars)["MQLAB_A"], "one=two");
  EXPECT_EQ((*vars)["MQLAB_B"], "");
  std::ofstream(file) << "MQLAB_A=1\nnot a line\n";
  auto bad = ReadEnvFile(file);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find(":2:"), std::string::npos) << bad.error().message;
}

TEST(ServiceSetTest, NothingStartedIsNotRunningAndDownIsANoOp) {
  mqlab::testing::TempDir dir("services");
  auto status = ServicesStatus(dir.path(), {"postgres"});
  ASSERT_TRUE(status.has_value()) << status.error().ToString();
  ASSERT_EQ(status->size(), 1u);
  EXPECT_FALSE((*status)[0].second.running);
  EXPECT_EQ((*status)[0].second.detail, "not started");
  EXPECT_TRUE(DownServices(dir.path(), {"postgres"}).has_value());
  EXPECT_EQ(UpServices(dir.path(), {"nosuch"}).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mqlab::services
