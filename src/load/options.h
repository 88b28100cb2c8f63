// What a load test is asked to do: LoadOptions, the input of RunLoad (load.h), shared by
// `mqlab load` (which fills it from flags) and `mqlab study` (which fills it in code).
//
// Two models (docs/notes-load.md):
//   open    requests arrive on a schedule (constant `rate`, or a `ramp` of rates, as k6's
//           constant- and ramping-arrival-rate executors and wrk2's -R), evenly spaced or
//           Poisson; latency is measured from each request's INTENDED send time.
//   closed  `vus` virtual users, each with one keep-alive connection, sending back to back (as
//           wrk); latency is measured from each request's actual send.
//
// Also the small parsers every front end needs: durations ("500ms", "1m30s"), ramps
// ("100:30s,200:1m"), headers ("Name: value").
//
// Threading: plain values; Validate and the parsers are pure.
#ifndef MQLAB_LOAD_OPTIONS_H_
#define MQLAB_LOAD_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::load {

using Nanos = std::chrono::nanoseconds;

enum class Model { kOpen, kClosed };
enum class Arrivals { kEven, kPoisson };
// The generator threads' CPU scheduling policy. kBatch is Linux's SCHED_BATCH: a woken
// generator thread does not preempt the thread running on its CPU (often the server under
// test), so it runs a little later and handles more responses per wake-up.
enum class CpuPolicy { kAuto, kNormal, kBatch };

std::string_view ModelName(Model m);          // "open" | "closed"
std::string_view ArrivalsName(Arrivals a);    // "even" | "poisson"
std::string_view CpuPolicyName(CpuPolicy p);  // "auto" | "normal" | "batch"

// One stage of a ramping arrival rate: the rate moves linearly from the previous stage's target
// (or LoadOptions::rate for the first stage) to `target_rate` over `duration` (k6's stages).
struct RampStage {
  double target_rate = 0;  // requests per second at the end of the stage
  Nanos duration{0};
};

struct LoadOptions {
  // The target, "http://host[:port]/path[?query]". Required.
  std::string url;
  // HTTP method. Default: "" = GET, or POST when `body` is not empty.
  std::string method;
  // Request body, sent as is (Content-Type application/json unless a header says otherwise).
  // Default: none.
  std::string body;
  // Extra request headers ("Authorization", "X-…"); also sent on --follow's polls (except
  // Content-Type). Default: none.
  std::vector<std::pair<std::string, std::string>> headers;

  // Open model: the constant arrival rate in requests/s, or the start rate of `ramp`.
  // Default: 0 (then `vus` or `ramp` must be set).
  double rate = 0;
  // Open model: a ramping arrival rate. When set, the test lasts the sum of the stages unless
  // `duration` is set: a longer duration holds the last target, a shorter one cuts the ramp.
  // Default: none (constant `rate`).
  std::vector<RampStage> ramp;
  // Closed model: virtual users, each one connection sending back to back. Default: 0 (open).
  int vus = 0;

  // The measured time. Required, except with `ramp` (then: the stages' sum). Default: 0.
  Nanos duration{0};
  // Load applied before the measured time (at the open model's starting rate, or by the vus),
  // not counted in any figure. Default: 0.
  Nanos warmup{0};
  // Spacing of arrivals in the open model. Default: even (k6, wrk2); the study uses Poisson.
  Arrivals arrivals = Arrivals::kEven;
  // Seed of the Poisson arrivals; the same seed gives the same intended send times, whatever
  // the thread count. Default: 0 = a random seed, reported in the summary.
  uint64_t seed = 0;

  // Open model: the most connections opened (on demand, kept alive). Default: 0 = sized by
  // Little's law: 2 × peak rate × expected_latency, at least `threads`, at most 1024.
  int connections = 0;
  // The latency the default connection count is sized for. Default: 250 ms.
  Nanos expected_latency = std::chrono::milliseconds(250);
  // Open model: arrivals that may wait for a free connection; beyond: dropped. Default: -1 =
  // what arrives in one `timeout` at the peak rate (at least 1000); 0 drops at once (k6).
  int64_t backlog = -1;
  // An arrival handed to a connection later than this after its intended time counts as late.
  // Default: 10 ms (well above timer and scheduling jitter of a loaded 2-core machine).
  Nanos late_after = std::chrono::milliseconds(10);
  // Threads, each with its own event loop, connections and histograms. Default: 1 (the study
  // runs the generator beside the system under test; one core is its fair share).
  int threads = 1;
  // A request (connect included) without a complete response after this is a timeout; also the
  // longest the end of a test waits for requests in flight. Default: 10 s.
  Nanos timeout = std::chrono::seconds(10);
  // Before sleeping, a generator thread polls its sockets for an adaptive window of at most
  // this long (idle_spin.h); 0: never. Default: -1 = auto: 50 µs in the closed model (a
  // saturation run: responses land within µs of each other, and a sleeping generator costs the
  // server a wake-up per batch), 0 in the open model (the study's: the CPU belongs to the
  // system under test). At most 10 ms.
  Nanos idle_spin{-1};
  // Default: kAuto = kBatch in the closed model, kNormal in the open model (sends on time
  // matter more there than how many responses a wake-up handles).
  CpuPolicy cpu_policy = CpuPolicy::kAuto;

  // Follow each 202 (its Location, or its body's jobId) until SUCCESS or FAILED, and report
  // end-to-end job latency. Default: off.
  bool follow = false;
  // How long after the last submission unfinished jobs are still polled. Default: 30 s.
  Nanos follow_timeout = std::chrono::seconds(30);
  // Status polls per second, at most, over all threads. Default: 0 = the peak arrival rate (at
  // least 100; 1000 in the closed model), so polling never loads the server more than submits.
  double poll_rate = 0;
  // Poll connections per thread (separate from the submit connections). Default: 2.
  int poll_connections = 2;

  // k6-style thresholds ("p99<500ms", "errors<1%", see threshold.h); any failed one makes
  // `mqlab load` exit 99. Default: none.
  std::vector<std::string> thresholds;

  Model model() const { return vus > 0 ? Model::kClosed : Model::kOpen; }
  // The method actually sent (see `method`).
  std::string EffectiveMethod() const;
  // The highest arrival rate of the open model (rate or a ramp target); 0 in the closed model.
  double PeakRate() const;
  // The measured time: `duration`, or the ramp's length when `duration` is 0.
  Nanos MeasuredDuration() const;
  // InvalidArgument naming the first bad field (in flag terms: "--rate must be > 0").
  Status Validate() const;
};

// `options` with every "auto" resolved (connections, backlog, poll_rate, method, idle_spin,
// cpu_policy); `seed` is left as is (RunLoad draws a random one when 0).
LoadOptions ResolveDefaults(LoadOptions options);

// "10s", "500ms", "250us", "2m", "1h", "1m30s", "1.5s"; a bare number is in `bare_unit`.
// InvalidArgument for anything else or a negative value.
Result<Nanos> ParseDuration(std::string_view text, Nanos bare_unit = std::chrono::seconds(1));
// "1.5s", "250ms", "2m": the shortest exact form, for summaries and flag defaults.
std::string FormatDuration(Nanos d);
// "R1:D1,R2:D2,…", e.g. "100:30s,500:1m,0:10s".
Result<std::vector<RampStage>> ParseRamp(std::string_view text);
// "Name: value" → {"Name", "value"}.
Result<std::pair<std::string, std::string>> ParseHeader(std::string_view text);

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_OPTIONS_H_
