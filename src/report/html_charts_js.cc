// The page's charts of one cell (html.h), built on MQ.plot (html_plot_js.cc):
//   throughput  achieved and completed per second vs offered load, the capacity line and y = x;
//   latency     end to end p50/p95/p99 and mean vs offered load, beside the queueing-theory mean
//               of an ideal queue (M/D/c for fixed service times, M/M/c otherwise): a curve up
//               to ρ < 1 and the runner's value at each rung (hollow markers);
//   errors      error rate (% of sent) vs offered load;
//   queue       queue depth over time, the ladder's rungs one after another: per rung,
//               Prometheus' series (step.prometheus.queueDepth) when it has points, else the
//               study's own samples (step.series);
//   inflight    jobs being processed over time, from Prometheus only (drawn when recorded);
//   utilisation busy fraction of the model instances over time, from Prometheus only.
// The breaking point is the dashed vertical line, the SLO the dotted horizontal one. Every field
// may be null or absent: a missing figure is skipped, never drawn as 0.
//
// CHECKLIST: predictE2e below is the formula of src/study/queueing.cc (Erlang C; Cosmetatos for
// M/D/c); change both together.
#include "report/html.h"

namespace mqlab::report {

std::string_view ChartsJs() {
  return R"js(MQ.charts = (P, SLO, state) => {
  const {num, obj, list, fmt} = MQ;
  const C = {p50: "#4c78a8", p95: "#f58518", p99: "#d62728", mean: "#2ca25f", theory: "#6b7685",
             achieved: "#4c78a8", completed: "#2ca25f", errors: "#d62728", depth: "#4c78a8",
             inflight: "#9467bd", utilisation: "#f58518"};
  const FIXED = P.serviceDist === "fixed";
  const MODEL = FIXED ? "M/D/c" : "M/M/c";
  const THEORY_KEY = FIXED ? "e2eMdcMs" : "e2eMmcMs";
  const steps = (c) => list(c.steps);
  const lat = (s, key, p) => num(obj(s[key])[p]);
  const at = (c, f) => steps(c).map((s) => [num(s.offeredRps), f(s)]);
  const maxOf = (pts, floor) => pts.reduce((m, p) => (p[1] != null && p[1] > m ? p[1] : m), floor);

  function erlangC(c, a) {
    let b = 1;
    for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b);
    return (c * b) / (c - a * (1 - b));
  }
  // Mean time in system (ms) of an ideal c-server queue at arrival rate lambda; null at ρ ≥ 1.
  function predictE2e(lambda, serviceMs, c) {
    const S = serviceMs / 1000, mu = 1 / S, a = lambda / mu, rho = a / c;
    if (!(lambda > 0) || !(S > 0) || rho >= 1) return null;
    let wq = erlangC(c, a) / (c * mu - lambda);
    if (FIXED) {
      const k = (1 - rho) * (c - 1) * (Math.sqrt(4 + 5 * c) - 2) / (16 * rho * c);
      wq *= 0.5 * (c === 1 ? 1 : 1 + k);
    }
    return (wq + S) * 1000;
  }
  // Servers of the ideal queue: capacity × mean service time (workers × concurrency).
  function servers(c) {
    const cap = num(c.capacity), s = num(P.serviceMs);
    const n = cap && s ? Math.round((cap * s) / 1000) : 0;
    return n >= 1 ? n : num(c.workers) || 1;
  }
  function theoryCurve(c) {
    const cap = num(c.capacity), s = num(P.serviceMs), n = servers(c), pts = [];
    if (!cap || !s) return pts;
    for (let i = 0; i <= 90; i++) {
      const rho = 1 - 0.98 * Math.pow(1 - i / 91, 2);  // denser towards ρ → 1, where it bends
      pts.push([rho * cap, predictE2e(rho * cap, s, n)]);
    }
    return pts.filter((p) => p[1] != null);
  }
  function xAxis(c) {
    const hi = Math.max(num(c.capacity) || 0, ...steps(c).map((s) => num(s.offeredRps) || 0));
    return {label: "offered load (jobs/s)", unit: "jobs/s offered", min: 0,
            max: MQ.niceMax(hi * 1.04)};
  }
  function breakRef(c) {
    const b = obj(c.breakingPoint);
    return num(b.offeredRps) == null
               ? null
               : {kind: "v", value: b.offeredRps, label: "breaking point", cls: "breaking"};
  }

