#include "report/summary.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "report/overload_table.h"
#include "report/stability.h"

namespace mqlab::report {
namespace {

bool Near(Num a, Num b) { return a && b && std::abs(*a - *b) < 1e-6; }

// The cell met the SLO on its highest rung: its real breaking point lies above the ladder.
bool HeldToTop(const Cell& c) {
  const Step* top = c.HighestStep();
  return c.breaking_point && top && top->meets_slo.value_or(false) &&
         Near(c.breaking_point->multiple, top->multiple);
}

std::string BreakingRps(const Cell& c) {
  if (!c.breaking_point) return "none";
  return (HeldToTop(c) ? "≥ " : "") + Figure(c.breaking_point->offered_rps);
}

std::string BreakingFraction(const Cell& c) {
  if (!c.breaking_point) return std::string(kDash);
  Num m = c.breaking_point->multiple;
  if (!m && c.breaking_point->offered_rps && c.capacity && *c.capacity > 0) {
    m = *c.breaking_point->offered_rps / *c.capacity;
  }
  return (HeldToTop(c) ? "≥ " : "") + Figure(m);
}

std::string HowItBreaks(const Cell& c) {
  if (HeldToTop(c)) return "held to the top rung";
  if (c.breaking_point) return c.breaking_point->how.empty() ? "—" : c.breaking_point->how;
  const Step* first = c.steps.empty() ? nullptr : &c.steps.front();
  if (first && !first->breaks_by.empty()) return "below the lowest rung: " + first->breaks_by;
  return "below the lowest rung";
}

// How one rung ended: "holds" when it met the SLO, else what broke it.
std::string StepOutcome(const Step* s) {
  if (!s || !s->meets_slo) return std::string(kDash);
  if (*s->meets_slo) return "holds";
  return s->breaks_by.empty() ? "misses the SLO" : s->breaks_by;
}

// p99 end to end at 0.8× capacity; without that rung, the nearest rung below capacity, named.
std::string P99AtLoad(const Cell& c, double multiple) {
  if (const Step* s = c.StepAt(multiple)) return Figure(s->end_to_end.p99);
  const Step* best = nullptr;
  for (const Step& s : c.steps) {
    if (!s.multiple || *s.multiple >= 1) continue;
    if (!best || std::abs(*s.multiple - multiple) < std::abs(*best->multiple - multiple)) best = &s;
  }
  if (!best) return std::string(kDash);
  return fmt::format("{} (at {})", Figure(best->end_to_end.p99), Multiple(best->multiple));
}

std::string WorkersLabel(int n) { return fmt::format("{} worker{}", n, n == 1 ? "" : "s"); }

Table SyncAsyncTable(const Report& r) {
  Table t{"sync-async",
          "Sync vs async: where each version breaks",
          "Per version and worker count, backpressure on (off where only off ran). Breaking "
          "point: the highest offered load that met the SLO, in jobs/s and as a fraction of "
          "capacity (workers × concurrency / mean service time); \"≥\" when the top rung still "
          "met it. p99 end to end at 0.8× capacity: the latency well below the limit.",
          {"Version", "Kind", "Backend", "Workers", "Backpressure", "Capacity (jobs/s)",
           "Breaking point (jobs/s)", "× capacity", "Breaks by", "p99 e2e at 0.8× (ms)"},
          {}};
  for (const std::string& v : r.Versions()) {
    for (int w : r.WorkerCounts()) {
      const Cell* c = r.Find(v, w, "on");
      if (!c) c = r.Find(v, w, "off");
      if (!c) continue;
      t.rows.push_back({c->version, c->kind, c->backend, std::to_string(w), c->backpressure,
                        Figure(c->capacity), BreakingRps(*c), BreakingFraction(*c), HowItBreaks(*c),
                        P99AtLoad(*c, 0.8)});
    }
  }
  return t;
}

// "160 (2×)": the breaking point and its ratio to the base cell's.
std::string ScaledBreakingPoint(const Cell& c, const Cell* base) {
  std::string text = BreakingRps(c);
  if (!base || base == &c || !c.breaking_point || !base->breaking_point) return text;
  Num a = base->breaking_point->offered_rps, b = c.breaking_point->offered_rps;
  if (!a || !b || *a <= 0) return text;
  const bool up = HeldToTop(c), base_up = HeldToTop(*base);
  if (up && base_up) return text;  // both only lower bounds: no ratio can be told
  std::string ratio = Figure(*b / *a) + "×";
  if (up && !base_up) ratio = "≥ " + ratio;
  if (base_up && !up) ratio = "≤ " + ratio;
  return fmt::format("{} ({})", text, ratio);
}

Table WorkersTable(const Report& r) {
  std::vector<int> counts = r.WorkerCounts();
  Table t{"workers",
          "Workers: how the breaking point scales",
          counts.empty() ? std::string()
                         : fmt::format("Breaking point in jobs/s per worker count (OCR servers "
                                       "for v2, model instances for v0/v1) and, in parentheses, "
                                       "its ratio to {}'s; the ideal ratio is the worker count.",
                                       WorkersLabel(counts.front())),
          {"Version", "Backpressure"},
          {}};
  for (int w : counts) t.header.push_back(WorkersLabel(w) + " (jobs/s)");
  for (const std::string& v : r.Versions()) {
    for (const char* bp : {"on", "off"}) {
      std::vector<std::string> row{v, bp};
      const Cell* base = nullptr;
      bool any = false;
      for (int w : counts) {
        const Cell* c = r.Find(v, w, bp);
        if (c && !base) base = c;
        any = any || c;
        row.push_back(c ? ScaledBreakingPoint(*c, base) : std::string(kDash));
      }
      if (any) t.rows.push_back(std::move(row));
    }
  }
  return t;
}

std::string HighestRung(const Cell* on, const Cell* off) {
  const Step* a = on ? on->HighestStep() : nullptr;
  const Step* b = off ? off->HighestStep() : nullptr;
  if (a && b && !Near(a->multiple, b->multiple)) {
    return Multiple(a->multiple) + " / " + Multiple(b->multiple);
  }
  const Step* s = a ? a : b;
  if (!s) return std::string(kDash);
  return fmt::format("{} ({}/s)", Multiple(s->multiple), Figure(s->offered_rps));
}

Table BackpressureTable(const Report& r) {
  Table t{
      "backpressure",
      "Backpressure on vs off at the highest rung",
      "The top of each ladder, well beyond capacity. On: excess requests are rejected at "
      "once (429/503) and what is accepted stays fast. Off: everything is accepted and "
      "waits. Errors: rejections, timeouts, connection errors and failed jobs over "
      "requests sent; p99: end to end of the accepted requests.",
      {"Version", "Workers", "Highest rung", "Errors on", "Errors off", "p99 on (ms)",
       "p99 off (ms)", "Max queue on", "Max queue off", "How it breaks on", "How it breaks off"},
      {}};
  for (const std::string& v : r.Versions()) {
    for (int w : r.WorkerCounts()) {
      const Cell* on = r.Find(v, w, "on");
      const Cell* off = r.Find(v, w, "off");
      if (!on || !off) continue;
      const Step* a = on->HighestStep();
      const Step* b = off->HighestStep();
      auto f = [](const Step* s, auto get) { return s ? get(*s) : std::string(kDash); };
      t.rows.push_back({v, std::to_string(w), HighestRung(on, off),
                        f(a, [](const Step& s) { return Percent(s.error_rate); }),
                        f(b, [](const Step& s) { return Percent(s.error_rate); }),
                        f(a, [](const Step& s) { return Figure(s.end_to_end.p99); }),
                        f(b, [](const Step& s) { return Figure(s.end_to_end.p99); }),
                        f(a, [](const Step& s) { return Figure(s.max_queue_depth); }),
                        f(b, [](const Step& s) { return Figure(s.max_queue_depth); }),
                        StepOutcome(a), StepOutcome(b)});
    }
  }
  return t;
}

std::string FactsLine(const Facts& facts, std::string_view if_none = kDash) {
  std::string out;
  for (const auto& [k, v] : facts) {
    out += fmt::format("{}{} {}", out.empty() ? "" : " · ", k, v);
  }
  return out.empty() ? std::string(if_none) : out;
}

}  // namespace

std::vector<Table> GoalTables(const Report& r) {
  std::vector<Table> tables = {SyncAsyncTable(r), WorkersTable(r), BackpressureTable(r)};
  if (r.chaos.is_object()) tables.push_back(StabilityTable(r.chaos));  // `mqlab chaos` beside it
  if (r.overload.is_object()) tables.push_back(OverloadTable(r.overload));  // `mqlab overload`
  return tables;
}

HarnessLine DescribeHarness(const Report& r) {
  if (!r.harness_check) {
    return {"Harness check: not run (it needs the mem version and --harness-seconds above 0).",
            std::nullopt};
  }
  const HarnessCheck& h = *r.harness_check;
  std::string text = fmt::format(
      "Harness check ({}, ρ = {}): measured mean queue wait {} ms vs {} {} ms, ratio {}",
      h.cell.empty() ? "mem" : h.cell, Figure(h.rho), Figure(h.measured_wait_ms),
      h.model.empty() ? "M/D/c" : h.model,
      Figure(h.predicted_wait_ms ? h.predicted_wait_ms : h.mdc_wait_ms), Figure(h.ratio));
  if (!h.ok) return {text + " (not judged).", std::nullopt};
  if (*h.ok) return {text + ": OK, the harness measures the system, not itself.", true};
  return {text +
              ": NOT OK. The ideal queue does not behave as theory says, so the load generator "
              "or the machine may be shaping the figures; read them with care.",
          false};
}

std::string DescribeClock(const Report& r) {
  std::set<std::string> clocks;
  for (const Cell& c : r.cells) {
    for (const Step& s : c.steps) {
      if (!s.end_to_end.clock.empty()) clocks.insert(s.end_to_end.clock);
      if (!s.submit.clock.empty()) clocks.insert(s.submit.clock);
    }
  }
  std::string out;
  for (const std::string& c : clocks) {
    std::string words = c == "intended"
                            ? "from the intended send time (open model, no coordinated omission)"
                        : c == "actual" ? "from the actual send time"
                                        : "on the \"" + c + "\" clock";
    out += (out.empty() ? "" : "; ") + words;
  }
  return out.empty() ? "not stated" : out;
}

std::string DescribeSlo(const Report& r) {
  const Parameters& p = r.parameters;
  return fmt::format("p99 end to end ≤ {} ms and errors ≤ {}", Figure(p.slo_p99_ms),
                     Percent(p.slo_error_rate));
}

std::string DescribePrometheus(const Report& r) {
  if (!r.prometheus) return "not recorded (--prometheus off, or Prometheus not installed)";
  std::string text =
      r.prometheus->scrape_interval_s
          ? fmt::format("every process scraped every {} s", Figure(r.prometheus->scrape_interval_s))
          : std::string("every process scraped");
  if (!r.prometheus->study.empty()) {
    text += fmt::format(" (series labelled study=\"{}\")", r.prometheus->study);
  }
  return text + "; queue depth, in-flight and utilisation charts drawn from it";
}

std::string RenderSummaryMarkdown(const Report& r) {
  std::string md = fmt::format("# mqlab study — {}\n\n", EscapeMarkdown(TitleTime(r.started_at)));
  if (r.complete == false) {
    md += "**Incomplete run: the study was stopped early; below is what was measured.**\n\n";
  }
  md += fmt::format("- **Run:** mqlab {} · profile {} · {} → {}\n", EscapeMarkdown(r.mqlab_version),
                    EscapeMarkdown(r.profile), EscapeMarkdown(r.started_at),
                    EscapeMarkdown(r.finished_at));
  md += "- **Machine:** " + EscapeMarkdown(FactsLine(r.machine)) + "\n";
  md += "- **Servers:** " + EscapeMarkdown(FactsLine(r.servers, "none used")) + "\n";
  md += "- **Prometheus:** " + EscapeMarkdown(DescribePrometheus(r)) + "\n";
  md += "- **Parameters:** " + EscapeMarkdown(FactsLine(r.parameters.all)) + "\n";
  md += "- **SLO:** " + DescribeSlo(r) + "\n";
  md += "- **Latency clock:** " + EscapeMarkdown(DescribeClock(r)) + "\n\n";
  md += EscapeMarkdown(DescribeHarness(r).text) + "\n\n";
  for (const Table& t : GoalTables(r)) {
    md += fmt::format("## {}\n\n{}\n\n", t.title, EscapeMarkdown(t.caption));
    md += t.rows.empty() ? "_No cells to compare in this run._\n\n" : MarkdownTable(t) + "\n";
  }
  if (!r.warnings.empty()) {
    md += "## Warnings\n\n";
    for (const std::string& w : r.warnings) md += "- " + EscapeMarkdown(w) + "\n";
    md += "\n";
  }
  md +=
      "Charts: report.html (open it in a browser; it needs no network). Every figure: "
      "results.json.\n";
  return md;
}

}  // namespace mqlab::report
