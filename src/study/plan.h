// What a study runs: its options (profiles `quick` and `full`, narrowed by flags) and the cells
// they expand to — version × workers × backpressure — each with the processes it starts and the
// URL its load goes to.
//
// How "workers" maps onto each version (the study's one capacity knob, DESIGN.md § The seven
// architectures): V0 and V1 call one OCR server with that many model instances
// (ocr-server --concurrency N); V2 calls N OCR servers of one instance each; mem runs
// `serve --workers N`; V3-V6 run N `mqlab worker` processes of concurrency 1. In every case the
// capacity is N / mean service time.
#ifndef MQLAB_STUDY_PLAN_H_
#define MQLAB_STUDY_PLAN_H_

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mqlab/common/status.h"
#include "study/child.h"

namespace mqlab::study {

struct StudyOptions {
  std::string profile = "quick";  // Default: quick (every cell, short steps, ≤ 10 min on 2 cores)
  // The harness check's own run: mem, 2 workers, ρ = 0.8, this long (long enough for the queue to
  // reach its steady state). Default: 15 s quick, 60 s full; 0 skips it.
  double harness_seconds = -1;
  std::vector<std::string> versions;  // Default: all: v0 v1 v2 v3 v4 v5 v6 mem
  std::vector<int> workers;           // Default: 1 2 4
  std::vector<std::string> backpressure;  // Default: on off
  double service_ms = 20;             // Default: 20 (quick), 50 (full)
  std::string service_dist = "fixed";
  std::string mode = "sleep";
  std::vector<double> ladder;         // offered load as multiples of capacity
  double step_seconds = 0;            // measured time per rung. Default: 1.5 s quick, 15 s full
  double warmup_seconds = 0.25;       // load before each rung, not measured
  double follow_timeout_seconds = 15;  // async: how long jobs may take to finish after a rung
  double slo_p99_ms = 2000;           // Default: 2 s end to end
  double slo_error_rate = 0.01;       // Default: 1%
  uint64_t seed = 1;
  std::filesystem::path out;          // Default: results/<UTC timestamp>
  std::filesystem::path runtime_dir = ".mqlab";
  std::filesystem::path binary;       // Default: this binary
  // Record every process to a private Prometheus (prometheus_recorder.h): "on" (fail if it
  // cannot start), "off", or "auto" = on when the prometheus binary is installed, and the study
  // goes on without it (with a warning) if it cannot start. Default: auto.
  std::string prometheus = "auto";
  // Before a cell's first rung, wait until Prometheus scrapes the cell's new targets (its
  // discovery takes 0.5–7 s), so that every rung's series is whole: "on", "off", or "auto" = on
  // for the full profile, off for the quick one (49 waits would add ~4 minutes to a study that
  // must take at most 10; a rung Prometheus missed the start of is drawn from the study's own
  // 0.5 s samples). Default: auto.
  std::string prometheus_wait = "auto";

  // Fills what the profile decides and the caller left empty.
  Status ApplyProfile();
  Status Validate() const;
};

struct CellPlan {
  std::string id;       // "v3-w2-on"
  std::string version;  // "v3"
  std::string kind;     // "async" | "sync"
  std::string backend;  // "postgres", "redis", "rabbitmq", "kafka", "memory", "ocr"
  int workers = 1;
  bool backpressure = true;
  double capacity = 0;  // jobs/s
  // Processes in start order; the one named "api" or "serve" is the load's target.
  std::vector<ChildSpec> children;
  std::string target_path;  // "/v3/ocr/jobs"
  std::string depth_series;  // the /metrics series of its backlog, e.g. mqlab_queue_depth{backend="redis"}
};

// Server URLs the cells need (from `mqlab services` or the user's own).
struct ServerUrls {
  std::map<std::string, std::string> by_service;  // "postgres" → URL
};

// The servers a set of versions needs, in start order.
std::vector<std::string> ServicesFor(const std::vector<std::string>& versions);
// All cells of the study, in run order (versions in the given order, then workers, then on/off).
std::vector<CellPlan> PlanCells(const StudyOptions& options, const ServerUrls& urls,
                                const std::filesystem::path& data_dir);
// The backend of a version: "ocr" for v0-v2, "memory" for mem, the queue kind for v3-v6.
std::string BackendOf(const std::string& version);

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_PLAN_H_
