#include "report/results.h"

#include <gtest/gtest.h>

#include "report/report_test_util.h"
#include "tests/support/temp_dir.h"

namespace mqlab::report {
namespace {

using nlohmann::json;
using testing::Fixture;
using testing::FixturePath;
using testing::WriteText;

TEST(ResultsTest, ReadsTheFixture) {
  auto r = ParseResults(Fixture());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->schema, "mqlab.study/1");
  EXPECT_EQ(r->profile, "quick");
  EXPECT_EQ(r->complete, true);
  ASSERT_EQ(r->cells.size(), 4u);
  EXPECT_EQ(r->Versions(), (std::vector<std::string>{"v0", "v3"}));
  EXPECT_EQ(r->WorkerCounts(), (std::vector<int>{2}));
  EXPECT_EQ(r->parameters.service_ms, 20);
  EXPECT_EQ(r->parameters.slo_p99_ms, 2000);
  EXPECT_EQ(r->parameters.slo_error_rate, 0.01);
  EXPECT_EQ(r->parameters.ladder, (std::vector<double>{0.5, 0.8, 2.0}));

  const Cell* v3off = r->Find("v3", 2, "off");
  ASSERT_NE(v3off, nullptr);
  EXPECT_EQ(v3off->id, "v3-w2-off");
  EXPECT_EQ(v3off->kind, "async");
  EXPECT_EQ(v3off->capacity, 100);
  ASSERT_EQ(v3off->steps.size(), 3u);
  const Step* top = v3off->HighestStep();
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->multiple, 2.0);
  EXPECT_FALSE(top->end_to_end.p99);  // null in the fixture: no job finished
  EXPECT_FALSE(top->theory);          // null beyond saturation
  EXPECT_EQ(top->breaks_by, "queue growth");
  EXPECT_EQ(top->max_queue_depth, 200);
  EXPECT_EQ(top->meets_slo, false);
  const Step* mid = v3off->StepAt(0.8);
  ASSERT_NE(mid, nullptr);
  ASSERT_TRUE(mid->theory);
  EXPECT_NEAR(*mid->theory->e2e_mdc_ms, 38.02, 1e-9);
  EXPECT_EQ(mid->end_to_end.clock, "intended");
  ASSERT_TRUE(v3off->breaking_point);
  EXPECT_EQ(v3off->breaking_point->how, "queue growth");

  EXPECT_FALSE(r->Find("v0", 2, "on")->steps[0].queue_wait_mean_ms);  // sync: null
  ASSERT_TRUE(r->harness_check);
  EXPECT_EQ(r->harness_check->cell, "mem-w2-on");
  EXPECT_EQ(r->harness_check->ok, true);
  EXPECT_EQ(r->warnings.size(), 1u);
}

TEST(ResultsTest, ReadsWhetherTheRunRecordedToPrometheus) {
  json doc = Fixture();
  auto r = ParseResults(doc);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->prometheus);
  EXPECT_EQ(r->prometheus->scrape_interval_s, 1);
  EXPECT_EQ(r->prometheus->study, "20261125T190000Z-4242");

  doc["prometheus"] = nullptr;  // --prometheus off
  EXPECT_FALSE(ParseResults(doc)->prometheus);
  doc.erase("prometheus");  // results older than the field
  EXPECT_FALSE(ParseResults(doc)->prometheus);

  doc["prometheus"] = {{"scrapeIntervalSeconds", "1s"}};
  auto bad = ParseResults(doc);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("prometheus.scrapeIntervalSeconds"), std::string::npos)
      << bad.error().message;
}

TEST(ResultsTest, NullAndAbsentFieldsReadAsNotMeasured) {
  json doc = Fixture();
  doc["machine"] = nullptr;
  doc.erase("servers");
  doc["harnessCheck"] = nullptr;
  doc["cells"][0]["breakingPoint"] = nullptr;
  doc["cells"][0]["capacity"] = nullptr;
  doc["cells"][0]["steps"][0]["submit"] = nullptr;
  doc["cells"][0]["steps"][1].erase("endToEnd");
  doc["cells"][0]["steps"][2]["series"] = nullptr;
  doc["cells"][1]["steps"] = nullptr;
  auto r = ParseResults(doc);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->machine.empty());
  EXPECT_TRUE(r->servers.empty());
  EXPECT_FALSE(r->harness_check);
  const Cell& c = r->cells[0];
  EXPECT_FALSE(c.breaking_point);
  EXPECT_FALSE(c.capacity);
  EXPECT_FALSE(c.steps[0].submit.p99);
  EXPECT_FALSE(c.steps[1].end_to_end.p50);
  EXPECT_FALSE(c.steps[2].max_queue_depth);
  EXPECT_TRUE(r->cells[1].steps.empty());
  EXPECT_EQ(r->cells[1].HighestStep(), nullptr);
}

TEST(ResultsTest, RefusesAnotherSchemaSayingWhichOneItReads) {
  json doc = Fixture();
  doc["schema"] = "mqlab.study/2";
  auto r = ParseResults(doc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message.find("'mqlab.study/2'"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("reads mqlab.study/1"), std::string::npos);

  doc.erase("schema");
  r = ParseResults(doc);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no \"schema\""), std::string::npos) << r.error().message;

  EXPECT_FALSE(ParseResults(json::array()));
  EXPECT_FALSE(ParseResults(json{{"schema", "mqlab.load/1"}}));
}

TEST(ResultsTest, AFieldOfTheWrongTypeIsAnErrorNamingItsPath) {
  json doc = Fixture();
  doc["cells"][1]["steps"][0]["endToEnd"]["p99"] = "fast";
  auto r = ParseResults(doc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cells[1].steps[0].endToEnd.p99: expected a number, got string");

  doc = Fixture();
  doc["cells"][0]["steps"] = json::object();
  r = ParseResults(doc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cells[0].steps: expected an array, got object");

  doc = Fixture();
  doc["parameters"]["slo"] = 5;
  r = ParseResults(doc);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "parameters.slo: expected an object, got number");
}

TEST(ResultsTest, LoadsAFileOrAFolderAndNamesTheFileInErrors) {
  mqlab::testing::TempDir dir("report");
  auto missing = LoadResults(dir.path());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("results.json"), std::string::npos);

  WriteText(dir.path() / "results.json", Fixture().dump());
  ASSERT_TRUE(LoadResults(dir.path()));
  ASSERT_TRUE(LoadResults(dir.path() / "results.json"));
  ASSERT_TRUE(LoadResults(FixturePath()));

  WriteText(dir.path() / "results.json", "{\"schema\": ");
  auto bad = LoadResults(dir.path());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("not valid JSON"), std::string::npos);
}

TEST(ResultsTest, ACellWithoutAnIdGetsOneFromItsCoordinates) {
  json doc = Fixture();
  doc["cells"][2].erase("id");
  auto r = ParseResults(doc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cells[2].id, "v3-w2-on");
}

}  // namespace
}  // namespace mqlab::report
