// mqlab's load generator as a library: what `mqlab load` runs, and what `mqlab study` calls in
// process for every rung of its ladders.
//
//   load::LoadOptions o;
//   o.url = "http://127.0.0.1:8080/mem/ocr/jobs";
//   o.body = R"({"inputPath":"inputs/page.png"})";
//   o.rate = 200;                               // open model, 200 requests/s
//   o.arrivals = load::Arrivals::kPoisson;
//   o.seed = 42;
//   o.duration = std::chrono::seconds(30);
//   o.follow = true;                            // end-to-end job latency too
//   o.thresholds = {"e2e_p99<2s", "errors<1%"};
//   Result<load::LoadSummary> s = load::RunLoad(o, stop_source.get_token());
//   // s->latency.p99_ms (intended clock), s->follow.e2e.p99_ms, s->thresholds_ok, ToJson(*s)
//
// What it does (docs/notes-load.md has the why): options → defaults resolved → URL resolved and
// one connection tried (so a wrong URL fails before the test, not as N connection errors) →
// `threads` workers (worker.h), each with its own event loop, connections and histograms → the
// arrival schedule (schedule.h) or the virtual users run for warm-up + duration → in-flight
// requests finish, --follow'd jobs finish → per-thread figures merged (recorder.h) →
// thresholds evaluated, warnings written (the generator could not keep up, …).
//
// Errors: InvalidArgument for options that do not validate (the message names the flag), or
// Unavailable / DeadlineExceeded when the target cannot be resolved or connected to at start.
// Once the test runs, failures of requests are figures (timeouts, connection errors), not errors.
//
// Threading: RunLoad blocks the calling thread and starts `threads` threads of its own; several
// RunLoad calls may run at once (they share nothing). `stop` ends the test early: sending stops,
// the backlog is dropped, requests in flight get up to `timeout`, following stops; the summary
// covers what was measured and says it stopped early. `progress` is called about once a second
// on the calling thread.
#ifndef MQLAB_LOAD_LOAD_H_
#define MQLAB_LOAD_LOAD_H_

#include <cstdint>
#include <functional>
#include <stop_token>

#include "load/options.h"
#include "load/summary.h"
#include "load/threshold.h"
#include "mqlab/common/status.h"

namespace mqlab::load {

struct LoadProgress {
  double elapsed_seconds = 0;  // since the start of the warm-up
  double total_seconds = 0;    // warm-up + measured duration (the plan)
  bool warming_up = false;
  uint64_t sent = 0, completed = 0, errors = 0, dropped = 0, late = 0, jobs_finished = 0;
};
using ProgressFn = std::function<void(const LoadProgress&)>;

Result<LoadSummary> RunLoad(const LoadOptions& options, std::stop_token stop = {},
                            const ProgressFn& progress = {});

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_LOAD_H_
