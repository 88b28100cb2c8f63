// The store conformance suite on PostgreSQL, plus what only PostgreSQL has: the pool, schemas,
// and migrations racing between processes. Each case works in a schema of its own, dropped after.
#include "store/postgres/pg_store.h"

#include <gtest/gtest.h>

#include <latch>
#include <thread>

#include "store/store_conformance_test.h"
#include "tests/support/test_services.h"

namespace mqlab::store {
namespace {

using testing::JobStoreConformanceTest;

// Drops a test's schema (the store must be closed first).
void DropSchema(const std::string& url, const std::string& schema) {
  auto pool = PgPool::Create({.url = url, .pool_size = 1});
  ASSERT_TRUE(pool.has_value()) << pool.error().ToString();
  auto lease = (*pool)->Acquire();
  ASSERT_TRUE(lease.has_value()) << lease.error().ToString();
  auto quoted = (*lease)->QuoteIdentifier(schema);
  ASSERT_TRUE(quoted.has_value());
  std::string sql = "DROP SCHEMA IF EXISTS " + *quoted + " CASCADE";
  auto dropped = (*lease)->Exec(sql.c_str());
  EXPECT_TRUE(dropped.has_value()) << dropped.error().ToString();
}

class PgUnderTest final : public testing::StoreUnderTest {
 public:
  static Result<std::unique_ptr<testing::StoreUnderTest>> Make() {
    std::string url = mqlab::testing::TestPostgresUrl();
    if (url.empty()) return Unavailable("no PostgreSQL server (see the failure above)");
    auto sut = std::make_unique<PgUnderTest>(url, mqlab::testing::UniqueSchemaName("store"));
    auto store = PgStore::Open({.url = url, .schema = sut->schema_});
    if (!store) return std::unexpected(store.error());
    sut->store_ = std::move(*store);
    return sut;
  }
  PgUnderTest(std::string url, std::string schema)
      : url_(std::move(url)), schema_(std::move(schema)) {}
  ~PgUnderTest() override {
    if (!store_) return;  // never opened: nothing to drop
    store_.reset();
    DropSchema(url_, schema_);
  }
  JobStore& store() override { return *store_; }

 private:
  std::string url_;
  std::string schema_;
  std::unique_ptr<PgStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Postgres, JobStoreConformanceTest,
                         ::testing::Values(testing::StoreFactory{"Postgres", PgUnderTest::Make}),
                         testing::StoreFactoryName);

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = mqlab::testing::TestPostgresUrl();
    ASSERT_FALSE(url_.empty());
    schema_ = mqlab::testing::UniqueSchemaName("pgstore");
  }
  void TearDown() override {
    if (!url_.empty()) DropSchema(url_, schema_);
  }
  std::unique_ptr<PgPool> Pool(int size = 1, std::chrono::milliseconds timeout =
                                                 std::chrono::milliseconds(10000)) {
    auto pool = PgPool::Create(
        {.url = url_, .schema = schema_, .pool_size = size, .acquire_timeout = timeout});
    EXPECT_TRUE(pool.has_value()) << pool.error().ToString();
    return pool ? std::move(*pool) : nullptr;
  }
  std::string url_;
  std::string schema_;
};

TEST_F(PgStoreTest, ConcurrentOpensOfANewSchemaMigrateItOnce) {
  constexpr int kOpeners = 6;
  std::latch go(kOpeners);
  std::vector<Status> results(kOpeners, Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      auto store = PgStore::Open({.url = url_, .schema = schema_, .pool_size = 1});
      results[i] = store ? Ok() : Status(std::unexpected(store.error()));
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r.has_value()) << r.error().ToString();
  auto pool = Pool();
  ASSERT_TRUE(pool);
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.has_value());
  // Each migration recorded once: versions 1..N, N rows.
  auto rows = (*lease)->Exec("SELECT count(*), max(version) FROM mqlab_schema_version");
  ASSERT_TRUE(rows.has_value()) << rows.error().ToString();
  EXPECT_GE(PgInt(rows->get(), 0, 1), 1);
  EXPECT_EQ(PgInt(rows->get(), 0, 0), PgInt(rows->get(), 0, 1));
}

TEST_F(PgStoreTest, RefusesASchemaFromANewerVersion) {
  ASSERT_TRUE(PgStore::Open({.url = url_, .schema = schema_}).has_value());
  {
    auto pool = Pool();
    ASSERT_TRUE(pool);
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.has_value());
    ASSERT_TRUE((*lease)->Exec("INSERT INTO mqlab_schema_version (version) VALUES (999)"));
  }
  auto store = PgStore::Open({.url = url_, .schema = schema_});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition) << store.error().ToString();
}

TEST_F(PgStoreTest, AnyCharacterInASchemaNameIsSafe) {
  // Quotes, a space and a semicolon, plus the unique tail of the name SetUp chose.
  schema_ = "we'ird \"s\"; " + schema_.substr(schema_.size() > 24 ? schema_.size() - 24 : 0);
  auto store = PgStore::Open({.url = url_, .schema = schema_});
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  Job job;
  job.id = NewJobId();
  job.version = "v3";
  job.input_path = "a'; DROP TABLE mqlab_jobs; --.png";
  ASSERT_TRUE((*store)->Create(job).has_value());
  auto got = (*store)->Get(job.id);
  ASSERT_TRUE(got.has_value()) << got.error().ToString();
  EXPECT_EQ(got->input_path, job.input_path);
}

TEST_F(PgStoreTest, AcquireTimesOutAsUnavailableWhenThePoolIsBusy) {
  auto pool = Pool(1, std::chrono::milliseconds(100));
  ASSERT_TRUE(pool);
  auto held = pool->Acquire();
  ASSERT_TRUE(held.has_value());
  auto second = pool->Acquire();
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable) << second.error().ToString();
}

TEST_F(PgStoreTest, ABrokenConnectionIsReplaced) {
  auto pool = Pool(1);
  auto killer = Pool(1);
  ASSERT_TRUE(pool && killer);
  int victim = 0;
  {
    auto lease = pool->Acquire();
    ASSERT_TRUE(lease.has_value());
    victim = PQbackendPID((*lease)->get());
    auto k = killer->Acquire();
    ASSERT_TRUE(k.has_value());
    auto killed = (*k)->Exec("SELECT pg_terminate_backend($1::integer)", PgParams().Int(victim));
    ASSERT_TRUE(killed.has_value()) << killed.error().ToString();
    auto r = (*lease)->Exec("SELECT 1");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kUnavailable) << r.error().ToString();
  }
  auto lease = pool->Acquire();
  ASSERT_TRUE(lease.has_value()) << lease.error().ToString();
  EXPECT_NE(PQbackendPID((*lease)->get()), victim);
  auto r = (*lease)->Exec("SELECT current_schema()");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
}

}  // namespace
}  // namespace mqlab::store
