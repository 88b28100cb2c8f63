#include "load/recorder.h"

#include <algorithm>

namespace mqlab::load {
namespace {

using metrics::HdrHistogram;

constexpr uint64_t kHighest = HdrHistogram::kDefaultHighestTrackable;

uint64_t Ns(Nanos d) { return d.count() < 0 ? 0 : static_cast<uint64_t>(d.count()); }
double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

LatencyStats StatsOf(const HdrHistogram& h, std::string clock) {
  LatencyStats s;
  s.clock = std::move(clock);
  s.count = h.count();
  if (s.count == 0) return s;
  s.mean_ms = h.mean() / 1e6;
  s.min_ms = Ms(h.min());
  s.p50_ms = Ms(h.Percentile(50));
  s.p90_ms = Ms(h.Percentile(90));
  s.p95_ms = Ms(h.Percentile(95));
  s.p99_ms = Ms(h.Percentile(99));
  s.p999_ms = Ms(h.Percentile(99.9));
  s.max_ms = Ms(h.max());
  return s;
}

void AddCounts(SecondStats& to, const SecondStats& from) {
  to.sent += from.sent;
  to.completed += from.completed;
  to.status_2xx += from.status_2xx;
  to.status_3xx += from.status_3xx;
  to.status_4xx += from.status_4xx;
  to.status_5xx += from.status_5xx;
  to.timeouts += from.timeouts;
  to.connection_errors += from.connection_errors;
  to.dropped += from.dropped;
  to.late += from.late;
  to.jobs_finished += from.jobs_finished;
}

}  // namespace

Recorder::Recorder(Model model, SteadyTime measure_start, SteadyTime measure_end, Nanos late_after)
    : model_(model),
      measure_start_(measure_start),
      measure_end_(measure_end),
      late_after_(late_after),
      pending_(HdrHistogram::BucketIndex(kHighest) + 1, 0) {}

Recorder::Row* Recorder::RowAt(SteadyTime t) {
  if (t < measure_start_) return nullptr;
  const auto second = static_cast<size_t>((t - measure_start_) / std::chrono::seconds(1));
  if (second >= rows_.size()) {
    rows_.resize(second + 1);
    for (size_t i = 0; i < rows_.size(); ++i) rows_[i].counts.second = static_cast<int64_t>(i);
  }
  return &rows_[second];
}

void Recorder::FlushSecond() {
  if (pending_second_ < 0 || pending_touched_.empty()) return;
  auto& out = rows_[static_cast<size_t>(pending_second_)].latency;
  std::sort(pending_touched_.begin(), pending_touched_.end());
  for (uint32_t index : pending_touched_) {
    out.emplace_back(index, pending_[index]);
    pending_[index] = 0;
  }
  pending_touched_.clear();
}

void Recorder::Finish() { FlushSecond(); }

void Recorder::Scheduled(SteadyTime intended) {
  if (Measured(intended)) ++scheduled_;
}

void Recorder::Sent(SteadyTime origin, SteadyTime sent) {
  if (!Measured(origin)) {
    ++warmup_;
    return;
  }
  ++sent_;
  Bump(live_.sent);
  Row* row = RowAt(sent);
  if (row) ++row->counts.sent;
  if (model_ == Model::kOpen) {
    const Nanos delay = sent - origin;
    send_delay_.Record(delay);
    if (delay > late_after_) {
      ++late_;
      Bump(live_.late);
      if (row) ++row->counts.late;
    }
  }
}

void Recorder::Response(SteadyTime origin, SteadyTime sent, SteadyTime done, int status) {
  if (status >= 200 && status < 300 && InWindow(done)) ++ok_in_window_;
  if (!Measured(origin)) return;
  ++completed_;
  Bump(live_.completed);
  if (done < measure_end_) ++completed_in_time_;
  ++by_status_[static_cast<size_t>(std::clamp(status, 0, 999))];
  const bool ok = status >= 200 && status < 400;
  if (!ok) Bump(live_.errors);
  const uint64_t ns = Ns(done - origin);
  latency_.Record(ns);
  if (status >= 200 && status < 300) latency_2xx_.Record(ns);
  if (model_ == Model::kOpen) service_.Record(done - sent);

  Row* row = RowAt(done);
  ++row->counts.completed;
  switch (status / 100) {
    case 2:
      ++row->counts.status_2xx;
      break;
    case 3:
      ++row->counts.status_3xx;
      break;
    case 4:
      ++row->counts.status_4xx;
      break;
    case 5:
      ++row->counts.status_5xx;
      break;
    default:
      break;
  }
  const int64_t second = row->counts.second;
  if (second != pending_second_) {
    FlushSecond();
    pending_second_ = second;
  }
  const size_t index = HdrHistogram::BucketIndex(std::min(ns, kHighest));
  if (pending_[index]++ == 0) pending_touched_.push_back(static_cast<uint32_t>(index));
}

void Recorder::Timeout(SteadyTime origin, SteadyTime now) {
  if (!Measured(origin)) return;
  ++timeouts_;
  Bump(live_.errors);
  if (Row* row = RowAt(now)) ++row->counts.timeouts;
}

void Recorder::ConnectionError(SteadyTime origin, SteadyTime now) {
  if (!Measured(origin)) return;
  ++connection_errors_;
  Bump(live_.errors);
  if (Row* row = RowAt(now)) ++row->counts.connection_errors;
}

void Recorder::Dropped(SteadyTime intended, DropReason why, SteadyTime now) {
  if (!Measured(intended)) return;
  ++dropped_[static_cast<size_t>(why)];
  Bump(live_.dropped);
  if (Row* row = RowAt(now)) ++row->counts.dropped;
}

void Recorder::Accepted(bool followed) {
  ++accepted_;
  if (followed) ++followed_;
}

void Recorder::Poll(bool error) {
  ++polls_;
  if (error) ++poll_errors_;
}

void Recorder::JobFinished(SteadyTime origin, WallTime origin_wall, SteadyTime observed,
                           std::optional<WallTime> created, std::optional<WallTime> finished,
                           bool success) {
  // When the job finished, on the steady clock: the server's finishedAt if it gave one (exact),
  // else when a poll saw it (late by up to a poll interval).
  const SteadyTime finished_at =
      finished ? origin + std::chrono::duration_cast<std::chrono::nanoseconds>(*finished - origin_wall)
               : observed;
  if (InWindow(finished_at)) ++jobs_in_window_;
  if (!Measured(origin)) return;  // a warm-up job: counted in the throughput above only
  ++(success ? succeeded_ : failed_);
  Bump(live_.jobs_finished);
  e2e_observed_.Record(observed - origin);
  if (finished) e2e_.Record(*finished - origin_wall);
  if (finished && created) job_server_.Record(*finished - *created);
  if (Row* row = RowAt(observed)) ++row->counts.jobs_finished;
}

void Recorder::AddCountsTo(LoadSummary& out) const {
  out.scheduled += model_ == Model::kOpen ? scheduled_ : sent_;
  out.sent += sent_;
  out.completed += completed_;
  out.timeouts += timeouts_;
  out.connection_errors += connection_errors_;
  out.dropped_backlog_full += dropped_[0];
  out.dropped_expired += dropped_[1];
  out.dropped_stopped += dropped_[2];
  out.late += late_;
  out.warmup_requests += warmup_;
  out.connections_opened += connections_opened;
  for (size_t code = 0; code < by_status_.size(); ++code) {
    if (by_status_[code] != 0) out.by_status[static_cast<int>(code)] += by_status_[code];
  }
  FollowSummary& f = out.follow;
  f.accepted += accepted_;
  f.followed += followed_;
  f.succeeded += succeeded_;
  f.failed += failed_;
  f.unfinished += unfinished_;
  f.polls += polls_;
  f.poll_errors += poll_errors_;
  // Left as counts for the caller to divide by the measured time.
  out.achieved_rate += static_cast<double>(completed_in_time_);
  out.follow.jobs_per_second += static_cast<double>(jobs_in_window_);
  out.ok_per_second += static_cast<double>(ok_in_window_);
}

void Recorder::MergeSeries(const std::vector<const Recorder*>& recorders, LoadSummary& out) {
  size_t seconds = 0;
  for (const Recorder* r : recorders) seconds = std::max(seconds, r->rows_.size());
  out.series.assign(seconds, SecondStats{});
  HdrHistogram second_hist;
  for (size_t i = 0; i < seconds; ++i) {
    out.series[i].second = static_cast<int64_t>(i);
    second_hist.Reset();
    for (const Recorder* r : recorders) {
      if (i >= r->rows_.size()) continue;
      AddCounts(out.series[i], r->rows_[i].counts);
      for (const auto& [index, n] : r->rows_[i].latency) {
        // The bucket's midpoint: Percentile reports the midpoint of a bucket anyway.
        second_hist.RecordN(HdrHistogram::BucketLow(index) + HdrHistogram::BucketWidth(index) / 2,
                            n);
      }
    }
    out.series[i].p50_ms = Ms(second_hist.Percentile(50));
    out.series[i].p99_ms = Ms(second_hist.Percentile(99));
  }
}

void Recorder::Merge(const std::vector<const Recorder*>& recorders, LoadSummary& out) {
  if (recorders.empty()) return;
  const bool open = recorders.front()->model_ == Model::kOpen;
  HdrHistogram latency, latency_2xx, service, send_delay, e2e, e2e_observed, job_server;
  for (const Recorder* r : recorders) {
    r->AddCountsTo(out);
    latency.Merge(r->latency_);
    latency_2xx.Merge(r->latency_2xx_);
    service.Merge(r->service_);
    send_delay.Merge(r->send_delay_);
    e2e.Merge(r->e2e_);
    e2e_observed.Merge(r->e2e_observed_);
    job_server.Merge(r->job_server_);
  }
  out.dropped = out.dropped_backlog_full + out.dropped_expired + out.dropped_stopped;
  for (const auto& [code, n] : out.by_status) {
    if (code >= 200 && code < 300) out.status_2xx += n;
  }
  const std::string clock = open ? "intended" : "actual";
  out.latency = StatsOf(latency, clock);
  out.latency_2xx = StatsOf(latency_2xx, clock);
  if (open) {
    out.service_time = StatsOf(service, "actual");
    out.send_delay = StatsOf(send_delay, "actual");
  }
  out.follow.e2e = StatsOf(e2e, clock);
  out.follow.e2e_observed = StatsOf(e2e_observed, clock);
  out.follow.job_server = StatsOf(job_server, "wall");
  MergeSeries(recorders, out);
}

}  // namespace mqlab::load
