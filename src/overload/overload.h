// `mqlab overload`: a sustained burst far above capacity, with backpressure on and off, and what a
// client sees before, during and after it (issue 6, "Overload").
//
// For each version and backpressure setting, one cell of the study (the same processes, started
// the same way: study/step.h StartCell) is driven by one open-model load (load.h) in three phases
// without a pause between them:
//   before  `before_seconds` at 0.5 × capacity (the baseline),
//   burst   `burst_seconds` at `multiple` × capacity (default 3× for 2 minutes),
//   after   `after_seconds` at 0.5 × capacity (does it come back, and how fast?).
// Meanwhile, every `probe_interval`, a probe — one more request, sent outside the load's
// connections — measures what a new client sees at that moment: for async versions the job's
// whole life (submit, then polls of its Location until it is finished), for sync versions the
// response time; a rejected probe records its status and whether it carried Retry-After. And
// every second the resident memory (RSS) of every process of the cell is read from /proc.
//
// Figures per run (overload.json, schema mqlab.overload/1; overload.md, the table):
//   rssMb             the front process's (api/serve) RSS: at the end of the baseline, the most
//                     during the burst, and its growth over the burst's second half (MB/min:
//                     "flat" is near 0);
//   acceptedP99Ms     the p99 of what was accepted during the burst: probes' job latency (async)
//                     or the load's 2xx responses (sync);
//   rejections        by status (429/503), their share of the burst's requests, and how many of
//                     the rejected probes carried Retry-After;
//   recoverySeconds   from the burst's end to the first probe from which no 5 consecutive probes
//                     hold more than one outside "normal" = max(2 × baseline median, baseline
//                     median + 100 ms, 1.5 × baseline p95) (a rejection counts as outside; one
//                     stray slow probe is a shared host's noise); null if it never came back
//                     within `after_seconds`;
//   survived          the processes are still alive at the end.
// A verdict per run says whether the expected behaviour held: with backpressure on, RSS flat
// (growth ≤ 16 MB/min), accepted p99 under the SLO, every rejected probe with Retry-After and
// recovery within 10 s; with it off, the process survived and latency grew (the last burst
// probes ≥ 5 × the baseline).
//
// Threading: RunOverload blocks the calling thread (and runs a sampler and probe threads of its
// own); `stop` ends the current run early, what was measured is kept.
#ifndef MQLAB_OVERLOAD_OVERLOAD_H_
#define MQLAB_OVERLOAD_OVERLOAD_H_

#include <filesystem>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "mqlab/common/status.h"

namespace mqlab::overload {

struct OverloadOptions {
  // Versions to overload. Default: mem (async, in-process) and v1 (sync, async executor).
  std::vector<std::string> versions = {"mem", "v1"};
  std::vector<std::string> backpressure = {"on", "off"};  // Default: both
  int workers = 2;              // workers / OCR instances. Default: 2
  double service_ms = 20;       // fixed service time. Default: 20 (capacity 100/s with 2)
  double multiple = 3;          // the burst's offered load / capacity. Default: 3
  double before_seconds = 10;   // Default: 10
  double burst_seconds = 120;   // Default: 120
  double after_seconds = 30;    // Default: 30
  double probe_interval_ms = 500;  // Default: 500
  double slo_p99_ms = 2000;     // Default: 2 s, as the study's
  uint64_t seed = 1;
  std::filesystem::path out;    // Default: results/overload-<UTC timestamp>
  std::filesystem::path runtime_dir = ".mqlab";
  std::filesystem::path binary;  // Default: this binary

  Status Validate() const;
};

// Runs every (version, backpressure) pair; writes out/overload.json and out/overload.md (and
// re-renders out's study report when out holds a results.json). Returns the document.
Result<nlohmann::json> RunOverload(const OverloadOptions& options, std::stop_token stop,
                                   std::shared_ptr<spdlog::logger> log);

// The derived figures and verdict of one run from its raw series (exposed for tests):
// `run` holds "backpressure", "kind" ("async"|"sync"), "phases" {before,burst,after: [start,end)
// seconds}, "rss" [{t, front}], "probes" [{t, status, latencyMs|null, retryAfter}], "load"
// (the load summary JSON, for sync acceptedP99 and rejections). Adds "figures" and "verdict".
void Judge(nlohmann::json& run, double slo_p99_ms);

// The Markdown table of a document.
std::string OverloadMarkdown(const nlohmann::json& doc);

}  // namespace mqlab::overload

#endif  // MQLAB_OVERLOAD_OVERLOAD_H_
