// The study's answers to the original study's goals (seed/message-queue-study.en.md § Goals), as
// tables computed once from a Report and rendered twice: summary.md (here) and the page
// (html.h).
//
//   sync-async    per version × workers (backpressure on): capacity, breaking point in jobs/s
//                 and as a fraction of capacity, how it breaks, p99 end to end at 0.8×.
//   workers       per version × backpressure: breaking point at 1/2/4 workers and its ratio to
//                 the fewest workers' (the ideal ratio is the worker count).
//   backpressure  per version × workers, at the highest rung: error rate, p99 end to end of the
//                 accepted requests, largest queue depth and how it breaks, on vs off.
// plus the harness check (mem at ρ = 0.8 against M/D/c) and the run's header (machine,
// parameters, server versions, clock).
//
// A breaking point at the highest rung that still met the SLO is written "≥ N": the study did
// not climb far enough to see it break, and the table must not suggest it did.
//
// Threading: pure functions.
#ifndef MQLAB_REPORT_SUMMARY_H_
#define MQLAB_REPORT_SUMMARY_H_

#include <string>
#include <vector>

#include "report/format.h"
#include "report/results.h"

namespace mqlab::report {

// The three goal tables, in the order above, then the Stability table when the report has
// chaos.json (report/stability.h). A table whose comparison needs cells the study did
// not run (e.g. backpressure off) is still returned, with no rows.
std::vector<Table> GoalTables(const Report& r);

// The harness check as one sentence, and whether it passed (nullopt: not run or not judged).
struct HarnessLine {
  std::string text;
  std::optional<bool> ok;
};
HarnessLine DescribeHarness(const Report& r);

// Which clock the latency figures are on, in words ("from the intended send time (open model,
// no coordinated omission)"); several clocks are listed.
std::string DescribeClock(const Report& r);

// The SLO in words: "p99 end to end ≤ 2000 ms and errors ≤ 1%".
std::string DescribeSlo(const Report& r);

// Whether the run recorded to Prometheus, in words: "scraped every 1 s (series labelled
// study=…)" or "not recorded".
std::string DescribePrometheus(const Report& r);

// The whole summary.md.
std::string RenderSummaryMarkdown(const Report& r);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_SUMMARY_H_
