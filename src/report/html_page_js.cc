// The page's script (html.h): reads the embedded results document and lays out, per version, one
// row per cell (worker count × backpressure) with its four charts (html_charts_js.cc) — six when
// the study recorded the cell to Prometheus (in-flight work, utilisation) — a header
// line (capacity, breaking point, how it breaks) and, folded, its figures per rung and the full
// command line of every process. Rows of both backpressure settings are drawn; the selector
// hides one. The latency axis switches between log and linear. When everything is drawn, the
// <html> element gets data-charts="drawn" (tests wait for it).
#include "report/html.h"

namespace mqlab::report {

std::string_view PageJs() {
  return R"js((() => {
  const {esc, fmt, num, obj, list} = MQ;
  const grid = document.getElementById("grid");
  let data;
  try {
    data = JSON.parse(document.getElementById("results-data").textContent);
  } catch (e) {
    grid.innerHTML = `<p class="banner bad">The embedded results could not be read: ${esc(e)}</p>`;
    return;
  }
  const P = obj(data.parameters), SLO = obj(P.slo), cells = list(data.cells);
  const state = {bp: null, log: true};
  const charts = MQ.charts(P, SLO, state);
  const ABOUT = {
    v0: "Sync: the API's request thread blocks on an HTTP call to one OCR server.",
    v1: "Sync: a bounded executor makes the call; the request thread is released.",
    v2: "Sync: the API calls one of N OCR servers directly, no queue.",
    v3: "Async: the API inserts a PENDING row; the jobs table in PostgreSQL is the queue.",
    v4: "Async: the API stores the job and enqueues its id on Redis.",
    v5: "Async: the API stores the job and publishes it to RabbitMQ.",
    v6: "Async: the API stores the job and produces it to a Kafka topic.",
    mem: "Async: an in-process bounded queue, the ideal-queue baseline.",
  };
  const steps = (c) => list(c.steps);
  const span = (cls, text) => `<span class="${cls}">${esc(text)}</span>`;

  function heldToTop(c) {
    const st = steps(c), top = st[st.length - 1], b = obj(c.breakingPoint);
    return !!top && top.meetsSlo === true && num(b.multiple) != null &&
           Math.abs(b.multiple - num(top.multiple)) < 1e-6;
  }
  function breakingText(c) {
    const b = obj(c.breakingPoint);
    if (num(b.offeredRps) == null) return span("bp-bad", "no rung met the SLO");
    if (heldToTop(c)) {
      return span("bp-ok",
                  `held to the top rung: breaking point \u2265 ${fmt(b.offeredRps)} jobs/s`);
    }
    return span("bp-ok", `breaking point ${fmt(b.offeredRps)} jobs/s ` +
                         `(${fmt(num(b.multiple))}\u00d7 capacity)`) +
           (b.how ? span("bp-bad", "then breaks by " + b.how) : "");
  }
  function cellHead(c) {
    const w = num(c.workers);
    return '<div class="cell-head">' +
           span("name", `${w == null ? "?" : w} worker${w === 1 ? "" : "s"}`) +
           span("", "backpressure " + (c.backpressure || "?")) +
           span("", `capacity ${fmt(num(c.capacity))} jobs/s`) + breakingText(c) +
           span("muted", c.id) + "</div>";
  }
  function table(head, rows) {
    const cell = (tag, v, i) => `<${tag}${i ? ' class="num"' : ""}>${esc(v)}</${tag}>`;
    return "<table><thead><tr>" + head.map((h, i) => cell("th", h, i)).join("") +
           "</tr></thead><tbody>" +
           rows.map((r) => "<tr>" + r.map((v, i) => cell("td", v, i)).join("") + "</tr>").join("") +
           "</tbody></table>";
  }
  function figures(c) {
    const lat = (s, key, p) => fmt(num(obj(s[key])[p]));
    const pct = (v) => (num(v) == null ? "\u2014" : fmt(v * 100) + "%");
    const slo = (s) => (s.meetsSlo === true ? "meets"
                        : s.meetsSlo === false ? String(s.breaksBy || "misses") : "\u2014");
    const rows = steps(c).map((s) => [
      fmt(num(s.multiple)) + "\u00d7", fmt(num(s.offeredRps)), fmt(num(s.achievedRps)),
      fmt(num(s.completedPerSec)), lat(s, "submit", "p99"), lat(s, "endToEnd", "p50"),
      lat(s, "endToEnd", "p95"), lat(s, "endToEnd", "p99"), lat(s, "theory", charts.THEORY_KEY),
      fmt(num(s.queueWaitMeanMs)), pct(s.errorRate), slo(s),
    ]);
    const head = ["rung", "offered/s", "achieved/s", "completed/s", "submit p99", "e2e p50",
                  "e2e p95", "e2e p99", charts.MODEL + " mean", "queue wait", "errors", "SLO"];
    const procs = list(obj(c.config).processes).map((p) =>
        `<li><b>${esc(p.name || "?")}</b> <code>` +
        `${esc(Array.isArray(p.argv) ? p.argv.join(" ") : "")}</code></li>`).join("");
    return '<details class="figures"><summary>Figures per rung (ms) and processes</summary>' +
           table(head, rows) + (procs ? `<ul>${procs}</ul>` : "") + "</details>";
  }
  function figure(caption, svg, slot) {
    return `<figure class="chart-box"${slot ? ` data-slot="${slot}"` : ""}>` +
           `<figcaption>${esc(caption)}</figcaption>${svg}</figure>`;
  }
  function cellRow(c) {
    return `<div class="cell-row" data-cell="${esc(c.id)}" ` +
           `data-backpressure="${esc(c.backpressure)}">` +
           cellHead(c) + '<div class="charts4">' +
           figure("Throughput vs offered load", charts.throughput(c)) +
           figure("Latency end to end vs offered load", charts.latency(c), "latency-" + c._i) +
           figure("Error rate vs offered load", charts.errors(c)) +
           figure("Queue depth over time", charts.queue(c)) +
           (charts.hasProm(c, "inflight")
                ? figure("In-flight work over time", charts.inflight(c)) : "") +
           (charts.hasProm(c, "utilisation")
                ? figure("Utilisation of the model instances", charts.utilisation(c)) : "") +
           "</div>" + figures(c) + "</div>";
  }
  // Versions in the study's order, then any other.
  function versions() {
    const out = [];
    const add = (v) => {
      const present = cells.some((c) => c.version === v);
      if (typeof v === "string" && !out.includes(v) && present) out.push(v);
    };
    (Array.isArray(P.versions) ? P.versions : []).forEach(add);
    cells.forEach((c) => add(c.version));
    return out;
  }
  function render() {
    cells.forEach((c, i) => {
      if (typeof c.id !== "string") c.id = `${c.version}-w${c.workers}-${c.backpressure}`;
      c._i = i;
    });
    const byWorkersThenOn = (a, b) =>
        (num(a.workers) || 0) - (num(b.workers) || 0) || (a.backpressure === "on" ? -1 : 1);
    const html = versions().map((v) => {
      const vc = cells.filter((c) => c.version === v).sort(byWorkersThenOn);
      return `<section class="version" id="v-${esc(v)}"><h3>${esc(v)} ` +
             span("kind", `${vc[0].kind || ""} \u00b7 ${vc[0].backend || ""}`) + "</h3>" +
             `<p>${esc(ABOUT[v] || "")}</p>` + vc.map(cellRow).join("") + "</section>";
    });
    grid.innerHTML = html.join("") || '<p class="muted">No cells in this run.</p>';
  }

  function button(group, label, pressed, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("aria-pressed", String(pressed));
    b.addEventListener("click", () => {
      for (const x of group.querySelectorAll("button")) {
        x.setAttribute("aria-pressed", String(x === b));
      }
      onClick();
    });
    group.appendChild(b);
  }
  function applyBackpressure() {
    grid.querySelectorAll(".cell-row").forEach((row) => {
      const bp = row.getAttribute("data-backpressure");
      row.hidden = state.bp !== null && (bp === "on" || bp === "off") && bp !== state.bp;
    });
  }
  function redrawLatency() {
    for (const c of cells) {
      const slot = grid.querySelector(`[data-slot="latency-${c._i}"]`);
      if (slot) slot.lastElementChild.outerHTML = charts.latency(c);
    }
  }

  render();
  const bps = ["on", "off"].filter((b) => cells.some((c) => c.backpressure === b));
  state.bp = bps.length ? bps[0] : null;
  const bpGroup = document.getElementById("bp-control");
  const scaleGroup = document.getElementById("scale-control");
  for (const b of bps) {
    button(bpGroup, b, b === state.bp, () => { state.bp = b; applyBackpressure(); });
  }
  bpGroup.hidden = !bps.length;
  button(scaleGroup, "log", true, () => { state.log = true; redrawLatency(); });
  button(scaleGroup, "linear", false, () => { state.log = false; redrawLatency(); });
  applyBackpressure();
  document.documentElement.setAttribute("data-charts", "drawn");
})();
)js";
}

}  // namespace mqlab::report
