// The launcher against a real PostgreSQL: up, up again (finds it), query, down, and nothing left.
#include "services/postgres_service.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>

#include "services/process.h"
#include "services/service_set.h"
#include "tests/support/temp_dir.h"

namespace mqlab::services {
namespace {

// Runs one query and returns the first value, "" on any failure (with a test failure).
std::string QueryOne(const std::string& url, const char* sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    ADD_FAILURE() << "connect " << url << ": " << PQerrorMessage(conn.get());
    return "";
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), sql), PQclear);
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn.get());
    return "";
  }
  return PQgetvalue(r.get(), 0, 0);
}

TEST(PostgresServiceTest, UpFindsItselfServesAndDownLeavesNothing) {
  mqlab::testing::TempDir dir("pg-service");
  auto up = UpServices(dir.path(), {"postgres"});
  ASSERT_TRUE(up.has_value()) << up.error().ToString();
  ASSERT_EQ(up->size(), 1u);
  const std::string url = (*up)[0].url;
  PostgresService service;
  auto status = service.GetStatus(dir.path());
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(status->running) << status->detail;
  const int pid = status->pid;
  const int port = status->port;
  EXPECT_GT(pid, 0);
  EXPECT_EQ(url, PostgresService::UrlForPort(port));
  EXPECT_TRUE(IsAlive(pid));
  // Whatever happens below, stop exactly this server before the folder goes.
  struct Guard {
    const std::filesystem::path& dir;
    ~Guard() { (void)DownServices(dir, {"postgres"}); }
  } guard{dir.path()};

  auto env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value()) << env.error().ToString();
  EXPECT_EQ((*env)["MQLAB_POSTGRES_URL"], url);

  // A second `up` finds the running server instead of starting another.
  auto again = service.Start(dir.path());
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(*again, url);
  EXPECT_EQ(service.GetStatus(dir.path())->pid, pid);

  EXPECT_EQ(QueryOne(url, "SELECT 40 + 2"), "42");
  EXPECT_EQ(QueryOne(url, "SHOW max_connections"), "200");
  EXPECT_EQ(QueryOne(url, "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(QueryOne(url, "SHOW fsync"), "on");

  auto down = DownServices(dir.path(), {"postgres"});
  ASSERT_TRUE(down.has_value()) << down.error().ToString();
  EXPECT_FALSE(IsAlive(pid));
  EXPECT_TRUE(IsLoopbackPortFree(port));
  EXPECT_FALSE(service.IsRunning(dir.path()));
  EXPECT_EQ(service.Url(dir.path()).error().code, ErrorCode::kNotFound);
  env = ReadEnvFile(ServicesEnvPath(dir.path()));
  ASSERT_TRUE(env.has_value());
  EXPECT_FALSE(env->contains("MQLAB_POSTGRES_URL"));
  EXPECT_TRUE(service.Stop(dir.path()).has_value());  // stopping twice is fine

  // The data is kept: up again reuses the cluster (no initdb) on a new port.
  auto restarted = service.Start(dir.path());
  ASSERT_TRUE(restarted.has_value()) << restarted.error().ToString();
  EXPECT_EQ(QueryOne(*restarted, "SELECT 1"), "1");
  ASSERT_TRUE(service.Stop(dir.path()).has_value());
}

}  // namespace
}  // namespace mqlab::services
