#include "report/summary.h"

#include <gtest/gtest.h>

#include "report/report_test_util.h"

namespace mqlab::report {
namespace {

using nlohmann::json;
using Row = std::vector<std::string>;
using testing::Fixture;

Report Read(const json& doc) {
  auto r = ParseResults(doc);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : Report{};
}

const Table& ById(const std::vector<Table>& tables, const std::string& id) {
  for (const Table& t : tables) {
    if (t.id == id) return t;
  }
  static const Table kNone;
  ADD_FAILURE() << "no table " << id;
  return kNone;
}

TEST(FormatTest, FiguresHaveThreeSignificantDigitsAndNoExponent) {
  EXPECT_EQ(Figure(49.8), "49.8");
  EXPECT_EQ(Figure(2.5), "2.5");
  EXPECT_EQ(Figure(100.0), "100");
  EXPECT_EQ(Figure(123.456), "123");
  EXPECT_EQ(Figure(1234.6), "1235");
  EXPECT_EQ(Figure(0.012345), "0.0123");
  EXPECT_EQ(Figure(0.0), "0");
  EXPECT_EQ(Figure(-3.25), "-3.25");
  EXPECT_EQ(Figure(Num()), "—");
  EXPECT_EQ(Percent(0.0), "0%");
  EXPECT_EQ(Percent(0.0004), "0.04%");
  EXPECT_EQ(Percent(0.0123), "1.23%");
  EXPECT_EQ(Percent(0.01), "1%");
  EXPECT_EQ(Percent(0.51), "51%");
  EXPECT_EQ(Percent(Num()), "—");
  EXPECT_EQ(Multiple(0.8), "0.8×");
  EXPECT_EQ(TitleTime("2026-11-25T19:00:00.000Z"), "2026-11-25 19:00 UTC");
  EXPECT_EQ(TitleTime("yesterday"), "yesterday");
  EXPECT_EQ(Change(80.0, 100.0), "+25%");
  EXPECT_EQ(Change(100.0, 80.0), "−20%");
  EXPECT_EQ(Change(80.0, 80.0), "±0%");
  EXPECT_EQ(Change(0.0, 80.0), "—");
  EXPECT_EQ(Change(Num(), 80.0), "—");
}

TEST(FormatTest, FiguresWithBoundsAndSignsAreRightAligned) {
  Table t{"x", "X", "", {"Cell", "BP", "Change"}, {{"a", "≥ 99", "+25%"}, {"b", "80 (2×)", "−3%"}}};
  EXPECT_EQ(NumericColumns(t), (std::vector<bool>{false, true, true}));
  t.rows.push_back({"c", "none", "—"});
  EXPECT_EQ(NumericColumns(t), (std::vector<bool>{false, false, true}));
}

TEST(FormatTest, TablesRenderAsMarkdownAndAlignedText) {
  Table t{"x", "X", "", {"Cell", "Rate", "Note"}, {{"a|b", "1.5", "ok"}, {"c", "—", "x_y"}}};
  EXPECT_EQ(MarkdownTable(t),
            "| Cell | Rate | Note |\n| --- | ---: | --- |\n| a\\|b | 1.5 | ok |\n"
            "| c | — | x\\_y |\n");
  EXPECT_EQ(TextTable(t), "Cell  Rate  Note\n----------------\na|b    1.5  ok\nc        —  x_y\n");
}

TEST(SummaryTest, SyncVsAsyncGivesBreakingPointFractionAndP99AtPointEight) {
  Report r = Read(Fixture());
  std::vector<Table> tables_t = GoalTables(r);
  const Table& t = ById(tables_t, "sync-async");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0],
            (Row{"v0", "sync", "ocr", "2", "on", "100", "80", "0.8", "rejections", "118"}));
  EXPECT_EQ(t.rows[1],
            (Row{"v3", "async", "postgres", "2", "on", "100", "80", "0.8", "rejections", "161"}));
}

TEST(SummaryTest, BackpressureComparesTheHighestRungOnAndOff) {
  Report r = Read(Fixture());
  std::vector<Table> tables_t = GoalTables(r);
  const Table& t = ById(tables_t, "backpressure");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (Row{"v0", "2", "2× (200/s)", "51%", "31%", "45.3", "10000", "100", "330",
                            "rejections", "timeouts"}));
  // v3 off: no job finished at the top rung, so its p99 is null, shown as a dash, never 0.
  EXPECT_EQ(t.rows[1], (Row{"v3", "2", "2× (200/s)", "50%", "58%", "512", "—", "31", "200",
                            "rejections", "queue growth"}));
}

json ScalingDoc() {
  json doc = Fixture();
  json cells = json::array();
  // v3 with 1, 2 and 4 workers (backpressure on): 40, 80, 150 jobs/s; the 4-worker cell still
  // met the SLO on its top rung, so its breaking point is only a lower bound.
  for (auto [w, bp, top_ok] : {std::tuple{1, 40.0, false}, {2, 80.0, false}, {4, 150.0, true}}) {
    json c = doc["cells"][2];
    c["id"] = "v3-w" + std::to_string(w) + "-on";
    c["workers"] = w;
    c["capacity"] = 50.0 * w;
    c["breakingPoint"] = {{"offeredRps", bp}, {"multiple", top_ok ? 2.0 : 0.8}, {"how", "latency"}};
    c["steps"][2]["meetsSlo"] = top_ok;
    cells.push_back(c);
  }
  doc["cells"] = cells;
  doc["parameters"]["workers"] = {1, 2, 4};
  return doc;
}