  function throughput(c) {
    const cap = num(c.capacity);
    const ach = at(c, (s) => num(s.achievedRps));
    const done = at(c, (s) => num(s.completedPerSec));
    const hi = Math.max(maxOf(ach, 0), maxOf(done, 0), cap || 0);
    return MQ.plot({
      chart: "throughput", cell: c.id, title: "Throughput", x: xAxis(c),
      y: {label: "per second", unit: "/s", min: 0, max: MQ.niceMax(hi * 1.08)},
      series: [{name: "achieved", color: C.achieved, points: ach},
               {name: c.kind === "sync" ? "completed (2xx)" : "jobs completed",
                color: C.completed, points: done, dash: "4 2"}],
      refs: [{kind: "h", value: cap, label: "capacity " + fmt(cap), cls: "capacity"},
             {kind: "diag", label: "y = x"}, breakRef(c)].filter(Boolean),
    });
  }

  function latency(c) {
    const slo = num(SLO.p99Ms);
    const measured = ["p50", "p95", "p99", "mean"].map((p) => ({
      name: p, color: C[p], dash: p === "mean" ? "3 2" : null,
      points: at(c, (s) => lat(s, "endToEnd", p)),
    }));
    const rungTheory = at(c, (s) => num(obj(s.theory)[THEORY_KEY]));
    const ys = [];
    for (const s of measured.concat([{points: rungTheory}])) {
      for (const p of s.points) if (p[1] != null && p[1] > 0) ys.push(p[1]);
    }
    let hi = ys.length ? Math.max(...ys) : slo || 1000;
    const lo = ys.length ? Math.min(...ys) : 1;
    if (slo && (state.log || hi >= slo / 4)) hi = Math.max(hi, slo);
    const y = state.log ? MQ.logDomain(lo, hi) : {min: 0, max: MQ.niceMax(hi * 1.08)};
    Object.assign(y, {log: state.log, label: state.log ? "ms (log)" : "ms", unit: "ms"});
    return MQ.plot({
      chart: "latency", cell: c.id, title: "Latency end to end", x: xAxis(c), y,
      series: measured.concat([
        {name: MODEL + " mean", color: C.theory, dash: "6 3", markers: false,
         points: theoryCurve(c), cls: "theory"},
        {name: MODEL + " at rung", color: C.theory, hollow: true, line: false, legend: false,
         points: rungTheory, cls: "theory-pt"}]),
      refs: [{kind: "h", value: slo, label: `SLO p99 ${fmt(slo)} ms`, cls: "slo"},
             breakRef(c)].filter(Boolean),
    });
  }

  function errors(c) {
    const slo = num(SLO.errorRate);
    const pts = at(c, (s) => (num(s.errorRate) == null ? null : s.errorRate * 100));
    const hi = Math.min(100, Math.max(maxOf(pts, 0) * 1.08, slo != null ? slo * 200 : 1, 1));
    return MQ.plot({
      chart: "errors", cell: c.id, title: "Error rate", x: xAxis(c),
      y: {label: "errors (% of sent)", unit: "%", min: 0, max: MQ.niceMax(hi)},
      series: [{name: "error rate", color: C.errors, points: pts}],
      refs: [{kind: "h", value: slo == null ? null : slo * 100, label: `SLO ${fmt(slo * 100)}%`,
              cls: "slo"}, breakRef(c)].filter(Boolean),
    });
  }

