#include "report/stability.h"

#include <gtest/gtest.h>

#include "report/report.h"
#include "report/report_test_util.h"
#include "report/summary.h"
#include "tests/support/temp_dir.h"

namespace mqlab::report {
namespace {

using nlohmann::json;

json ChaosDoc() {
  return json::parse(R"({
    "schema": "mqlab.chaos/1",
    "parameters": {"rate": 40, "seconds": 60, "killEverySeconds": 5, "clientTimeoutSeconds": 5},
    "runs": [
      {"target": "redis", "version": "v4", "durable": true, "persistence": "Redis AOF",
       "kills": 11, "backendRestarts": 1, "storeRestarts": 1,
       "accounting": {"accepted": 2300, "completed": 2300, "lost": 0, "lostByStatus": {},
                      "runMoreThanOnce": 4, "maxRecoverySeconds": 6.96},
       "clients": {"outcomes": {"202": 2289, "503": 11}, "hung": 0, "slowestErrorSeconds": 0.0096}},
      {"target": "redis-volatile", "version": "v4", "durable": false, "persistence": "none",
       "kills": 11, "backendRestarts": 1, "storeRestarts": 1,
       "accounting": {"accepted": 2310, "completed": 2228, "lost": 82,
                      "lostByStatus": {"PENDING": 81, "RUNNING": 1},
                      "runMoreThanOnce": 1, "maxRecoverySeconds": 2.09},
       "clients": {"outcomes": {"202": 2310}, "hung": 0, "slowestErrorSeconds": 0}},
      {"target": "kafka", "version": "v6", "error": "kafka did not start"}
    ]})");
}

TEST(StabilityTableTest, OneRowPerTargetWithLossesExplained) {
  Table t = StabilityTable(ChaosDoc());
  EXPECT_EQ(t.id, "stability");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0], "redis (v4)");
  EXPECT_EQ(t.rows[0][2], "2300");
  EXPECT_EQ(t.rows[0][4], "0");
  EXPECT_EQ(t.rows[0][6], "6.96");
  EXPECT_EQ(t.rows[0][8], "1/1");
  EXPECT_EQ(t.rows[0][9], "503 ×11");
  EXPECT_EQ(t.rows[1][4], "82 (81 PENDING, 1 RUNNING)");
  EXPECT_EQ(t.rows[1][9], "none");
  EXPECT_EQ(t.rows[2][2], "—");
  EXPECT_NE(t.rows[2][9].find("kafka did not start"), std::string::npos);
  EXPECT_NE(t.caption.find("40/s for 60 s"), std::string::npos) << t.caption;
}

TEST(StabilityTableTest, StudyReportGainsTheTableWhenChaosJsonLiesBesideIt) {
  mqlab::testing::TempDir dir("stability");
  testing::WriteText(dir.path() / kResultsFile, testing::Fixture().dump());
  ASSERT_TRUE(RenderReport(dir.path()));
  EXPECT_EQ(testing::ReadText(dir.path() / kSummaryFile).find("Stability under faults"),
            std::string::npos);
  testing::WriteText(dir.path() / kChaosFile, ChaosDoc().dump());
  ASSERT_TRUE(RenderReport(dir.path()));
  const std::string md = testing::ReadText(dir.path() / kSummaryFile);
  EXPECT_NE(md.find("## Stability under faults"), std::string::npos) << md;
  EXPECT_NE(md.find("82 (81 PENDING, 1 RUNNING)"), std::string::npos) << md;
  EXPECT_NE(testing::ReadText(dir.path() / kHtmlFile).find("Stability under faults"),
            std::string::npos);
}

TEST(StabilityTableTest, LoadStabilityIgnoresOtherDocuments) {
  mqlab::testing::TempDir dir("stability");
  EXPECT_FALSE(LoadStability(dir.path()));
  testing::WriteText(dir.path() / kChaosFile, R"({"schema": "other/1"})");
  EXPECT_FALSE(LoadStability(dir.path()));
  testing::WriteText(dir.path() / kChaosFile, ChaosDoc().dump());
  EXPECT_TRUE(LoadStability(dir.path()));
}

}  // namespace
}  // namespace mqlab::report
