#include "report/html.h"

#include <fmt/format.h>

#include "report/format.h"
#include "report/summary.h"

namespace mqlab::report {
namespace {

std::string FactsHtml(const Facts& facts, std::string_view if_none = "not recorded") {
  if (facts.empty()) return fmt::format("<span class=\"muted\">{}</span>", if_none);
  std::string out;
  for (const auto& [k, v] : facts) {
    out += fmt::format("<span class=\"fact\"><span class=\"k\">{}</span> {}</span>", EscapeHtml(k),
                       EscapeHtml(v));
  }
  return out;
}

std::string Row(std::string_view label, const std::string& html) {
  return fmt::format("<dt>{}</dt><dd>{}</dd>\n", label, html);
}

std::string HeaderHtml(const Report& r) {
  std::string h = "<header class=\"top\">\n";
  h += fmt::format(
      "<h1>mqlab study <span class=\"when\">{}</span></h1>\n"
      "<p class=\"lede\">How far each architecture holds and where it breaks: {} cells, each "
      "climbing a ladder of offered loads (open model) to beyond its capacity.</p>\n",
      EscapeHtml(TitleTime(r.started_at)), r.cells.size());
  if (r.complete == false) {
    h += "<p class=\"banner bad\">Incomplete run: the study was stopped early. Below is what was "
         "measured.</p>\n";
  }
  h += "<dl class=\"facts\">\n";
  h += Row("Run",
           fmt::format("mqlab {} · profile {} · {} → {}", EscapeHtml(r.mqlab_version),
                       EscapeHtml(r.profile), EscapeHtml(r.started_at), EscapeHtml(r.finished_at)));
  h += Row("Machine", FactsHtml(r.machine));
  h += Row("Servers", FactsHtml(r.servers, "none used"));
  h += Row("Prometheus", EscapeHtml(DescribePrometheus(r)));
  h += Row("Parameters", FactsHtml(r.parameters.all));
  h += Row("SLO", EscapeHtml(DescribeSlo(r)));
  h += Row("Latency clock", EscapeHtml(DescribeClock(r)));
  h += "</dl>\n";
  HarnessLine harness = DescribeHarness(r);
  h += fmt::format("<p class=\"banner harness {}\" id=\"harness\">{}</p>\n",
                   !harness.ok   ? "none"
                   : *harness.ok ? "ok"
                                 : "bad",
                   EscapeHtml(harness.text));
  if (!r.warnings.empty()) {
    h += "<div class=\"banner warn\"><strong>Warnings</strong><ul>\n";
    for (const std::string& w : r.warnings) h += "<li>" + EscapeHtml(w) + "</li>\n";
    h += "</ul></div>\n";
  }
  return h + "</header>\n";
}

std::string TableHtml(const Table& t) {
  std::string h = fmt::format("<h3 id=\"{}\">{}</h3>\n<p class=\"caption\">{}</p>\n",
                              EscapeHtml("t-" + t.id), EscapeHtml(t.title), EscapeHtml(t.caption));
  if (t.rows.empty()) return h + "<p class=\"muted\">No cells to compare in this run.</p>\n";
  std::vector<bool> numeric = NumericColumns(t);
  h += fmt::format("<div class=\"scroll\"><table class=\"goal\" data-table=\"{}\">\n<thead><tr>",
                   EscapeHtml(t.id));
  for (size_t i = 0; i < t.header.size(); ++i) {
    h += fmt::format("<th{}>{}</th>", numeric[i] ? " class=\"num\"" : "", EscapeHtml(t.header[i]));
  }
  h += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    h += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      bool num = i < numeric.size() && numeric[i];
      h += fmt::format("<td{}>{}</td>", num ? " class=\"num\"" : "", EscapeHtml(row[i]));
    }
    h += "</tr>\n";
  }
  return h + "</tbody></table></div>\n";
}

constexpr std::string_view kChartsSection = R"(<section id="charts">
<h2>Charts</h2>
<div class="controls" id="controls">
  <span class="group" id="bp-control"><span class="label">Backpressure</span></span>
  <span class="group" id="scale-control"><span class="label">Latency axis</span></span>
</div>
<p class="caption">Per version and worker count: <b>throughput</b> (achieved and completed vs
offered, with the capacity line and y = x), <b>latency</b> end to end (p50, p95, p99 and the
mean, beside the queueing-theory mean for an ideal queue, drawn up to ρ &lt; 1), <b>error
rate</b>, and <b>queue depth</b> over the ladder's rungs; when the study recorded to
Prometheus, the queue depth is Prometheus' series and two more charts show the <b>in-flight
work</b> and the <b>utilisation</b> of the model instances over the rungs (else the queue depth
is the study's own 0.5 s samples). The dashed vertical line is the breaking point (the highest
offered load meeting the SLO); the dotted horizontal line is the SLO. Hover a point for its
value.</p>
<div id="grid"><p class="muted">Drawing the charts…</p></div>
<noscript><p class="banner warn">The charts need JavaScript. Every figure is in the tables
above and in results.json.</p></noscript>
</section>
)";

}  // namespace

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EmbeddableJson(const nlohmann::json& doc) {
  std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderHtml(const Report& r) {
  std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta name=\"generator\" content=\"mqlab {}\">\n"
      "<title>mqlab study — {}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
      EscapeHtml(MQLAB_VERSION), EscapeHtml(TitleTime(r.started_at)), ReportCss());
  page += "<main>\n" + HeaderHtml(r);
  page +=
      "<nav class=\"toc\"><a href=\"#summary\">Summary</a> · <a href=\"#charts\">Charts</a>"
      "</nav>\n";
  page += "<section id=\"summary\">\n<h2>Summary</h2>\n";
  for (const Table& t : GoalTables(r)) page += TableHtml(t);
  page += "</section>\n";
  page += kChartsSection;
  page += fmt::format(
      "<footer>Rendered by mqlab {} from results.json (schema {}). Self-contained: this page "
      "loads nothing from the network.</footer>\n</main>\n",
      EscapeHtml(MQLAB_VERSION), EscapeHtml(r.schema));
  page += "<script type=\"application/json\" id=\"results-data\">" + EmbeddableJson(r.raw) +
          "</script>\n";
  page +=
      fmt::format("<script>\n{}{}{}</script>\n</body>\n</html>\n", PlotJs(), ChartsJs(), PageJs());
  return page;
}

}  // namespace mqlab::report
