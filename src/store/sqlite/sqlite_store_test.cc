#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "store/store_conformance_test.h"
#include "tests/support/temp_dir.h"

namespace mqlab::store {
namespace {

using testing::JobStoreConformanceTest;

// A store on a fresh file in its own temporary folder (a real file: WAL needs one).
class SqliteUnderTest final : public testing::StoreUnderTest {
 public:
  static Result<std::unique_ptr<testing::StoreUnderTest>> Make() {
    auto sut = std::make_unique<SqliteUnderTest>();
    auto store = SqliteStore::Open({.path = (sut->dir_.path() / "jobs.db").string()});
    if (!store) return std::unexpected(store.error());
    sut->store_ = std::move(*store);
    return sut;
  }
  JobStore& store() override { return *store_; }

 private:
  mqlab::testing::TempDir dir_{"sqlite-store"};
  std::unique_ptr<SqliteStore> store_;  // closed before dir_ is removed
};

INSTANTIATE_TEST_SUITE_P(Sqlite, JobStoreConformanceTest,
                         ::testing::Values(testing::StoreFactory{"Sqlite", SqliteUnderTest::Make}),
                         testing::StoreFactoryName);

TEST(SqliteStoreTest, ReopenKeepsJobsAndSchema) {
  mqlab::testing::TempDir dir("sqlite-reopen");
  const std::string path = (dir.path() / "jobs.db").string();
  Job job;
  job.id = NewJobId();
  job.version = "mem";
  job.input_path = "a.png";
  {
    auto store = SqliteStore::Open({.path = path});
    ASSERT_TRUE(store.has_value()) << store.error().ToString();
    ASSERT_TRUE((*store)->Create(job).has_value());
  }
  auto store = SqliteStore::Open({.path = path});
  ASSERT_TRUE(store.has_value()) << store.error().ToString();
  auto got = (*store)->Get(job.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->input_path, "a.png");
}

TEST(SqliteStoreTest, OpenFailsClearlyOnABadPath) {
  auto store = SqliteStore::Open({.path = "/nonexistent-folder/x/jobs.db"});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(store.error().message.find("/nonexistent-folder/x/jobs.db"), std::string::npos)
      << store.error().message;
  EXPECT_EQ(SqliteStore::Open({}).error().code, ErrorCode::kInvalidArgument);
}

TEST(SqliteStoreTest, RefusesADatabaseFromANewerVersion) {
  mqlab::testing::TempDir dir("sqlite-newer");
  const std::string path = (dir.path() / "jobs.db").string();
  ASSERT_TRUE(SqliteStore::Open({.path = path}).has_value());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 0)", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto store = SqliteStore::Open({.path = path});
  ASSERT_FALSE(store.has_value());
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition) << store.error().ToString();
}

}  // namespace
}  // namespace mqlab::store
