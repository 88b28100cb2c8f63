// The page's stylesheet (html.h): system fonts only (no web font: no network), one light theme
// with a print variant. Chart colours are set by the plotting script; the classes here style
// axes, grid, reference lines and the layout of the small multiples.
#include "report/html.h"

namespace mqlab::report {

std::string_view ReportCss() {
  return R"css(
:root { --fg: #1d2330; --muted: #5f6b7a; --line: #dde2e8; --bg: #f6f7f9; --card: #fff;
        --ok: #1e7d4f; --bad: #b42318; --warn: #8a5a00; --accent: #2f5fb3; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
             sans-serif; }
main { max-width: 1400px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 24px; margin: 0 0 4px; font-weight: 650; }
h1 .when { color: var(--muted); font-weight: 400; font-size: 18px; margin-left: 8px; }
h2 { font-size: 19px; margin: 28px 0 8px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 4px; }
.lede { margin: 0 0 12px; color: var(--muted); }
.muted { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 14px; margin: 0 0 12px;
           background: var(--card); border: 1px solid var(--line); border-radius: 8px;
           padding: 10px 14px; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; }
.fact { display: inline-block; margin-right: 14px; white-space: nowrap; }
.fact .k { color: var(--muted); }
.banner { border-radius: 8px; padding: 8px 12px; margin: 8px 0; border: 1px solid var(--line);
          background: var(--card); }
.banner.ok { border-color: #b7e0c8; background: #eef8f2; color: var(--ok); }
.banner.bad { border-color: #f1c0bb; background: #fdf0ef; color: var(--bad); }
.banner.warn { border-color: #ecd9ad; background: #fdf7e8; color: var(--warn); }
.banner.none { color: var(--muted); }
.banner ul { margin: 4px 0 0; padding-left: 20px; }
nav.toc { margin: 12px 0 0; color: var(--muted); }
nav.toc a { color: var(--accent); text-decoration: none; }
.caption { color: var(--muted); margin: 0 0 8px; max-width: 1100px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: var(--card); font-size: 13px;
        font-variant-numeric: tabular-nums; }
table.goal { border: 1px solid var(--line); border-radius: 6px; margin-bottom: 6px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
         white-space: nowrap; }
th { background: #eef1f5; font-weight: 600; }
td.num, th.num { text-align: right; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.controls { display: flex; gap: 24px; align-items: center; margin: 6px 0 10px; flex-wrap: wrap; }
.controls .group { display: inline-flex; align-items: center; gap: 0; }
.controls .label { color: var(--muted); margin-right: 8px; }
.controls button { font: inherit; padding: 3px 12px; border: 1px solid #b9c2ce;
                   background: var(--card); color: var(--fg); cursor: pointer; margin-left: -1px; }
.controls button:first-of-type { border-radius: 6px 0 0 6px; }
.controls button:last-of-type { border-radius: 0 6px 6px 0; }
.controls button[aria-pressed="true"] { background: var(--accent); color: #fff;
                                        border-color: var(--accent); }
section.version { margin: 18px 0 8px; }
section.version > h3 { font-size: 17px; margin: 0 0 2px; }
section.version > h3 .kind { color: var(--muted); font-weight: 400; font-size: 14px; }
section.version > p { margin: 0 0 8px; color: var(--muted); }
.cell-row { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
            padding: 8px 10px 6px; margin-bottom: 10px; }
.cell-row[hidden] { display: none; }
.cell-head { display: flex; flex-wrap: wrap; gap: 4px 18px; align-items: baseline;
             margin-bottom: 4px; }
.cell-head .name { font-weight: 650; }
.cell-head .bp-ok { color: var(--ok); }
.cell-head .bp-bad { color: var(--bad); }
.charts4 { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 6px; }
@media (max-width: 1100px) { .charts4 { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
figure.chart-box { margin: 0; }
figure.chart-box figcaption { font-size: 12px; font-weight: 600; color: var(--muted);
                              margin: 0 0 0 6px; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
svg.chart text { font: 10.5px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
                 fill: #4a5563; }
svg.chart .grid { stroke: #edf0f3; }
svg.chart .axis { stroke: #9aa4b1; }
svg.chart .axis-label { fill: var(--muted); }
svg.chart .ref { stroke-width: 1.2; fill: none; }
svg.chart .ref.capacity { stroke: #7b8794; stroke-dasharray: 6 4; }
svg.chart .ref.diag { stroke: #b9c2ce; stroke-dasharray: 2 3; }
svg.chart .ref.slo { stroke: #1d2330; stroke-dasharray: 1.5 3; stroke-width: 1.4; }
svg.chart .ref.breaking { stroke: #8e44ad; stroke-dasharray: 5 3; stroke-width: 1.4; }
svg.chart .ref.rung { stroke: #d5dbe2; }
svg.chart .ref-label { font-size: 9.5px; paint-order: stroke; stroke: #fff; stroke-width: 3px;
                      stroke-linejoin: round; }
svg.chart .ref-label.breaking { fill: #8e44ad; }
svg.chart .ref-label.slo { fill: #1d2330; }
svg.chart .line { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
svg.chart .area { stroke: none; opacity: 0.14; }
svg.chart .pt { stroke-width: 1.4; }
svg.chart .empty { fill: var(--muted); font-size: 12px; }
details.figures { margin-top: 6px; font-size: 12.5px; }
details.figures summary { cursor: pointer; color: var(--accent); }
details.figures table { margin: 6px 0; }
details.figures code { font-size: 11.5px; white-space: pre-wrap; word-break: break-all; }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } .controls { display: none; }
               .cell-row { break-inside: avoid; } }
)css";
}

}  // namespace mqlab::report
