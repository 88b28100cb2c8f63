// Recorder: what one generator thread measured, recorded without locks or allocation on the
// hot path, merged into a LoadSummary when the test ends.
//
// Every request has an origin, the time its latency is measured from: its intended send time in
// the open model, its actual send in the closed model. Requests whose origin lies in the warm-up
// are counted as warm-up only. Latencies go into HDR histograms (metrics/hdr_histogram.h, one
// set per thread, merged at the end); per-second rows count events at the second they happened
// and keep that second's response latencies as sparse HDR buckets (a few hundred bytes a second,
// so hour-long runs stay small), merged across threads for the per-second p50 and p99.
//
// Threading: all recording methods are called on the owning thread only. `live()` counters are
// atomics written by the owner (plain stores: one writer) and readable from any thread, for
// progress lines.
#ifndef MQLAB_LOAD_RECORDER_H_
#define MQLAB_LOAD_RECORDER_H_

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "load/summary.h"
#include "metrics/hdr_histogram.h"
#include "mqlab/common/clock.h"

namespace mqlab::load {

enum class DropReason { kBacklogFull, kExpired, kStopped };

struct LiveCounters {
  std::atomic<uint64_t> sent{0}, completed{0}, errors{0}, dropped{0}, late{0}, jobs_finished{0};
};

class Recorder {
 public:
  // `late_after`: the send delay beyond which an open-model request counts as late.
  Recorder(Model model, SteadyTime measure_start, SteadyTime measure_end, Nanos late_after);

  bool Measured(SteadyTime origin) const { return origin >= measure_start_; }
  // Whether `t` lies in the measured window: throughput counts what completes there, whatever
  // its send time (warm-up requests finishing inside it included), as a server would count it.
  bool InWindow(SteadyTime t) const { return t >= measure_start_ && t < measure_end_; }
  // The measured time ends earlier than planned (a stop).
  void EndAt(SteadyTime end) { measure_end_ = std::min(measure_end_, end); }
  SteadyTime measure_end() const { return measure_end_; }

  // Open model: an arrival came due.
  void Scheduled(SteadyTime intended);
  // The request was handed to a connection at `sent` (origin == sent in the closed model).
  void Sent(SteadyTime origin, SteadyTime sent);
  void Response(SteadyTime origin, SteadyTime sent, SteadyTime done, int status);
  void Timeout(SteadyTime origin, SteadyTime now);
  void ConnectionError(SteadyTime origin, SteadyTime now);
  void Dropped(SteadyTime intended, DropReason why, SteadyTime now);

  // --follow: a 202 in the measured time; `followed` when a job location was found.
  void Accepted(bool followed);
  void Poll(bool error);
  // A followed job seen finished at `observed`. `created`/`finished` are the job's own
  // timestamps (absent if the job JSON lacks them); `origin_wall` is the origin on the wall clock.
  void JobFinished(SteadyTime origin, WallTime origin_wall, SteadyTime observed,
                   std::optional<WallTime> created, std::optional<WallTime> finished, bool success);
  void Unfinished(uint64_t n) { unfinished_ += n; }
  // Call once when the thread's test is over, before Merge.
  void Finish();

  const LiveCounters& live() const { return live_; }
  uint64_t connections_opened = 0;  // maintained by the worker

  // Adds every recorder's figures to `out` (counts, histograms → LatencyStats, series).
  // Rates and measured_seconds are left to the caller.
  static void Merge(const std::vector<const Recorder*>& recorders, LoadSummary& out);

 private:
  struct Row {
    SecondStats counts;
    std::vector<std::pair<uint32_t, uint32_t>> latency;  // (HDR bucket index, count)
  };
  // Adds this recorder's counts to `out` (completions and jobs within the measured time as
  // counts in achieved_rate and follow.jobs_per_second).
  void AddCountsTo(LoadSummary& out) const;
  static void MergeSeries(const std::vector<const Recorder*>& recorders, LoadSummary& out);
  // The row of the second `t` falls in, or nullptr before the measured time.
  Row* RowAt(SteadyTime t);
  // Moves the pending per-second latency buckets into their row.
  void FlushSecond();
  void Bump(std::atomic<uint64_t>& a) {
    a.store(a.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  const Model model_;
  const SteadyTime measure_start_;
  SteadyTime measure_end_;
  const Nanos late_after_;
  LiveCounters live_;

  uint64_t scheduled_ = 0, sent_ = 0, completed_ = 0, completed_in_time_ = 0, timeouts_ = 0,
           connection_errors_ = 0, late_ = 0, warmup_ = 0;
  std::array<uint64_t, 3> dropped_{};  // by DropReason
  std::array<uint64_t, 1000> by_status_{};
  uint64_t accepted_ = 0, followed_ = 0, succeeded_ = 0, failed_ = 0, unfinished_ = 0, polls_ = 0,
           poll_errors_ = 0, jobs_in_window_ = 0, ok_in_window_ = 0;

  metrics::HdrHistogram latency_, latency_2xx_, service_, send_delay_;
  metrics::HdrHistogram e2e_, e2e_observed_, job_server_;

  std::vector<Row> rows_;
  int64_t pending_second_ = -1;            // the second `pending_` belongs to
  std::vector<uint32_t> pending_;          // dense bucket counts of that second
  std::vector<uint32_t> pending_touched_;  // bucket indexes with a non-zero count
};

}  // namespace mqlab::load

#endif  // MQLAB_LOAD_RECORDER_H_
