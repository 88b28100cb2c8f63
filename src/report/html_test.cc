#include "report/html.h"

#include <gtest/gtest.h>

#include <regex>

#include "report/report_test_util.h"

namespace mqlab::report {
namespace {

using nlohmann::json;
using testing::Count;
using testing::Fixture;

constexpr std::string_view kDataOpen = "<script type=\"application/json\" id=\"results-data\">";

std::string Render(const json& doc) {
  auto r = ParseResults(doc);
  EXPECT_TRUE(r) << r.error().message;
  return r ? RenderHtml(*r) : "";
}

// The embedded JSON text, and the page without it.
std::pair<std::string, std::string> SplitData(const std::string& page) {
  size_t open = page.find(kDataOpen);
  EXPECT_NE(open, std::string::npos);
  if (open == std::string::npos) return {"", page};
  size_t start = open + kDataOpen.size();
  size_t end = page.find("</script>", start);
  EXPECT_NE(end, std::string::npos);
  return {page.substr(start, end - start), page.substr(0, start) + page.substr(end)};
}

TEST(HtmlTest, EmbedsTheResultsSoTheyReadBackUnchanged) {
  json doc = Fixture();
  std::string page = Render(doc);
  EXPECT_EQ(Count(page, std::string(kDataOpen)), 1u);
  auto [data, rest] = SplitData(page);
  EXPECT_EQ(data.find("</"), std::string::npos);
  json back = json::parse(data, nullptr, false);
  ASSERT_FALSE(back.is_discarded());
  EXPECT_EQ(back, doc);
}

TEST(HtmlTest, MakesNoReferenceToTheNetwork) {
  std::string page = Render(Fixture());
  auto [data, rest] = SplitData(page);
  // The data may hold URLs (an OCR server's --ocr-url); the page around it may not.
  EXPECT_NE(data.find("http://127.0.0.1:41001"), std::string::npos);
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  EXPECT_EQ(rest.find("//fonts"), std::string::npos);
  // Every src/href/url()/@import/srcset/action in the page points inside it (#fragment).
  std::regex ref(R"re(\b(src|href|srcset|action|xlink:href)\s*=\s*["']?([^"'\s>]*))re",
                 std::regex::icase);
  for (auto it = std::sregex_iterator(page.begin(), page.end(), ref); it != std::sregex_iterator();
       ++it) {
    EXPECT_TRUE((*it)[2].str().starts_with("#")) << "reference out of the page: " << it->str();
  }
  EXPECT_EQ(rest.find("url("), std::string::npos);
  EXPECT_EQ(rest.find("@import"), std::string::npos);
  for (const char* tag : {"<link", "<img", "<iframe", "<object", "<embed", "<base"}) {
    EXPECT_EQ(rest.find(tag), std::string::npos) << tag;
  }
  // Two scripts: the data and the inline code; neither has a src.
  EXPECT_EQ(Count(page, "<script"), 2u);
  EXPECT_EQ(Count(page, "</script>"), 2u);
}

TEST(HtmlTest, IsOneWellFormedDocumentWithTheSummaryTables) {
  std::string page = Render(Fixture());
  EXPECT_TRUE(page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">")) << page.substr(0, 80);
  EXPECT_TRUE(page.ends_with("</body>\n</html>\n"));
  auto [data, rest] = SplitData(page);
  size_t script = rest.find("<script>");  // the code builds markup in strings: count before it
  ASSERT_NE(script, std::string::npos);
  std::string markup = rest.substr(0, script);
  auto opened = [&](const std::string& tag) {
    return Count(markup, "<" + tag + ">") + Count(markup, "<" + tag + " ");
  };
  for (const char* tag : {"html", "head", "body", "main", "style", "title", "footer"}) {
    EXPECT_EQ(opened(tag), 1u) << tag;
  }
  for (const char* tag : {"head", "main", "style", "title", "footer"}) {
    EXPECT_EQ(Count(markup, "</" + std::string(tag) + ">"), 1u) << tag;
  }
  for (const char* tag : {"section", "table", "div", "dl", "p", "h2", "h3", "tr", "thead"}) {
    EXPECT_EQ(opened(tag), Count(markup, "</" + std::string(tag) + ">")) << tag;
  }
  EXPECT_EQ(Count(markup, "<table class=\"goal\""), 3u);
  EXPECT_NE(markup.find("<td>v3</td><td>async</td><td>postgres</td><td class=\"num\">2</td>"
                        "<td>on</td><td class=\"num\">100</td><td class=\"num\">80</td>"
                        "<td class=\"num\">0.8</td><td>rejections</td><td class=\"num\">161</td>"),
            std::string::npos);
  EXPECT_NE(markup.find("measured mean queue wait 17.1 ms vs M/D/c 18 ms"), std::string::npos);
  EXPECT_NE(markup.find("<span class=\"k\">cpu</span> AMD EPYC 7B13"), std::string::npos);
  EXPECT_NE(markup.find("<span class=\"k\">postgres</span> 15.18"), std::string::npos);
  EXPECT_NE(markup.find("id=\"grid\""), std::string::npos);
  EXPECT_NE(markup.find("id=\"bp-control\""), std::string::npos);
  EXPECT_NE(rest.find("function plot(spec)"), std::string::npos);
  EXPECT_NE(rest.find("MQ.charts = "), std::string::npos);
  EXPECT_NE(rest.find("\"data-chart\": spec.chart"), std::string::npos);
}

TEST(HtmlTest, EscapesEverythingItEmbeds) {
  json doc = Fixture();
  const std::string evil = "</script><script>alert(1)</script><!-- & \"'";
  doc["warnings"].push_back(evil);
  doc["machine"]["hostname"] = evil;
  doc["cells"][0]["id"] = evil;
  doc["startedAt"] = "<b>now</b>";
  std::string page = Render(doc);
  EXPECT_EQ(page.find("alert(1)</script>"), std::string::npos);
  EXPECT_EQ(page.find("<b>now"), std::string::npos);
  EXPECT_EQ(Count(page, "<script"), 2u);
  EXPECT_NE(page.find("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!-- &amp; "
                      "&quot;&#39;"),
            std::string::npos);
  auto [data, rest] = SplitData(page);
  EXPECT_EQ(json::parse(data), doc);
  EXPECT_EQ(EscapeHtml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
}

TEST(HtmlTest, EmbeddableJsonReplacesInvalidUtf8) {
  json doc = {{"s", std::string("ok \xff end")}};
  std::string text = EmbeddableJson(doc);
  json back = json::parse(text, nullptr, false);
  ASSERT_FALSE(back.is_discarded()) << text;
  EXPECT_EQ(back["s"], "ok \xEF\xBF\xBD end");
}

}  // namespace
}  // namespace mqlab::report