TEST(SummaryTest, WorkersTableGivesTheRatioToOneWorker) {
  Report r = Read(ScalingDoc());
  std::vector<Table> tables_t = GoalTables(r);
  const Table& t = ById(tables_t, "workers");
  EXPECT_EQ(t.header, (Row{"Version", "Backpressure", "1 worker (jobs/s)", "2 workers (jobs/s)",
                           "4 workers (jobs/s)"}));
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0], (Row{"v3", "on", "40", "80 (2×)", "≥ 150 (≥ 3.75×)"}));

  std::vector<Table> tables_a = GoalTables(r);
  const Table& a = ById(tables_a, "sync-async");
  ASSERT_EQ(a.rows.size(), 3u);
  EXPECT_EQ(a.rows[2][6], "≥ 150");
  EXPECT_EQ(a.rows[2][8], "held to the top rung");
  // No off cells: the backpressure table has nothing to compare.
  EXPECT_TRUE(ById(tables_a, "backpressure").rows.empty());
}

TEST(SummaryTest, NoBreakingPointAndMissingRungsAreSaid) {
  json doc = Fixture();
  doc["cells"][2]["breakingPoint"] = nullptr;
  doc["cells"][2]["steps"][0]["meetsSlo"] = false;
  doc["cells"][2]["steps"][0]["breaksBy"] = "latency";
  doc["cells"][2]["steps"].erase(1);  // no 0.8× rung: the nearest rung below capacity, named
  Report r = Read(doc);
  std::vector<Table> tables_t = GoalTables(r);
  const Table& t = ById(tables_t, "sync-async");
  EXPECT_EQ(t.rows[1][6], "none");
  EXPECT_EQ(t.rows[1][7], "—");
  EXPECT_EQ(t.rows[1][8], "below the lowest rung: latency");
  EXPECT_EQ(t.rows[1][9], "41.7 (at 0.5×)");
}

TEST(SummaryTest, MarkdownHasTheHeaderHarnessLineAndTables) {
  Report r = Read(Fixture());
  std::string md = RenderSummaryMarkdown(r);
  EXPECT_TRUE(md.starts_with("# mqlab study — 2026-11-25 19:00 UTC\n")) << md;
  for (const char* want : {
           "- **Run:** mqlab 0.1.0 · profile quick · 2026-11-25T19:00:00.000Z → "
           "2026-11-25T19:01:12.500Z\n",
           "- **Machine:** cpu AMD EPYC 7B13 · cores 2 · memoryGiB 23.5 · kernel — · "
           "hostname "
           "vm",
           "- **Servers:** postgres 15.18\n",  // the others were not used (null)
           "- **Prometheus:** every process scraped every 1 s (series labelled "
           "study=\"20261125T190000Z-4242\"); queue depth, in-flight and utilisation charts "
           "drawn from it\n",
           "- **Parameters:** serviceMs 20 · serviceDist fixed · mode sleep · failRate 0 · "
           "arrivals poisson · seed 42 · stepSeconds 2 · warmupSeconds 0.5 · ladder 0.5, 0.8, "
           "2 · versions v0, v3 · workers 2 · backpressure on, off\n",
           "- **SLO:** p99 end to end ≤ 2000 ms and errors ≤ 1%\n",
           "- **Latency clock:** from the intended send time (open model, no coordinated "
           "omission)\n",
           "Harness check (mem-w2-on, ρ = 0.8): measured mean queue wait 17.1 ms vs M/D/c 18 "
           "ms, ratio 0.949: OK",
           "## Sync vs async: where each version breaks\n",
           "| v0 | sync | ocr | 2 | on | 100 | 80 | 0.8 | rejections | 118 |\n",
           "| v3 | async | postgres | 2 | on | 100 | 80 | 0.8 | rejections | 161 |\n",
           "## Workers: how the breaking point scales\n",
           "| v3 | off | 80 |\n",
           "## Backpressure on vs off at the highest rung\n",
           "| v3 | 2 | 2× (200/s) | 50% | 58% | 512 | — | 31 | 200 | rejections | queue "
           "growth |\n",
           "## Warnings\n\n- v3-w2-off at 2×: 230 jobs unfinished",
       }) {
    EXPECT_NE(md.find(want), std::string::npos) << "missing: " << want << "\n---\n" << md;
  }
  EXPECT_EQ(md.find("Incomplete"), std::string::npos);
}

TEST(SummaryTest, MarkdownSaysWhenTheRunIsIncompleteAndTheHarnessFailed) {
  json doc = Fixture();
  doc["complete"] = false;
  doc["harnessCheck"]["ok"] = false;
  doc["machine"]["hostname"] = "build_box|1";
  doc["servers"] = json::object();  // mem and v0 use no server
  std::string md = RenderSummaryMarkdown(Read(doc));
  EXPECT_NE(md.find("**Incomplete run"), std::string::npos);
  EXPECT_NE(md.find(": NOT OK."), std::string::npos);
  EXPECT_NE(md.find("hostname build\\_box\\|1"), std::string::npos);  // escaped, not markup
  EXPECT_NE(md.find("- **Servers:** none used\n"), std::string::npos);
  doc["prometheus"] = nullptr;
  EXPECT_NE(RenderSummaryMarkdown(Read(doc)).find("- **Prometheus:** not recorded"),
            std::string::npos);

  // Exponential service times: the check compares with M/M/c and says so.
  doc["harnessCheck"]["model"] = "M/M/c";
  doc["harnessCheck"]["predictedWaitMs"] = 33.5;
  EXPECT_NE(RenderSummaryMarkdown(Read(doc)).find("vs M/M/c 33.5 ms"), std::string::npos);

  doc.erase("harnessCheck");
  EXPECT_NE(RenderSummaryMarkdown(Read(doc)).find("Harness check: not run"), std::string::npos);
}

}  // namespace
}  // namespace mqlab::report
