// PrometheusRecorder: `mqlab study --prometheus`. The processes of each cell become scrape
// targets of a private Prometheus for the cell's life, and after the rungs the study reads back,
// per rung, the series its report draws and results.json keeps (docs/results-schema.md,
// step.prometheus).
//
// Targets: Watch() writes the target group "study-<run id>" (targets.d/ in the server's runtime
// folder, services/prometheus_service.h) with one target per process of the cell, labelled
// study (this run), cell (its id) and process (api, serve, worker-0, ocr-1, …), replacing the
// previous cell's; Unwatch() empties it; the destructor removes the file.
//
// Series, over a rung's time window, by query_range at the scrape interval on a grid that ends at
// the window's end (t in seconds from the window's start; a point Prometheus has no value for is
// left out, never written as 0; each value is the last scrape at or before t):
//   queueDepth   the backlog as the cell's load target (api or serve) reports it: the series the
//                0.5 s sampler reads too (CellPlan::depth_series): mqlab_queue_depth{backend} for
//                async cells, the API's mqlab_inflight{component=vN} for sync ones;
//   inflight     jobs being processed right now: mqlab_inflight{component="worker"|"ocr"} summed
//                over the cell's processes;
//   utilisation  the busy fraction of the cell's model instances: processing seconds done per
//                second (irate of mqlab_job_processing_seconds_sum, summed over the processes)
//                over the cell's instance count (CellPlan::workers: each worker process, each
//                serve worker, each OCR model instance runs one job at a time). irate, not
//                rate: each point is exactly the last scrape interval, nothing extrapolated.
//
// Timing: a new target is scraped only after Prometheus' discovery delay (up to ~7 s, see
// prometheus_service.h), so the runner watches the cell before priming it and waits
// (WaitScraped) before the first rung; after the last rung it waits for one more scrape so
// that the last window is covered.
//
// Threading: one thread (the study's).
#ifndef MQLAB_STUDY_PROMETHEUS_RECORDER_H_
#define MQLAB_STUDY_PROMETHEUS_RECORDER_H_

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "mqlab/common/status.h"
#include "services/prometheus_query.h"
#include "study/step.h"

namespace mqlab::study {

// True when the prometheus binary the launcher runs is installed.
bool PrometheusInstalled();

// A rung's time window, Unix seconds.
struct Window {
  double start = 0, end = 0;
};

class PrometheusRecorder {
 public:
  // For the server at `url` living in `runtime_dir`; `run_id` names this study run (label
  // "study", group "study-<run_id>": [A-Za-z0-9_.-]). Errors: the server does not answer.
  static Result<std::unique_ptr<PrometheusRecorder>> Open(std::string url,
                                                          std::filesystem::path runtime_dir,
                                                          std::string run_id);
  ~PrometheusRecorder();

  // results["prometheus"]: {"url" (redacted), "scrapeIntervalSeconds", "study"}.
  nlohmann::json Info() const;

  // Registers the processes of `cell` (replacing the previous cell's). `cell` must outlive the
  // next Unwatch() or Watch().
  Status Watch(const RunningCell& cell);
  // Waits until every watched process has been scraped at or after `since` (Unix seconds);
  // false at the timeout (or when nothing is watched).
  bool WaitScraped(double since, std::chrono::milliseconds timeout);
  // The watched cell's series over `w`: {"queueDepth": [[t, v], …], "inflight": …,
  // "utilisation": …}. Errors: a query Prometheus refuses or does not answer.
  Result<nlohmann::json> Series(const Window& w);
  // For a cell's rungs, once they are all done: waits for a scrape after the last window, then
  // sets steps[i]["prometheus"] to Series(windows[i]) (null when it fails, with a warning in
  // `warnings`). REQUIRES: steps.size() == windows.size().
  void AddSeries(nlohmann::json& steps, const std::vector<Window>& windows,
                 nlohmann::json& warnings);
  // Stops scraping the watched cell.
  void Unwatch();

 private:
  PrometheusRecorder(std::string url, std::filesystem::path runtime_dir, std::string run_id,
                     double interval_s);
  // `selector` narrowed to the watched cell (and `more` labels).
  std::string Ours(std::string_view selector, services::Labels more = {}) const;

  const std::string url_;
  const std::filesystem::path runtime_dir_;
  const std::string run_id_;
  const double interval_s_;
  services::PrometheusQuery query_;
  const RunningCell* cell_ = nullptr;
};

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_PROMETHEUS_RECORDER_H_
