#include "report/overload_table.h"

#include <gtest/gtest.h>

#include "overload/overload.h"
#include "report/report.h"
#include "report/report_test_util.h"
#include "tests/support/temp_dir.h"

namespace mqlab::report {
namespace {

using nlohmann::json;

json OverloadDoc() {
  return json::parse(R"({
    "schema": "mqlab.overload/1",
    "parameters": {"multiple": 3, "burstSeconds": 120, "beforeSeconds": 10, "afterSeconds": 30,
                   "workers": 2, "serviceMs": 20, "probeIntervalMs": 500, "sloP99Ms": 2000},
    "runs": [
      {"version": "mem", "backpressure": "on",
       "figures": {"rssMb": {"baseline": 18.2, "burstMax": 18.9, "burstSecondHalfGrowthPerMin": 0.4},
                   "acceptedP99Ms": 1109, "lastBurstProbeP50Ms": null, "probesUnfinished": 0,
                   "rejections": {"byStatus": {"202": 12000, "429": 23000}, "burstShare": 0.64,
                                  "probesRejected": 150, "probesWithRetryAfter": 150},
                   "recoverySeconds": 2.0, "survived": true},
       "verdict": {"asExpected": true}},
      {"version": "v1", "backpressure": "off",
       "figures": {"rssMb": {"baseline": 20, "burstMax": 31, "burstSecondHalfGrowthPerMin": 5.2},
                   "acceptedP99Ms": 9966, "lastBurstProbeP50Ms": 10996, "probesUnfinished": 3,
                   "rejections": {"byStatus": {"200": 9000}, "burstShare": 0,
                                  "probesRejected": 0, "probesWithRetryAfter": 0},
                   "recoverySeconds": null, "survived": true},
       "verdict": {"asExpected": true}},
      {"version": "v4", "backpressure": "on", "error": "redis did not start"}
    ]})");
}

TEST(OverloadTableTest, OneRowPerRun) {
  Table t = OverloadTable(OverloadDoc());
  EXPECT_EQ(t.id, "overload");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][2], "18 → 19");
  EXPECT_EQ(t.rows[0][3], "+0.4");
  EXPECT_EQ(t.rows[0][5], "23000 / 0");
  EXPECT_EQ(t.rows[0][6], "64 %");
  EXPECT_EQ(t.rows[0][7], "150 (150)");
  EXPECT_EQ(t.rows[0][8], "all rejected");
  EXPECT_EQ(t.rows[0][9], "2.0");
  EXPECT_EQ(t.rows[1][8], "10996 (3 probes unfinished)");
  EXPECT_EQ(t.rows[1][9], "not back");
  EXPECT_NE(t.rows[2].back().find("redis did not start"), std::string::npos);
  EXPECT_NE(t.title.find("3× capacity for 120 s"), std::string::npos) << t.title;
  EXPECT_NE(overload::OverloadMarkdown(OverloadDoc()).find("| mem | on |"), std::string::npos);
}

TEST(OverloadTableTest, StudyReportGainsTheTableWhenOverloadJsonLiesBesideIt) {
  mqlab::testing::TempDir dir("overload-table");
  testing::WriteText(dir.path() / kResultsFile, testing::Fixture().dump());
  ASSERT_TRUE(RenderReport(dir.path()));
  EXPECT_EQ(testing::ReadText(dir.path() / kSummaryFile).find("Overload:"), std::string::npos);
  testing::WriteText(dir.path() / kOverloadFile, OverloadDoc().dump());
  ASSERT_TRUE(RenderReport(dir.path()));
  const std::string md = testing::ReadText(dir.path() / kSummaryFile);
  EXPECT_NE(md.find("## Overload: 3× capacity for 120 s"), std::string::npos) << md;
  EXPECT_NE(md.find("10996 (3 probes unfinished)"), std::string::npos) << md;
  EXPECT_NE(testing::ReadText(dir.path() / kHtmlFile).find("Overload: 3×"), std::string::npos);
}

}  // namespace
}  // namespace mqlab::report
