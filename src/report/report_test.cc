#include "report/report.h"

#include <gtest/gtest.h>

#include "report/report_test_util.h"
#include "tests/support/temp_dir.h"

namespace mqlab::report {
namespace {

using nlohmann::json;
using testing::Fixture;
using testing::ReadText;
using testing::WriteText;

TEST(ReportTest, WritesTheSummaryAndThePage) {
  mqlab::testing::TempDir dir("report");
  auto out = dir.path() / "run";  // created if missing
  ASSERT_TRUE(WriteReport(Fixture(), out));
  std::string md = ReadText(out / "summary.md");
  std::string html = ReadText(out / "report.html");
  EXPECT_TRUE(md.starts_with("# mqlab study")) << md;
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_FALSE(std::filesystem::exists(out / "report.html.tmp"));
}

TEST(ReportTest, RefusesAnotherSchemaAndWritesNothing) {
  mqlab::testing::TempDir dir("report");
  json doc = Fixture();
  doc["schema"] = "mqlab.study/9";
  auto s = WriteReport(doc, dir.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("mqlab.study/9"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "summary.md"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "report.html"));
}

TEST(ReportTest, RerendersFromTheFolderOrItsResultsFile) {
  mqlab::testing::TempDir dir("report");
  WriteText(dir.path() / "results.json", Fixture().dump(2));
  WriteText(dir.path() / "summary.md", "stale");
  auto written = RenderReport(dir.path());
  ASSERT_TRUE(written) << written.error().message;
  ASSERT_EQ(written->size(), 2u);
  EXPECT_EQ((*written)[0], dir.path() / "summary.md");
  EXPECT_EQ((*written)[1], dir.path() / "report.html");
  EXPECT_NE(ReadText(dir.path() / "summary.md"), "stale");

  std::filesystem::remove(dir.path() / "report.html");
  ASSERT_TRUE(RenderReport(dir.path() / "results.json"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "report.html"));

  auto missing = RenderReport(dir.path() / "nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mqlab::report
