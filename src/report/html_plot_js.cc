// The page's plotting function (html.h), hand-written so the page needs no library from the
// network: MQ.plot(spec) returns the markup of one <svg class="chart"> (axes with 1-2-5 ticks,
// grid, optional log scale, reference lines, series as lines and/or markers, a legend), built
// as a string and inserted with innerHTML (the HTML parser puts it in the SVG namespace, so no
// namespace URL appears in the page).
//
// spec = {chart, cell, title, width, height, empty, source,
//         x: {label, min, max, log, unit}, y: {label, min, max, log, unit},
//         series: [{name, color, points: [[x, y], …], markers, line, area, dash, hollow, legend,
//                   cls}],
//         refs: [{kind: "h"|"v"|"diag", value, label, cls}],
//         bands: [{x0, x1, label}] (spans labelled along the top, e.g. the rungs of a ladder)}
// Points with a null, non-finite, out-of-range or (on a log axis) non-positive coordinate are
// skipped. Every marker is a <circle class="pt" data-series data-x data-y> with a <title>
// tooltip; a series without markers is one <path data-series data-points>; the <svg> carries
// data-points, the number of points drawn, and data-source when spec.source says where the points
// came from. Every attribute and text is escaped (MQ.el).
#include "report/html.h"

namespace mqlab::report {

std::string_view PlotJs() {
  return R"js("use strict";
const MQ = (() => {
  const ENT = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ENT[c]);
  const ok = (v) => typeof v === "number" && isFinite(v);
  const num = (v) => (ok(v) ? v : null);
  const obj = (v) => (v && typeof v === "object" && !Array.isArray(v) ? v : {});
  const list = (v) => (Array.isArray(v) ? v.filter((x) => x && typeof x === "object") : []);
  // Markup of one element: attributes in the order given (null ones left out), all escaped;
  // `inner` is markup already.
  function el(tag, attrs, inner) {
    let s = "<" + tag;
    for (const [k, v] of Object.entries(attrs)) {
      if (v !== null && v !== undefined) s += " " + k + '="' + esc(v) + '"';
    }
    return inner === undefined ? s + "/>" : s + ">" + inner + "</" + tag + ">";
  }
  // Three significant digits, no exponent: 49.8, 2.5, 1235, 0.012.
  function fmt(v) {
    if (!ok(v)) return "\u2014";
    return Math.abs(v) >= 1000 ? String(Math.round(v)) : String(+v.toPrecision(3));
  }
  // Tick labels, compact: 2500 → 2.5k.
  function tick(v) {
    const a = Math.abs(v);
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + "M";
    if (a >= 1e3) return +(v / 1e3).toPrecision(3) + "k";
    return String(+v.toPrecision(3));
  }
  function linTicks(lo, hi, n) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    let step = Math.pow(10, Math.floor(Math.log10(span / n)));
    const err = (n / span) * step;
    if (err <= 0.15) step *= 10;
    else if (err <= 0.35) step *= 5;
    else if (err <= 0.75) step *= 2;
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-6; v += step) {
      out.push(+v.toPrecision(12));
    }
    return out;
  }
  // The smallest "nice" bound ≥ hi for an axis starting at 0.
  function niceMax(hi) {
    if (!(hi > 0)) return 1;
    const t = linTicks(0, hi, 5);
    const step = t.length > 1 ? t[1] - t[0] : hi;
    return Math.ceil(hi / step - 1e-9) * step;
  }
  function logTicks(lo, hi) {
    let out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * Math.pow(10, e);
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(+v.toPrecision(12));
      }
    }
    if (out.length > 7) out = out.filter((v) => Math.abs(Math.log10(v) % 1) < 1e-9);
    return out;
  }
  // Decade-aligned bounds around positive values [lo, hi].
  function logDomain(lo, hi) {
    const a = Math.pow(10, Math.floor(Math.log10(lo)));
    const b = Math.pow(10, Math.ceil(Math.log10(hi)));
    return {min: a, max: b > a ? b : a * 10};
  }
  function scale(d, r0, r1) {
    if (d.log) {
      const a = Math.log10(d.min), b = Math.log10(d.max);
      return (v) => r0 + ((Math.log10(v) - a) / (b - a)) * (r1 - r0);
    }
    const span = d.max - d.min || 1;
    return (v) => r0 + ((v - d.min) / span) * (r1 - r0);
  }
  const f1 = (v) => +v.toFixed(1);
  function usable(p, spec) {
    return ok(p[0]) && ok(p[1]) && (!spec.x.log || p[0] > 0) && (!spec.y.log || p[1] > 0) &&
           p[1] <= spec.y.max * 1.0001 && p[1] >= spec.y.min * 0.9999;
  }
  function ticks(d) { return d.log ? logTicks(d.min, d.max) : linTicks(d.min, d.max, 5); }

  function axes(o, spec, X, Y, box) {
    for (const v of ticks(spec.y)) {
      const y = f1(Y(v));
      o.push(el("line", {class: "grid", x1: box.l, x2: box.r, y1: y, y2: y}));
      o.push(el("text", {x: box.l - 5, y, dy: "0.32em", "text-anchor": "end"}, tick(v)));
    }
    for (const v of ticks(spec.x)) {
      const x = f1(X(v));
      o.push(el("line", {class: "axis", x1: x, x2: x, y1: box.b, y2: box.b + 4}));
      o.push(el("text", {x, y: box.b + 15, "text-anchor": "middle"}, tick(v)));
    }
    o.push(el("line", {class: "axis", x1: box.l, x2: box.r, y1: box.b, y2: box.b}));
    o.push(el("line", {class: "axis", x1: box.l, x2: box.l, y1: box.t, y2: box.b}));
    o.push(el("text", {class: "axis-label", x: f1((box.l + box.r) / 2), y: box.b + 29,
                       "text-anchor": "middle"}, esc(spec.x.label)));
    o.push(el("text", {class: "axis-label", transform: `translate(11,${f1((box.t + box.b) / 2)})` +
                       " rotate(-90)", "text-anchor": "middle"}, esc(spec.y.label)));
  }

  function hline(o, r, spec, Y, box) {
    const cls = r.cls || "", label = r.label ? esc(r.label) : "";
    if (!spec.y.log && r.value > spec.y.max) {  // say where it is rather than hide it
      if (label) {
        o.push(el("text", {class: "ref-label " + cls, x: box.r - 2, y: box.t + 9,
                           "text-anchor": "end"}, label + " \u2191 (off scale)"));
      }
      return;
    }
    if (!usable([spec.x.min, r.value], spec)) return;
    const y = f1(Y(r.value));
    o.push(el("line", {class: "ref " + cls, "data-ref": cls, x1: box.l, x2: box.r, y1: y, y2: y}));
    if (label) {
      o.push(el("text", {class: "ref-label " + cls, x: box.r - 2, y: f1(Y(r.value) - 3),
                         "text-anchor": "end"}, label));
    }
  }
  function vline(o, r, spec, X, box) {
    if (r.value < spec.x.min || r.value > spec.x.max) return;
    const cls = r.cls || "", x = f1(X(r.value));
    o.push(el("line", {class: "ref " + cls, "data-ref": cls, x1: x, x2: x, y1: box.t, y2: box.b}));
    // Written downwards along the line, so it never collides with labels at the top.
    if (r.label) {
      o.push(el("text", {class: "ref-label " + cls, transform: `translate(${f1(X(r.value) + 3)},` +
                         `${box.t + 2}) rotate(90)`, dy: "-0.2em"}, esc(r.label)));
    }
  }
  function diag(o, r, spec, X, Y) {
    if (spec.x.log || spec.y.log) return;
    const end = Math.min(spec.x.max, spec.y.max), start = Math.max(spec.x.min, spec.y.min);
    if (!(end > start)) return;
    o.push(el("line", {class: "ref diag", "data-ref": "diag", x1: f1(X(start)), y1: f1(Y(start)),
                       x2: f1(X(end)), y2: f1(Y(end))}));
    if (r.label) {
      o.push(el("text", {class: "ref-label", x: f1(X(end) - 3), y: f1(Y(end) + 11),
                         "text-anchor": "end"}, esc(r.label)));
    }
  }
  function bands(o, spec, X, box) {
    for (const b of spec.bands || []) {
      if (!ok(b.x0) || b.x0 < spec.x.min || b.x0 > spec.x.max) continue;
      const x0 = X(b.x0), x1 = ok(b.x1) ? X(Math.min(b.x1, spec.x.max)) : x0 + 24;
      if (b.x0 > spec.x.min) {
        o.push(el("line", {class: "ref rung", x1: f1(x0), x2: f1(x0), y1: box.t, y2: box.b}));
      }
      if (x1 - x0 >= 18) {  // room for "0.8×"
        o.push(el("text", {class: "ref-label", x: f1((x0 + x1) / 2), y: box.t + 9,
                           "text-anchor": "middle"}, esc(b.label)));
      }
    }
  }
  function refs(o, spec, X, Y, box) {
    for (const r of spec.refs || []) {
      if (r.kind === "h" && ok(r.value)) hline(o, r, spec, Y, box);
      else if (r.kind === "v" && ok(r.value)) vline(o, r, spec, X, box);
      else if (r.kind === "diag") diag(o, r, spec, X, Y);
    }
    bands(o, spec, X, box);
  }

  // Draws the series; returns the number of points drawn.
  function series(o, spec, X, Y) {
    let drawn = 0;
    const yUnit = spec.y.unit ? " " + spec.y.unit : "";
    const xUnit = spec.x.unit ? " " + spec.x.unit : "";
    for (const s of spec.series) {
      const pts = (s.points || []).filter((p) => usable(p, spec));
      const xy = (p) => f1(X(p[0])) + "," + f1(Y(p[1]));
      if (s.area && pts.length > 1) {
        const base = f1(Y(spec.y.log ? spec.y.min : Math.max(spec.y.min, 0)));
        const first = f1(X(pts[0][0])), last = f1(X(pts[pts.length - 1][0]));
        const d = `M${first},${base}` + pts.map((p) => "L" + xy(p)).join("") + `L${last},${base}Z`;
        o.push(el("path", {class: "area", fill: s.color, d}));
      }
      if (s.line !== false && (pts.length > 1 || (s.markers === false && pts.length))) {
        const d = pts.map((p, i) => (i ? "L" : "M") + xy(p)).join("");
        o.push(el("path", {class: "line " + (s.cls || ""), "data-series": s.name,
                           "data-points": pts.length, stroke: s.color, "stroke-dasharray": s.dash,
                           d}));
        if (s.markers === false) drawn += pts.length;
      }
      if (s.markers === false) continue;
      for (const p of pts) {
        const tip = `${s.name}: ${fmt(p[1])}${yUnit} at ${fmt(p[0])}${xUnit}`;
        o.push(el("circle", {class: "pt " + (s.cls || ""), "data-series": s.name, "data-x": p[0],
                             "data-y": p[1], cx: f1(X(p[0])), cy: f1(Y(p[1])),
                             r: s.hollow ? 3.2 : 2.8, fill: s.hollow ? "#fff" : s.color,
                             stroke: s.color}, el("title", {}, esc(tip))));
        drawn++;
      }
    }
    return drawn;
  }
  function legend(o, spec, box) {
    let x = box.l, y = 11;
    for (const s of spec.series) {
      if (s.legend === false) continue;
      const w = 30 + s.name.length * 5.9;
      if (x + w > box.r + 10 && x > box.l) { x = box.l; y += 12; }
      o.push(el("line", {x1: x, x2: x + 14, y1: y - 3, y2: y - 3, stroke: s.color,
                         "stroke-width": 2, "stroke-dasharray": s.dash}));
      if (s.markers !== false) {
        o.push(el("circle", {cx: x + 7, cy: y - 3, r: 2.4, fill: s.hollow ? "#fff" : s.color,
                             stroke: s.color}));
      }
      o.push(el("text", {x: x + 18, y}, esc(s.name)));
      x += w;
    }
  }
  function plot(spec) {
    const W = spec.width || 340, H = spec.height || 232;
    const box = {l: 46, r: W - 10, t: 30, b: H - 36};
    const X = scale(spec.x, box.l, box.r), Y = scale(spec.y, box.b, box.t);
    const o = [];
    axes(o, spec, X, Y, box);
    refs(o, spec, X, Y, box);
    const drawn = series(o, spec, X, Y);
    legend(o, spec, box);
    if (!drawn) {
      o.push(el("text", {class: "empty", x: f1((box.l + box.r) / 2), y: f1((box.t + box.b) / 2),
                         "text-anchor": "middle"}, esc(spec.empty || "not measured")));
    }
    return el("svg", {class: "chart", "data-chart": spec.chart, "data-cell": spec.cell,
                      "data-points": drawn, "data-source": spec.source,
                      viewBox: `0 0 ${W} ${H}`, role: "img",
                      "aria-label": spec.title || spec.chart}, o.join(""));
  }
  return {plot, el, esc, fmt, num, ok, obj, list, niceMax, logDomain};
})();
)js";
}

}  // namespace mqlab::report
