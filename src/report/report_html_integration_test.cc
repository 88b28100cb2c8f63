// report.html in a real browser: Debian's Chromium, headless. Required: the test fails, never
// skips, when it is missing (scripts/setup installs it).
//
//   - the page's script ran and drew every chart of the fixture with one point per measured
//     figure (--dump-dom: the DOM after the load event): the queue depth from a rung's
//     Prometheus series where it has one, else from its samples, and the in-flight and
//     utilisation charts of the cells recorded to Prometheus;
//   - a screenshot is a non-empty PNG of the asked size (--screenshot);
//   - the page made no network request (headless_chromium_test_util.h says how that is told
//     apart from Chromium's own background traffic); a control page that does fetch from the
//     network must be caught, so the check cannot pass by seeing nothing.
//
// MQLAB_REPORT_SCREENSHOT=path keeps a copy of the screenshot.
#include <gtest/gtest.h>

#include <map>
#include <regex>

#include "report/headless_chromium_test_util.h"
#include "report/report.h"
#include "report/report_test_util.h"
#include "tests/support/temp_dir.h"

namespace mqlab::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::BrowserRun;
using testing::ChromiumPath;
using testing::Count;
using testing::Fixture;
using testing::Join;
using testing::NetworkViolations;
using testing::ReadText;
using testing::RecordingListener;
using testing::RunChromium;
using testing::WriteText;

struct Chart {
  std::string kind, cell, body;
};

std::vector<Chart> Charts(const std::string& dom) {
  std::vector<Chart> out;
  static const std::regex kSvg(
      R"re(<svg class="chart" data-chart="([^"]*)" data-cell="([^"]*)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), kSvg); it != std::sregex_iterator();
       ++it) {
    size_t start = it->position();
    size_t end = dom.find("</svg>", start);
    out.push_back({(*it)[1], (*it)[2], dom.substr(start, end - start)});
  }
  return out;
}

// The markers of `series` in one chart.
size_t Circles(const std::string& svg, const std::string& series) {
  std::regex re("<circle class=\"pt[^\"]*\" data-series=\"" + series + "\"");
  return std::distance(std::sregex_iterator(svg.begin(), svg.end(), re), std::sregex_iterator());
}

// The number of points a path of `series` was drawn with (0 when there is none).
int PathPoints(const std::string& svg, const std::string& series) {
  std::smatch m;
  std::regex re("<path class=\"line[^\"]*\" data-series=\"" + series + "\" data-points=\"(\\d+)\"");
  return std::regex_search(svg, m, re) ? std::stoi(m[1]) : 0;
}

// A rung's Prometheus points of `key` (0 when it has none: not recorded, or null).
size_t PromPoints(const json& step, const std::string& key) {
  if (!step.contains("prometheus") || !step["prometheus"].is_object()) return 0;
  const json v = step["prometheus"].value(key, json());
  return v.is_array() ? v.size() : 0;
}

size_t PromPoints(const json& cell, const std::string& key, size_t* rungs) {
  size_t n = 0;
  *rungs = 0;
  for (const json& s : cell["steps"]) {
    n += PromPoints(s, key);
    *rungs += PromPoints(s, key) > 0 ? 1 : 0;
  }
  return n;
}

size_t NonNull(const json& cell, const std::string& object, const std::string& key) {
  size_t n = 0;
  for (const json& s : cell["steps"]) {
    const json& v = object.empty() ? s[key] : s[object].is_object() ? s[object][key] : json();
    if (v.is_number()) ++n;
  }
  return n;
}

class ReportHtmlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(ChromiumPath().empty())
        << "Chromium is required for this test and was not found: apt-get install -y "
           "--no-install-recommends chromium (scripts/setup installs it), or set MQLAB_CHROMIUM";
    ASSERT_TRUE(WriteReport(Fixture(), work_.path() / "run"));
    page_ = work_.path() / "run" / "report.html";
  }
  mqlab::testing::TempDir work_{"report-html"};
  fs::path page_;
};

