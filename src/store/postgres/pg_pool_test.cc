#include "store/postgres/pg_pool.h"

#include <gtest/gtest.h>

#include "services/process.h"

namespace mqlab::store {
namespace {

TEST(RedactPgUrlTest, HidesPasswordsOnly) {
  EXPECT_EQ(RedactPgUrl("postgresql://u:secret@h:5432/db"), "postgresql://u:***@h:5432/db");
  EXPECT_EQ(RedactPgUrl("postgres://u:p%40ss@h/db?sslmode=disable"),
            "postgres://u:***@h/db?sslmode=disable");
  EXPECT_EQ(RedactPgUrl("postgresql://postgres@127.0.0.1:5433/postgres"),
            "postgresql://postgres@127.0.0.1:5433/postgres");
  EXPECT_EQ(RedactPgUrl("postgresql://h/db?user=u&password=secret&x=1"),
            "postgresql://h/db?user=u&password=***&x=1");
  EXPECT_EQ(RedactPgUrl("host=h password=secret user=u"), "host=h password=*** user=u");
  EXPECT_EQ(RedactPgUrl("host=h password = 'se cret' user=u"), "host=h password = *** user=u");
}

TEST(PgPoolTest, AMissingServerFailsFastWithAdvice) {
  auto port = services::FreeLoopbackPort();
  ASSERT_TRUE(port.has_value());
  std::string url = "postgresql://me:secret@127.0.0.1:" + std::to_string(*port) + "/db";
  auto start = std::chrono::steady_clock::now();
  auto pool = PgPool::Create({.url = url});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  ASSERT_FALSE(pool.has_value());
  const Error& e = pool.error();
  EXPECT_EQ(e.code, ErrorCode::kUnavailable);
  EXPECT_NE(e.message.find("me:***@127.0.0.1"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("secret"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("mqlab services up postgres"), std::string::npos) << e.message;
}

TEST(PgPoolTest, RejectsBadOptions) {
  EXPECT_EQ(PgPool::Create({}).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(PgPool::Create({.url = "postgresql://h/db", .pool_size = 0}).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace mqlab::store
