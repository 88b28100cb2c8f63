// What a load test measured: LoadSummary, the output of RunLoad (load.h), and its three
// renderings: the JSON document (`--json`, schema "mqlab.load/1", documented in
// docs/notes-load.md), the per-second CSV (`--csv`) and the terminal table.
//
// Every latency figure carries its clock: "intended" (from the intended send time: the open
// model's figures, free of coordinated omission), "actual" (from the moment the request was handed
// to a connection: the closed model's figures, and the open model's service time), "wall" (server
// timestamps of the job, or intended send → finishedAt across clocks).
//
// CHECKLIST: a field added here goes into ToJson, the notes' schema table, and (per-second
// fields) SeriesCsv; a schema change that breaks readers bumps kSchema.
//
// Threading: plain values.
#ifndef MQLAB_LOAD_SUMMARY_H_
#define MQLAB_LOAD_SUMMARY_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "load/options.h"
#include "mqlab/common/clock.h"

namespace mqlab::load {

inline constexpr std::string_view kSchema = "mqlab.load/1";

// Percentiles of one HDR histogram, in milliseconds (≤ 1% relative error).
struct LatencyStats {
  std::string clock;  // "intended", "actual" or "wall"
  uint64_t count = 0;
  double mean_ms = 0, min_ms = 0, p50_ms = 0, p90_ms = 0, p95_ms = 0, p99_ms = 0, p999_ms = 0,
         max_ms = 0;
};

// One second of the measured time (second 0 starts with the measured time, after warm-up).
// Sends are counted at their send second, everything else at the second it happened.
struct SecondStats {
  int64_t second = 0;
  uint64_t sent = 0, completed = 0, status_2xx = 0, status_3xx = 0, status_4xx = 0, status_5xx = 0,
           timeouts = 0, connection_errors = 0, dropped = 0, late = 0, jobs_finished = 0;
  double p50_ms = 0, p99_ms = 0;  // latency of the responses completed in this second
};

struct FollowSummary {
  bool enabled = false;
  uint64_t accepted = 0;  // 202 responses in the measured time
  uint64_t followed = 0;  // of which a job location was found and polled
  uint64_t succeeded = 0, failed = 0;
  uint64_t unfinished = 0;  // not seen finished by the end of --follow-timeout (or a stop)
  uint64_t polls = 0, poll_errors = 0;
  // Jobs that finished (SUCCESS or FAILED, by the server's finishedAt) within the measured
  // window, per second, whatever their send time: the system's throughput, as a server counts it.
  double jobs_per_second = 0;
  LatencyStats e2e;  // intended send → finishedAt ("intended"/"actual" clock start, wall end)
  LatencyStats e2e_observed;  // intended send → the poll that saw the job finished (an upper bound)
  LatencyStats job_server;    // createdAt → finishedAt, the server's own clock ("wall")
};

struct ThresholdResult {
  std::string expression;
  std::string metric;
  std::optional<double> actual;  // nullopt: no samples (the threshold fails)
  bool ok = false;
};

struct LoadSummary {
  LoadOptions options;  // as run: defaults resolved, the seed drawn
  nlohmann::json machine;
  WallTime started_at{};
  double measured_seconds = 0;  // the measured time actually run (shorter after a stop)
  bool stopped_early = false;
  double generator_cpu_seconds = 0;  // user + system CPU of the generator's threads
  double generator_spin_seconds = 0;  // of which spent idle-spinning (--idle-spin; wall time)
  uint64_t connections_opened = 0;

  // Every scheduled arrival is sent or dropped; every sent request ends as a response, a
  // timeout or a connection error. Closed model: scheduled == sent.
  uint64_t scheduled = 0, sent = 0, completed = 0, status_2xx = 0;
  std::map<int, uint64_t> by_status;  // every status code seen, 2xx included
  uint64_t timeouts = 0, connection_errors = 0;
  uint64_t dropped = 0, dropped_backlog_full = 0, dropped_expired = 0, dropped_stopped = 0;
  uint64_t late = 0;
  uint64_t warmup_requests = 0;  // sent during warm-up, in no other figure

  double offered_rate = 0;   // scheduled / measured_seconds (open model)
  double sent_rate = 0;      // sent / measured_seconds
  double achieved_rate = 0;  // responses completed within the measured time / measured_seconds
  // 2xx responses completing within the measured window, whatever their send time (warm-up
  // requests included), per second: a synchronous system's throughput.
  double ok_per_second = 0;
  double error_rate = 0;     // (non-2xx/3xx + timeouts + connection errors) / sent

  LatencyStats latency;       // every response: "intended" (open) or "actual" (closed)
  LatencyStats latency_2xx;   // 2xx responses only, same clock
  LatencyStats service_time;  // open model: the same responses from their actual send
  LatencyStats send_delay;    // open model: actual send − intended send, for every sent request
  FollowSummary follow;
  std::vector<SecondStats> series;
  std::vector<ThresholdResult> thresholds;
  bool thresholds_ok = true;
  // Loud messages: the generator could not keep up, it was stopped, … (also in the JSON).
  std::vector<std::string> warnings;

  uint64_t errors() const;  // the numerator of error_rate
};

nlohmann::json ToJson(const LoadSummary& s);
nlohmann::json ToJson(const LatencyStats& l);
// Header line and one line per second.
std::string SeriesCsv(const LoadSummary& s);
// The end-of-test summary for a terminal: a few lines and a compact latency table.
std::string FormatSummary(const LoadSummary& s);

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_SUMMARY_H_