  // A rung's Prometheus series `key` as [[t, v], …] (usable points only), or null when it has
  // none: no step.prometheus (not recorded, or the query failed) or no point in the window.
  function promPoints(s, key) {
    const raw = obj(s.prometheus)[key];
    if (!Array.isArray(raw)) return null;
    const pts = raw.filter((p) => Array.isArray(p) && num(p[0]) != null && num(p[1]) != null);
    return pts.length ? pts : null;
  }
  const hasProm = (c, key) => steps(c).some((s) => promPoints(s, key) !== null);
  // The study's own samples of a rung as [[t, queueDepth], …] (queueDepth may be null).
  const sampled = (s) =>
      list(s.series).filter((p) => num(p.t) != null).map((p) => [p.t, num(p.queueDepth)]);

  // The rungs laid end to end: `get(s)` gives a rung's [t, v] points (t from the rung's start)
  // or null; each rung lasts stepSeconds, or as long as its points. Points with a null value
  // count for the rung's length but are not drawn.
  function overRungs(c, get) {
    let end = 0;
    const pts = [], bands = [], stepS = num(P.stepSeconds) || 0;
    for (const s of steps(c)) {
      const own = get(s) || [], ts = own.map((p) => p[0]);
      const last = ts.length ? Math.max(...ts) : 0;
      const dt = ts.length > 1 ? Math.abs(ts[1] - ts[0]) : 0.5;
      const dur = Math.max(stepS, last + dt);
      for (const p of own) if (p[1] != null) pts.push([end + p[0], p[1]]);
      bands.push({x0: end, x1: end + dur, label: fmt(num(s.multiple)) + "\u00d7"});
      end += dur;
    }
    return {pts, bands, x: {label: "time over the ladder's rungs (s)", unit: "s", min: 0,
                            max: end || 1}};
  }

  function queue(c) {
    let fromProm = 0;
    const r = overRungs(c, (s) => {
      const p = promPoints(s, "queueDepth");
      if (p) fromProm++;
      return p || sampled(s);
    });
    const n = steps(c).length;
    return MQ.plot({
      chart: "queue", cell: c.id, title: "Queue depth", bands: r.bands, x: r.x,
      source: fromProm === 0 ? "sampler" : fromProm === n ? "prometheus" : "mixed",
      empty: "no queue depth sampled",
      y: {label: "queue depth", min: 0, max: MQ.niceMax(maxOf(r.pts, 1) * 1.1)},
      series: [{name: "queue depth", color: C.depth, markers: false, area: true, points: r.pts,
                legend: false}],
    });
  }

  // Jobs in progress against the cell's model instances (workers × one job each).
  function inflight(c) {
    const r = overRungs(c, (s) => promPoints(s, "inflight"));
    const n = num(c.workers);
    return MQ.plot({
      chart: "inflight", cell: c.id, title: "In-flight work", bands: r.bands, x: r.x,
      source: "prometheus", empty: "no in-flight work recorded",
      y: {label: "jobs in progress", min: 0,
          max: MQ.niceMax(Math.max(maxOf(r.pts, 1), n || 1) * 1.1)},
      series: [{name: "in flight", color: C.inflight, markers: false, points: r.pts,
                legend: false}],
      refs: [{kind: "h", value: n, label: `${fmt(n)} instances`, cls: "capacity"}],
    });
  }

  // Busy fraction of the model instances, in percent.
  function utilisation(c) {
    const r = overRungs(c, (s) => promPoints(s, "utilisation"));
    const pts = r.pts.map((p) => [p[0], p[1] * 100]);
    return MQ.plot({
      chart: "utilisation", cell: c.id, title: "Utilisation", bands: r.bands, x: r.x,
      source: "prometheus", empty: "no utilisation recorded",
      y: {label: "busy (% of instances)", unit: "%", min: 0,
          max: Math.max(100, MQ.niceMax(maxOf(pts, 0) * 1.05))},
      series: [{name: "utilisation", color: C.utilisation, markers: false, area: true,
                points: pts, legend: false}],
      refs: [{kind: "h", value: 100, label: "100%", cls: "capacity"}],
    });
  }

  return {throughput, latency, errors, queue, inflight, utilisation, hasProm, MODEL, THEORY_KEY};
};
)js";
}

}  // namespace mqlab::report
