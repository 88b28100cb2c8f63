// k6-style pass/fail criteria of a load test: "p99<500ms", "errors<1%", "rps>100",
// "e2e_p99<2s". Any failed threshold makes `mqlab load` exit 99 (k6's code).
//
// Grammar: METRIC OP VALUE, OP one of < <= > >= ==, spaces allowed.
//   latency     p50 p90 p95 p99 p99.9 (also k6's p(99)), med, min, max, mean (avg): the request
//               latency on the summary's primary clock (intended send in the open model, actual
//               send in the closed); e2e_… the same of end-to-end job latency (--follow).
//               VALUE is a duration ("500ms", "2s"); a bare number is in ms (as k6).
//   rate        errors (failed requests: non-2xx/3xx, timeouts, connection errors, over all
//               requests sent), timeouts, dropped and late (over all scheduled arrivals).
//               VALUE is "1%" or a fraction ("0.01").
//   throughput  rps (responses/s over the measured time), jobs_per_s (jobs seen finished per
//               second, --follow). VALUE is a number, "/s" optional.
// A metric without samples (no responses, no finished jobs) fails its threshold.
//
// Threading: pure functions.
#ifndef MQLAB_LOAD_THRESHOLD_H_
#define MQLAB_LOAD_THRESHOLD_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "load/summary.h"
#include "mqlab/common/status.h"

namespace mqlab::load {

struct Threshold {
  enum class Kind { kLatency, kRate, kThroughput };
  enum class Op { kLt, kLe, kGt, kGe, kEq };
  std::string expression;  // as given
  std::string metric;      // canonical: "p99.9", "e2e_p99", "errors", "rps", …
  Kind kind = Kind::kLatency;
  Op op = Op::kLt;
  double limit = 0;  // ms for latency, a fraction for rates, per second for throughput

  bool NeedsFollow() const;
  bool Holds(double actual) const;
};

// InvalidArgument with a message naming what is wrong (unknown metric, operator, value or unit).
Result<Threshold> ParseThreshold(std::string_view text);

// The value of `t`'s metric in `summary` (ms, fraction or per second), or nullopt when the
// metric has no samples.
std::optional<double> MetricValue(const LoadSummary& summary, const Threshold& t);

// Evaluates every expression (REQUIRES: each parses; LoadOptions::Validate checks that).
std::vector<ThresholdResult> EvaluateThresholds(const LoadSummary& summary,
                                                const std::vector<std::string>& expressions);

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_THRESHOLD_H_
