// The V3 queue without a server: option mapping, validation, array literals, and failing fast
// when no server answers. Everything else needs PostgreSQL: postgres_queue_integration_test.cc.
#include "queue/postgres/postgres_queue.h"

#include <gtest/gtest.h>

#include <chrono>

#include "queue/postgres/pg_queue_sql.h"

namespace mqlab::queue {
namespace {

TEST(PostgresQueueOptionsTest, TheDefaultNameIsTheStudysV3AndOthersAreTheirOwnQueue) {
  QueueOptions o;
  o.url = "postgresql://u@h/db";
  o.lease = std::chrono::milliseconds(1234);
  o.prefetch = 4;
  o.consumer_id = "c1";
  PostgresQueueOptions p = PostgresOptionsFrom(o);
  EXPECT_EQ(p.version, "v3");
  EXPECT_EQ(p.url, o.url);
  EXPECT_EQ(p.lease, o.lease);
  EXPECT_EQ(p.max_batch, 4);
  EXPECT_EQ(p.pool_size, 6);
  EXPECT_EQ(p.consumer_id, "c1");
  EXPECT_EQ(p.schema, "public");
  o.name = "mqlab_t_case_1";
  o.prefetch = 1;
  p = PostgresOptionsFrom(o);
  EXPECT_EQ(p.version, "mqlab_t_case_1");
  EXPECT_EQ(p.max_batch, 1);
  EXPECT_EQ(p.pool_size, 4);
}

TEST(PostgresQueueOptionsTest, ValidateRejectsNonsense) {
  EXPECT_TRUE(PostgresQueueOptions{}.Validate());
  EXPECT_FALSE((PostgresQueueOptions{.version = ""}.Validate()));
  EXPECT_FALSE((PostgresQueueOptions{.lease = std::chrono::milliseconds(0)}.Validate()));
  EXPECT_FALSE((PostgresQueueOptions{.poll_interval = std::chrono::milliseconds(0)}.Validate()));
  EXPECT_FALSE((PostgresQueueOptions{.max_batch = 0}.Validate()));
}

TEST(PgQueueSqlTest, ArrayLiteralsQuoteEveryElement) {
  EXPECT_EQ(pgq::ArrayLiteral({}), "{}");
  EXPECT_EQ(pgq::ArrayLiteral({"a", "b c"}), R"({"a","b c"})");
  EXPECT_EQ(pgq::ArrayLiteral({R"(q"u\o,t{e})"}), R"({"q\"u\\o,t{e}"})");
}

TEST(PostgresQueueTest, AMissingServerFailsFastAsUnavailable) {
  QueueOptions o;
  o.kind = "postgres";
  o.url = "postgresql://postgres@127.0.0.1:1/postgres";  // nothing listens on port 1
  const auto start = std::chrono::steady_clock::now();
  auto q = OpenPostgresQueue(o);
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code, ErrorCode::kUnavailable) << q.error().ToString();
  EXPECT_NE(q.error().message.find("mqlab services up postgres"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace mqlab::queue
