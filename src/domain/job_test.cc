#include "mqlab/domain/job.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

namespace mqlab {
namespace {

TEST(JobStatusTest, NamesRoundTrip) {
  for (JobStatus s : {JobStatus::kPending, JobStatus::kRunning, JobStatus::kSuccess,
                      JobStatus::kFailed}) {
    EXPECT_EQ(ParseJobStatus(JobStatusName(s)), s);
  }
  EXPECT_EQ(ParseJobStatus("pending"), std::nullopt);
  EXPECT_EQ(ParseJobStatus(""), std::nullopt);
}

TEST(JobStatusTest, TransitionTable) {
  using S = JobStatus;
  EXPECT_TRUE(CanTransition(S::kPending, S::kRunning));
  EXPECT_FALSE(CanTransition(S::kPending, S::kSuccess));
  EXPECT_FALSE(CanTransition(S::kPending, S::kFailed));
  EXPECT_TRUE(CanTransition(S::kRunning, S::kSuccess));
  EXPECT_TRUE(CanTransition(S::kRunning, S::kFailed));
  EXPECT_TRUE(CanTransition(S::kRunning, S::kPending));
  EXPECT_TRUE(CanTransition(S::kRunning, S::kRunning));
  for (S to : {S::kPending, S::kRunning, S::kSuccess, S::kFailed}) {
    EXPECT_FALSE(CanTransition(S::kSuccess, to));
    EXPECT_FALSE(CanTransition(S::kFailed, to));
  }
  EXPECT_TRUE(IsTerminal(S::kSuccess));
  EXPECT_TRUE(IsTerminal(S::kFailed));
  EXPECT_FALSE(IsTerminal(S::kRunning));
}

TEST(JobTest, JsonIsCamelCaseWithRfc3339Times) {
  Job job;
  job.id = "0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e";
  job.version = "mem";
  job.status = JobStatus::kSuccess;
  job.input_path = "images/a.png";
  job.output_path = "outputs/0b/x.json";
  job.attempts = 2;
  job.worker_id = "w-1";
  job.created_at = FromUnixMicros(1764089000123456);
  job.updated_at = job.created_at;
  job.finished_at = FromUnixMicros(1764089001000000);
  nlohmann::json j = ToJson(job);
  EXPECT_EQ(j["id"], job.id);
  EXPECT_EQ(j["status"], "SUCCESS");
  EXPECT_EQ(j["inputPath"], "images/a.png");
  EXPECT_EQ(j["outputPath"], "outputs/0b/x.json");
  EXPECT_EQ(j["attempts"], 2);
  EXPECT_EQ(j["workerId"], "w-1");
  EXPECT_TRUE(j["errorMessage"].is_null());
  EXPECT_TRUE(j["startedAt"].is_null());
  EXPECT_EQ(j["createdAt"], "2025-11-25T16:43:20.123Z");
  EXPECT_EQ(j["finishedAt"], "2025-11-25T16:43:21.000Z");
}

TEST(JobIdTest, NewIdsAreValidUniqueV4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewJobId();
    ASSERT_TRUE(IsValidJobId(id)) << id;
    EXPECT_EQ(id[14], '4') << id;  // version nibble
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(JobIdTest, RejectsMalformedIds) {
  EXPECT_FALSE(IsValidJobId(""));
  EXPECT_FALSE(IsValidJobId("not-a-uuid"));
  EXPECT_FALSE(IsValidJobId("0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6"));    // short
  EXPECT_FALSE(IsValidJobId("0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6ez"));  // long
  EXPECT_FALSE(IsValidJobId("0b5d2c4e18f1a-4c3b-9d2e-1f0a9b8c7d6e"));   // dash missing
  EXPECT_FALSE(IsValidJobId("0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6g"));   // not hex
  EXPECT_TRUE(IsValidJobId("0B5D2C4E-8F1A-4C3B-9D2E-1F0A9B8C7D6E"));
}

}  // namespace
}  // namespace mqlab
