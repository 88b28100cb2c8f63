#include "report/compare.h"

#include <gtest/gtest.h>

#include <regex>

#include "report/report_test_util.h"

namespace mqlab::report {
namespace {

using nlohmann::json;
using testing::Fixture;

Report Read(const json& doc) {
  auto r = ParseResults(doc);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : Report{};
}

// True when `text` has a line matching `pattern` (columns separated by 2+ spaces).
bool HasLine(const std::string& text, const std::string& pattern) {
  return std::regex_search(text, std::regex("(^|\n)" + pattern + "(\n|$)"));
}

TEST(CompareTest, ShowsTheChangeOfBreakingPointAndP99PerCellInBoth) {
  json a = Fixture();
  json b = Fixture();
  b["parameters"]["serviceMs"] = 25;
  b["cells"][2]["breakingPoint"]["offeredRps"] = 100.0;  // v3-w2-on: 80 → 100
  b["cells"][2]["breakingPoint"]["multiple"] = 1.0;
  b["cells"][2]["steps"][1]["endToEnd"]["p99"] = 80.5;  // 161 → 80.5 at 0.8×
  b["cells"][0]["steps"][2]["multiple"] = 3.0;          // v0-w2-on: no 2× rung in B
  b["cells"].erase(3);                                  // v3-w2-off only in A
  std::string out = RenderComparison(Read(a), Read(b), "runs/a", "runs/b");

  EXPECT_NE(out.find("A runs/a: started 2026-11-25T19:00:00.000Z, profile quick, mqlab 0.1.0, "
                     "4 cells\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Parameters differ:\n  serviceMs 20 → 25\n"), std::string::npos) << out;
  EXPECT_TRUE(
      HasLine(out, "Cell +A \\(jobs/s\\) +B \\(jobs/s\\) +Change +A × capacity +B × capacity"))
      << out;
  EXPECT_TRUE(HasLine(out, "v3-w2-on +80 +100 +\\+25% +0\\.8 +1")) << out;
  EXPECT_TRUE(HasLine(out, "v0-w2-off +80 +80 +±0% +0\\.8 +0\\.8")) << out;
  EXPECT_TRUE(HasLine(out, "v3-w2-on +0\\.8× +161 +80\\.5 +−50%")) << out;
  EXPECT_TRUE(HasLine(out, "v0-w2-on +0\\.5× +31\\.2 +31\\.2 +±0%")) << out;
  EXPECT_FALSE(HasLine(out, "v0-w2-on +2× .*")) << out;  // not a matching multiple
  EXPECT_TRUE(HasLine(out, "v0-w2-off +2× +10000 +10000 +±0%")) << out;
  EXPECT_EQ(out.find("v3-w2-off  "), std::string::npos);
  EXPECT_NE(out.find("Only in A: v3-w2-off\n"), std::string::npos) << out;
}

TEST(CompareTest, SaysWhenNoCellIsInBothRuns) {
  json a = Fixture();
  json b = Fixture();
  for (json& c : b["cells"]) c["id"] = "mem-" + c["id"].get<std::string>();
  std::string out = RenderComparison(Read(a), Read(b), "a", "b");
  EXPECT_NE(out.find("No cell is in both runs."), std::string::npos) << out;
  EXPECT_NE(out.find("Only in B: mem-v0-w2-on"), std::string::npos) << out;
}

}  // namespace
}  // namespace mqlab::report
