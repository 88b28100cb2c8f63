// A study's results.json (schema "mqlab.study/1", docs/results-schema.md) read into typed values:
// what the summary tables, the page's header and `mqlab compare` need. The HTML page's charts
// read the raw document (Report::raw) in the browser instead (the Prometheus series of each
// rung, step.prometheus, among them), so a field the schema gains shows up there without a
// change here.
//
// Reading is tolerant where the schema allows it and strict where a mistake would mislead:
//   - a field that is null or absent reads as "not measured" (std::nullopt / empty string): the
//     schema says an unmeasurable figure is null, and an interrupted study (complete: false)
//     may lack whole steps;
//   - a field of the wrong type (a string where a number belongs) is an error naming its path
//     (cells[2].steps[0].endToEnd.p99), since reading it as null would hide a writer's bug;
//   - another schema (mqlab.study/2, or none) is refused with a message saying which one this
//     build reads: figures under a changed meaning must not be rendered as if they were ours.
//
// CHECKLIST: a field used here is documented in docs/results-schema.md; a change of meaning there
// bumps kSchema (and the runner's writer) together.
//
// Threading: plain values; the functions are thread-safe.
#ifndef MQLAB_REPORT_RESULTS_H_
#define MQLAB_REPORT_RESULTS_H_

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::report {

inline constexpr std::string_view kSchema = "mqlab.study/1";

// A measured figure; nullopt when the study could not measure it.
using Num = std::optional<double>;

// Latency percentiles in milliseconds, on the named clock ("intended" or "actual").
struct Latency {
  std::string clock;
  Num count, mean, p50, p90, p95, p99, p999, max;
};

// Queueing-theory predictions for one rung; absent beyond saturation (ρ ≥ 1).
struct Theory {
  Num rho, wq_mdc_ms, wq_mmc_ms, e2e_mdc_ms, e2e_mmc_ms;
};

struct Step {
  Num multiple;  // offered load / capacity
  Num offered_rps, sent_rps, achieved_rps, completed_per_sec;
  Latency submit, end_to_end;
  Num queue_wait_mean_ms;
  Num error_rate;       // 0..1
  Num max_queue_depth;  // the largest queueDepth of the step's series
  std::optional<Theory> theory;
  std::optional<bool> meets_slo;
  std::string breaks_by;  // "" when it met the SLO (or was not judged)
};

struct BreakingPoint {
  Num offered_rps, multiple;
  std::string how;
};

struct Cell {
  std::string id, version, kind, backend, backpressure;
  int workers = 0;
  Num capacity;                                 // jobs/s
  std::vector<Step> steps;                      // in ladder order
  std::optional<BreakingPoint> breaking_point;  // nullopt: no rung met the SLO

  // The step whose multiple is within 1e-6 of `multiple`, or nullptr.
  const Step* StepAt(double multiple) const;
  // The step with the largest multiple (the highest rung), or nullptr when there is none.
  const Step* HighestStep() const;
};

struct HarnessCheck {
  std::string cell;
  Num rho, measured_wait_ms, mdc_wait_ms, ratio;
  std::optional<bool> ok;
  std::string model;       // the queueing model compared with: "M/D/c" (fixed service) or "M/M/c"
  Num predicted_wait_ms;   // that model's mean queue wait (older results: M/D/c's, mdc_wait_ms)
};

// Key/value pairs shown as they are (numbers as written, arrays joined), in the schema's order.
using Facts = std::vector<std::pair<std::string, std::string>>;

struct Parameters {
  Num service_ms;
  std::string service_dist, mode, arrivals;
  Num slo_p99_ms, slo_error_rate;
  std::vector<double> ladder;
  std::vector<std::string> versions;  // the order the study ran them in
  Facts all;                          // every parameter but the SLO, for the header
};

// results.prometheus: the server the rungs' step.prometheus series were read from.
struct PrometheusInfo {
  Num scrape_interval_s;
  std::string study;  // the "study" label of the run's series in that server
};

struct Report {
  std::string schema, mqlab_version, started_at, finished_at, profile;
  std::optional<bool> complete;
  Facts machine, servers;
  Parameters parameters;
  std::vector<Cell> cells;
  std::optional<HarnessCheck> harness_check;
  // nullopt: not recorded to Prometheus (--prometheus off, not installed, or older results).
  std::optional<PrometheusInfo> prometheus;
  std::vector<std::string> warnings;
  nlohmann::json raw;  // the whole document, as read
  // chaos.json found beside results.json (`mqlab chaos --out` the study's folder), or null: then
  // the goal tables end with the Stability table (report/stability.h).
  nlohmann::json chaos;
  // overload.json found beside results.json (`mqlab overload --out` the study's folder), or null:
  // then the goal tables end with the Overload table (report/overload_table.h).
  nlohmann::json overload;

  // The cell with this version, worker count and backpressure, or nullptr.
  const Cell* Find(std::string_view version, int workers, std::string_view backpressure) const;
  // Versions in the order of parameters.versions, then any other cell's version in cell order.
  std::vector<std::string> Versions() const;
  // Worker counts present in the cells, ascending.
  std::vector<int> WorkerCounts() const;
};

// Reads a parsed document. InvalidArgument for another schema or a field of the wrong type.
Result<Report> ParseResults(const nlohmann::json& doc);

// Reads `path` (a results.json, or a folder holding one). NotFound when it is missing,
// InvalidArgument when it is not JSON or not readable as above; messages name the file.
Result<Report> LoadResults(const std::filesystem::path& path);

}  // namespace mqlab::report

#endif  // MQLAB_REPORT_RESULTS_H_
