// Micro-benchmarks of the metrics hot paths: what one request or one job pays for being counted,
// and what one scrape of a realistically sized registry costs.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "metrics/hdr_histogram.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"

namespace mqlab::metrics {
namespace {

std::vector<uint64_t> LognormalNanos(size_t n) {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(std::log(5e6), 1.5);
  std::vector<uint64_t> out(n);
  for (auto& v : out) v = static_cast<uint64_t>(dist(rng));
  return out;
}

void BM_HdrRecord(benchmark::State& state) {
  HdrHistogram h;
  const std::vector<uint64_t> values = LognormalNanos(4096);
  size_t i = 0;
  for (auto _ : state) {
    h.Record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_HdrRecord);

void BM_HdrMerge(benchmark::State& state) {
  HdrHistogram a, b;
  for (uint64_t v : LognormalNanos(100000)) b.Record(v);
  for (auto _ : state) {
    a.Merge(b);
  }
  benchmark::DoNotOptimize(a.count());
}
BENCHMARK(BM_HdrMerge);

void BM_HdrPercentile(benchmark::State& state) {
  HdrHistogram h;
  for (uint64_t v : LognormalNanos(100000)) h.Record(v);
  for (auto _ : state) {
    benchmark::DoNotOptimize(h.Percentile(99));
  }
}
BENCHMARK(BM_HdrPercentile);

void BM_CounterInc(benchmark::State& state) {
  static Registry registry;
  static Counter& counter = registry.AddCounter("bench_total", "B.", {"k"}).With({"a"});
  for (auto _ : state) {
    counter.Inc();
  }
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2);

void BM_CounterWithLookup(benchmark::State& state) {
  Registry registry;
  auto& family = registry.AddCounter("bench_total", "B.", {"version", "route", "code"});
  family.With({"v3", "/v3/ocr/jobs", "202"});
  for (auto _ : state) {
    family.With({"v3", "/v3/ocr/jobs", "202"}).Inc();
  }
}
BENCHMARK(BM_CounterWithLookup);

void BM_PrometheusHistogramObserve(benchmark::State& state) {
  static Registry registry;
  static Histogram& h = registry.AddHistogram("bench_seconds", "B.", {"k"}).With({"a"});
  double v = 0.0001;
  for (auto _ : state) {
    h.Observe(v);
    v = v < 100 ? v * 1.7 : 0.0001;
  }
}
BENCHMARK(BM_PrometheusHistogramObserve)->Threads(1)->Threads(2);

// A registry the size of `mqlab api` after a study: 8 endpoint families x 4 routes x 6 codes,
// request histograms per route, job metrics for 5 backends, and the process metrics.
void BM_Render(benchmark::State& state) {
  Registry registry;
  MqlabMetrics m(registry);
  RegisterProcessMetrics(registry);
  const char* versions[] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "mem"};
  const char* codes[] = {"200", "202", "400", "404", "429", "503"};
  const char* backends[] = {"memory", "postgres", "redis", "rabbitmq", "kafka"};
  for (const char* v : versions) {
    for (int r = 0; r < 4; ++r) {
      std::string route = std::string("/") + v + "/ocr/route" + std::to_string(r);
      for (const char* c : codes) m.http_requests_total.With({v, route, c}).Inc(1234);
      m.http_request_duration_seconds.With({v, route}).Observe(0.01 * r);
    }
    m.backpressure_rejections_total.With({v}).Inc();
  }
  for (const char* b : backends) {
    m.jobs_enqueued_total.With({b}).Inc();
    m.jobs_completed_total.With({b, "SUCCESS"}).Inc();
    m.jobs_completed_total.With({b, "FAILED"}).Inc();
    m.job_queue_wait_seconds.With({b}).Observe(0.2);
    m.job_processing_seconds.With({b}).Observe(0.5);
    m.job_end_to_end_seconds.With({b}).Observe(0.7);
    m.queue_depth.With({b}).Set(10);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.Render();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mqlab::metrics
