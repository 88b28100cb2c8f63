#include "chaos/accounting.h"

#include <gtest/gtest.h>

namespace mqlab::chaos {
namespace {

using std::chrono::milliseconds;

const WallTime kT0 = FromUnixMicros(1'700'000'000'000'000);

Job Finished(const std::string& id, JobStatus status, int attempts, milliseconds took) {
  Job j;
  j.id = id;
  j.status = status;
  j.attempts = attempts;
  j.created_at = kT0;
  j.finished_at = kT0 + took;
  return j;
}

Job Unfinished(const std::string& id, JobStatus status) {
  Job j;
  j.id = id;
  j.status = status;
  j.created_at = kT0;
  return j;
}

TEST(ChaosAccountingTest, CountsLostByWhatTheStoreSays) {
  std::map<std::string, Job> records;
  for (auto j : {Finished("a", JobStatus::kSuccess, 1, milliseconds(30)),
                 Finished("b", JobStatus::kFailed, 3, milliseconds(40)),
                 Unfinished("c", JobStatus::kPending), Unfinished("d", JobStatus::kRunning)}) {
    records[j.id] = j;
  }
  // "e" was accepted but the store does not know it; "z" is in the store but was never accepted
  // (its response was lost): not the client's promise, not counted.
  records["z"] = Unfinished("z", JobStatus::kPending);
  Accounting a = Account({"a", "b", "c", "d", "e"}, records, 0.02);
  EXPECT_EQ(a.accepted, 5);
  EXPECT_EQ(a.completed, 1);
  EXPECT_EQ(a.failed, 1);
  EXPECT_EQ(a.lost, 3);
  EXPECT_EQ(a.lost_by_status,
            (std::map<std::string, int64_t>{{"PENDING", 1}, {"RUNNING", 1}, {"missing", 1}}));
  EXPECT_EQ(a.lost_sample, (std::vector<std::string>{"c", "d", "e"}));
  EXPECT_EQ(a.run_more_than_once, 1);
  EXPECT_EQ(a.max_attempts_seen, 3);
}

TEST(ChaosAccountingTest, DuplicateAcceptedIdsCountOnce) {
  std::map<std::string, Job> records{{"a", Finished("a", JobStatus::kSuccess, 1, milliseconds(5))}};
  Accounting a = Account({"a", "a", "a"}, records, 0.0);
  EXPECT_EQ(a.accepted, 1);
  EXPECT_EQ(a.completed, 1);
  EXPECT_EQ(a.lost, 0);
}

TEST(ChaosAccountingTest, RecoveryWaitIsTimeBeyondServiceAndSeparatesRedeliveredJobs) {
  std::map<std::string, Job> records;
  for (auto j : {Finished("fast", JobStatus::kSuccess, 1, milliseconds(120)),
                 Finished("slow", JobStatus::kSuccess, 1, milliseconds(7100)),
                 Finished("rerun", JobStatus::kSuccess, 2, milliseconds(5100))}) {
    records[j.id] = j;
  }
  Accounting a = Account({"fast", "slow", "rerun"}, records, 0.1);
  EXPECT_NEAR(a.max_recovery_seconds, 7.0, 1e-9);
  EXPECT_NEAR(a.max_redelivered_wait_seconds, 5.0, 1e-9);
  EXPECT_NEAR(a.p99_wait_seconds, 7.0, 1e-9);
  EXPECT_EQ(a.run_more_than_once, 1);
}

TEST(ChaosAccountingTest, ShorterThanServiceTimeIsNoWait) {
  std::map<std::string, Job> records{{"a", Finished("a", JobStatus::kSuccess, 1, milliseconds(5))}};
  Accounting a = Account({"a"}, records, 0.02);
  EXPECT_EQ(a.max_recovery_seconds, 0.0);
}

TEST(ChaosAccountingTest, JsonCarriesTheContractFields) {
  std::map<std::string, Job> records{
      {"a", Finished("a", JobStatus::kSuccess, 2, milliseconds(1500))}};
  auto j = ToJson(Account({"a", "b"}, records, 0.5));
  EXPECT_EQ(j["accepted"], 2);
  EXPECT_EQ(j["completed"], 1);
  EXPECT_EQ(j["lost"], 1);
  EXPECT_EQ(j["duplicates"], 1);
  EXPECT_NEAR(j["maxRecoverySeconds"].get<double>(), 1.0, 1e-9);
}

}  // namespace
}  // namespace mqlab::chaos
