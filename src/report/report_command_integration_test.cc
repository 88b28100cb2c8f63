// `mqlab report` and `mqlab compare` as a user runs them: exit codes, what they print, and the
// one-line errors for misuse (2) and for results they cannot read (1).
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include "report/report_test_util.h"
#include "tests/support/mqlab_process.h"
#include "tests/support/temp_dir.h"

namespace mqlab::report {
namespace {

namespace fs = std::filesystem;
using mqlab::testing::RunMqlab;
using testing::Fixture;
using testing::ReadText;
using testing::WriteText;

size_t Lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

TEST(ReportCommandTest, RerendersAndPrintsThePaths) {
  mqlab::testing::TempDir dir("report-cli");
  WriteText(dir.path() / "results.json", Fixture().dump(2));
  auto r = RunMqlab({"report", dir.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, (dir.path() / "summary.md").string() + "\n" +
                          (dir.path() / "report.html").string() + "\n");
  EXPECT_TRUE(ReadText(dir.path() / "summary.md").starts_with("# mqlab study"));
  EXPECT_TRUE(ReadText(dir.path() / "report.html").starts_with("<!DOCTYPE html>"));
}

TEST(ReportCommandTest, MisuseAndUnreadableResultsSayWhyInOneLine) {
  mqlab::testing::TempDir dir("report-cli");
  auto none = RunMqlab({"report"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_EQ(Lines(none.output), 1u) << none.output;
  auto missing_dir = RunMqlab({"report", (dir.path() / "nope").string()});
  EXPECT_EQ(missing_dir.exit_code, 2) << missing_dir.output;

  auto empty = RunMqlab({"report", dir.path().string()});  // no results.json in it
  EXPECT_EQ(empty.exit_code, 1) << empty.output;
  EXPECT_TRUE(empty.output.starts_with("mqlab report: cannot read ")) << empty.output;

  nlohmann::json doc = Fixture();
  doc["schema"] = "mqlab.study/2";
  WriteText(dir.path() / "results.json", doc.dump());
  auto other = RunMqlab({"report", dir.path().string()});
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_EQ(Lines(other.output), 1u) << other.output;
  EXPECT_NE(other.output.find("schema 'mqlab.study/2'"), std::string::npos) << other.output;
  EXPECT_FALSE(fs::exists(dir.path() / "report.html"));
}

TEST(CompareCommandTest, PrintsTheChangesPerCellInBoth) {
  mqlab::testing::TempDir dir("compare-cli");
  fs::create_directories(dir.path() / "a");
  fs::create_directories(dir.path() / "b");
  nlohmann::json b = Fixture();
  b["cells"][2]["breakingPoint"]["offeredRps"] = 100.0;
  WriteText(dir.path() / "a" / "results.json", Fixture().dump());
  WriteText(dir.path() / "b" / "results.json", b.dump());
  auto r = RunMqlab({"compare", (dir.path() / "a").string(), (dir.path() / "b").string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Breaking point"), std::string::npos) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\nv3-w2-on +80 +100 +\\+25%"))) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("\nv3-w2-on +0\\.8× +161 +161 +±0%")))
      << r.output;
}

TEST(CompareCommandTest, MisuseExitsTwo) {
  mqlab::testing::TempDir dir("compare-cli");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"compare"},
        {"compare", dir.path().string()},
        {"compare", dir.path().string(), dir.path().string(), dir.path().string()},
        {"compare", dir.path().string(), (dir.path() / "nope").string()}}) {
    auto r = RunMqlab(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_EQ(Lines(r.output), 1u) << r.output;
  }
  auto unreadable = RunMqlab({"compare", dir.path().string(), dir.path().string()});
  EXPECT_EQ(unreadable.exit_code, 1) << unreadable.output;
  EXPECT_TRUE(unreadable.output.starts_with("mqlab compare: ")) << unreadable.output;
}

}  // namespace
}  // namespace mqlab::report
