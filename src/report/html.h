// report.html: one self-contained page that a user can open from disk, mail or attach, and that
// makes no network request at all: CSS and JavaScript inline, no fonts, images or scripts from
// elsewhere, no URL in any src/href.
//
// What is rendered where:
//   - here (C++, static HTML): the header (run, machine, servers, parameters, SLO, clock), the
//     harness check, warnings and the three goal tables (summary.h), so the page's answers read
//     even with JavaScript off;
//   - in the browser (html_plot_js.cc, html_charts_js.cc, html_page_js.cc): the charts, drawn
//     as inline SVG from the embedded results document, per version × worker count, with a
//     backpressure on/off selector and a log/linear latency axis.
//
// The results document is embedded as `<script type="application/json" id="results-data">`
// with '<', '>' and '&' written as \u003c, \u003e, \u0026: nothing in the data can close the
// script element or open a comment, and JSON.parse reads it back unchanged.
//
// Every chart carries data attributes so tests can count what the script drew: <svg
// class="chart" data-chart="throughput|latency|errors|queue|inflight|utilisation"
// data-cell="v3-w2-on" data-points="N" [data-source="prometheus|sampler|mixed"]>, one <circle
// class="pt" data-series=… data-x data-y> per plotted point, <path data-series=… data-points=N>
// for curves without markers. The over-time charts say where their points came from: a rung's
// step.prometheus series when it has points, else its own 0.5 s samples (step.series);
// in-flight and utilisation exist only in Prometheus' series and are drawn only when a rung has
// them.
//
// Threading: pure functions.
#ifndef MQLAB_REPORT_HTML_H_
#define MQLAB_REPORT_HTML_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "report/results.h"

namespace mqlab::report {

// The whole page for a report read by ParseResults (it embeds r.raw).
std::string RenderHtml(const Report& r);

// Escapes text for HTML content and attribute values (& < > " ').
std::string EscapeHtml(std::string_view text);

// The JSON text to place inside <script type="application/json">: compact, invalid UTF-8
// replaced, and '<', '>', '&' as \u escapes (valid only inside JSON strings, where alone they
// can occur).
std::string EmbeddableJson(const nlohmann::json& doc);

// The page's assets, hand-written, in their own files (html_*.cc).
std::string_view ReportCss();
std::string_view PlotJs();    // MQ.plot and helpers
std::string_view ChartsJs();  // MQ.charts: the four charts of a cell
std::string_view PageJs();    // the page: layout, controls

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_HTML_H_