TEST_F(ReportHtmlTest, TheChartsDrawEveryPointAndThePageFetchesNothing) {
  RecordingListener proxy;
  BrowserRun run = RunChromium(work_.path(), proxy.port(), page_, {"--dump-dom"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // The DOM up to the scripts (whose source also spells chart markup).
  const std::string dom = run.out.substr(0, run.out.find("<script type=\"application/json\""));
  ASSERT_NE(dom.find("data-charts=\"drawn\""), std::string::npos)
      << "the page's script did not finish\n"
      << run.err.substr(0, 4000);

  json doc = Fixture();
  std::vector<Chart> charts = Charts(dom);
  // Four charts per cell; six for a cell recorded to Prometheus (in-flight, utilisation).
  size_t expected = 0, rungs = 0;
  for (const json& c : doc["cells"]) expected += PromPoints(c, "inflight", &rungs) > 0 ? 6 : 4;
  EXPECT_EQ(charts.size(), expected);
  std::map<std::string, std::string> queue_source;
  std::map<std::string, const json*> cells;
  for (const json& c : doc["cells"]) cells[c["id"]] = &c;
  for (const Chart& chart : charts) {
    SCOPED_TRACE(chart.kind + " " + chart.cell);
    ASSERT_TRUE(cells.count(chart.cell));
    const json& cell = *cells[chart.cell];
    if (chart.kind == "throughput") {
      EXPECT_EQ(Circles(chart.body, "achieved"), NonNull(cell, "", "achievedRps"));
      EXPECT_EQ(Count(chart.body, "<circle class=\"pt"),
                NonNull(cell, "", "achievedRps") + NonNull(cell, "", "completedPerSec"));
      EXPECT_NE(chart.body.find("data-ref=\"capacity\""), std::string::npos);
      EXPECT_NE(chart.body.find("data-ref=\"diag\""), std::string::npos);
      EXPECT_NE(chart.body.find("data-ref=\"breaking\""), std::string::npos);
    } else if (chart.kind == "latency") {
      for (const char* p : {"p50", "p95", "p99", "mean"}) {
        EXPECT_EQ(Circles(chart.body, p), NonNull(cell, "endToEnd", p)) << p;
      }
      EXPECT_EQ(Circles(chart.body, "M/D/c at rung"), NonNull(cell, "theory", "e2eMdcMs"));
      EXPECT_GT(PathPoints(chart.body, "M/D/c mean"), 20);  // the curve up to ρ < 1
      EXPECT_NE(chart.body.find("data-ref=\"slo\""), std::string::npos);
    } else if (chart.kind == "errors") {
      EXPECT_EQ(Circles(chart.body, "error rate"), NonNull(cell, "", "errorRate"));
      EXPECT_NE(chart.body.find("data-ref=\"slo\""), std::string::npos);
    } else if (chart.kind == "queue") {
      // Per rung, Prometheus' points when it has some, else the study's own samples.
      size_t points = 0, from_prometheus = 0;
      for (const json& s : cell["steps"]) {
        const size_t p = PromPoints(s, "queueDepth");
        points += p > 0 ? p : s["series"].size();
        from_prometheus += p > 0 ? 1 : 0;
      }
      EXPECT_EQ(PathPoints(chart.body, "queue depth"), static_cast<int>(points));
      const std::string source = from_prometheus == 0                      ? "sampler"
                                 : from_prometheus == cell["steps"].size() ? "prometheus"
                                                                           : "mixed";
      EXPECT_NE(chart.body.find("data-source=\"" + source + "\""), std::string::npos) << source;
      queue_source[chart.cell] = source;
    } else {
      ASSERT_TRUE(chart.kind == "inflight" || chart.kind == "utilisation") << chart.kind;
      const size_t points = PromPoints(cell, chart.kind, &rungs);
      EXPECT_GT(points, 0u) << "drawn only when recorded";
      EXPECT_EQ(PathPoints(chart.body, chart.kind == "inflight" ? "in flight" : "utilisation"),
                static_cast<int>(points));
      EXPECT_NE(chart.body.find("data-source=\"prometheus\""), std::string::npos);
      EXPECT_NE(chart.body.find("data-ref=\"capacity\""), std::string::npos);
    }
  }
  // The fixture covers the three cases: all rungs from Prometheus, some, none.
  EXPECT_EQ(queue_source["v3-w2-on"], "prometheus");
  EXPECT_EQ(queue_source["v0-w2-on"], "mixed");
  EXPECT_EQ(queue_source["v3-w2-off"], "sampler");
  // The fixture's v3-w2-off has no end-to-end figure on its top rung: 2 points, not 3 (no 0).
  for (const Chart& chart : charts) {
    if (chart.kind == "latency" && chart.cell == "v3-w2-off") {
      EXPECT_EQ(Circles(chart.body, "p99"), 2u);
    }
  }
  EXPECT_NE(dom.find("<button type=\"button\" aria-pressed=\"true\">on</button>"),
            std::string::npos);
  auto violations = NetworkViolations(run, proxy.Lines());
  EXPECT_TRUE(violations.empty()) << Join(violations);
}

TEST_F(ReportHtmlTest, AScreenshotIsANonEmptyPng) {
  RecordingListener proxy;
  fs::path shot = work_.path() / "shot.png";
  BrowserRun run = RunChromium(
      work_.path(), proxy.port(), page_,
      {"--screenshot=" + shot.string(), "--window-size=1400,2000", "--hide-scrollbars"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::string png = ReadText(shot);
  ASSERT_GT(png.size(), 24u) << "no screenshot at " << shot;
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(png[at])) << 24) | (uint32_t(uint8_t(png[at + 1])) << 16) |
           (uint32_t(uint8_t(png[at + 2])) << 8) | uint32_t(uint8_t(png[at + 3]));
  };
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(16), 1400u);
  EXPECT_EQ(be32(20), 2000u);
  // A blank page of this size compresses to a few KB; tables and charts to hundreds.
  EXPECT_GT(png.size(), 50'000u);
  if (const char* keep = std::getenv("MQLAB_REPORT_SCREENSHOT"); keep && *keep) {
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
  }
  auto violations = NetworkViolations(run, proxy.Lines());
  EXPECT_TRUE(violations.empty()) << Join(violations);
}

// The control: a page that does reach for the network is caught by the net log and the proxy.
TEST_F(ReportHtmlTest, TheNetworkCheckCatchesAPageThatFetches) {
  fs::path bad = work_.path() / "fetches.html";
  WriteText(bad,
            "<!DOCTYPE html><html><body><img src=\"http://example.invalid/pixel.png\">"
            "<script>fetch('https://example.com/data.json').catch(function () {});</script>"
            "</body></html>\n");
  RecordingListener proxy;
  BrowserRun run =
      RunChromium(work_.path(), proxy.port(), bad, {"--dump-dom", "--virtual-time-budget=3000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  std::vector<std::string> violations = NetworkViolations(run, proxy.Lines());
  auto has = [&](const std::string& what) {
    return std::find(violations.begin(), violations.end(), what) != violations.end();
  };
  EXPECT_TRUE(has("the page requested http://example.invalid/pixel.png")) << Join(violations);
  EXPECT_TRUE(has("the page requested https://example.com/data.json")) << Join(violations);
  // The plain-HTTP image reaches the proxy as a request the net log does not give to Chromium.
  EXPECT_TRUE(has("the proxy got: GET http://example.invalid/pixel.png HTTP/1.1"))
      << Join(violations);
}

}  // namespace
}  // namespace mqlab::report
