// One rung of a cell's ladder: open-model Poisson load at a multiple of capacity for a fixed
// time, with everything around it measured — the load generator's summary (submit latency from
// the intended send time; end-to-end job latency for async versions), the backlog over time
// (sampled from the target's /metrics every 0.5 s), CPU and resident memory of every process the
// cell started, the mean queue wait the workers saw, the queueing-theory prediction, and whether
// the rung met the SLO (and if not, how it broke).
//
// Threading: RunStep blocks; it runs the generator (its own threads) and one sampler thread.
#ifndef MQLAB_STUDY_STEP_H_
#define MQLAB_STUDY_STEP_H_

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "load/load.h"
#include "study/child.h"
#include "study/plan.h"

namespace mqlab::study {

// A cell whose processes are running.
struct RunningCell {
  const CellPlan* plan = nullptr;
  std::vector<std::unique_ptr<Child>> children;
  std::string target_url;  // base URL of the api/serve process
  // /metrics URLs of the processes that run jobs (workers, serve), for queue-wait figures.
  std::vector<std::string> job_metrics_urls;
};

// Starts the cell's processes in order (logs in `logs`/<cell>.<process>.log); on error, those
// already started are stopped by their destructors.
Result<RunningCell> StartCell(const CellPlan& plan, const StudyOptions& options,
                              const std::filesystem::path& logs);
// One request through the whole path (and, for async versions, one job to its end), so that a
// measurement starts on a warm system. DeadlineExceeded after 90 s.
Status Prime(const RunningCell& cell, std::stop_token stop);

struct StepProgress {
  double multiple = 0;
  double offered_rps = 0;
  load::LoadProgress load;
};

nlohmann::json RunStep(RunningCell& cell, const StudyOptions& options, double multiple,
                       uint64_t seed, std::stop_token stop,
                       const std::function<void(const StepProgress&)>& progress);

// The verdict of a step JSON (fields "endToEnd", "errorRate", "counts", "series"): whether it met
// the SLO, and if not what broke first. Exposed for tests.
struct Verdict {
  bool meets_slo = false;
  std::string breaks_by;  // "" when it meets the SLO
};
Verdict Judge(const nlohmann::json& step, const StudyOptions& options);

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_STEP_H_
