// Micro-benchmarks of a job's JSON on the hot path: the API's response body (ToJson + dump), the
// parse of that body (what a client or a store reading JSON pays), and the queue message's wire
// form (EncodeMessage / DecodeMessage, once per job on every queue backend).
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "mqlab/domain/job.h"
#include "mqlab/queue/job_queue.h"

namespace mqlab {
namespace {

Job SampleJob() {
  Job job{.id = NewJobId(), .version = "v3", .status = JobStatus::kSuccess,
          .input_path = "inputs/page-0001.png", .output_path = "outputs/ab/abcdef.json"};
  job.attempts = 1;
  job.worker_id = "worker-1";
  job.request_id = "0123456789abcdef";
  job.created_at = job.updated_at = Clock::Real().Now();
  job.started_at = job.finished_at = job.created_at;
  return job;
}

void BM_JobToJson(benchmark::State& state) {
  const Job job = SampleJob();
  for (auto _ : state) {
    std::string body = ToJson(job).dump();
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_JobToJson);

void BM_JobJsonParse(benchmark::State& state) {
  const std::string body = ToJson(SampleJob()).dump();
  for (auto _ : state) {
    auto j = nlohmann::json::parse(body);
    auto id = j.at("id").get<std::string>();
    auto status = j.at("status").get<std::string>();
    benchmark::DoNotOptimize(id);
    benchmark::DoNotOptimize(status);
  }
}
BENCHMARK(BM_JobJsonParse);

void BM_MessageEncode(benchmark::State& state) {
  const queue::Message m{.job_id = NewJobId(), .attempt = 1, .enqueued_at = Clock::Real().Now()};
  for (auto _ : state) {
    std::string wire = queue::EncodeMessage(m);
    benchmark::DoNotOptimize(wire);
  }
}
BENCHMARK(BM_MessageEncode);

void BM_MessageDecode(benchmark::State& state) {
  const std::string wire = queue::EncodeMessage(
      {.job_id = NewJobId(), .attempt = 1, .enqueued_at = Clock::Real().Now()});
  for (auto _ : state) {
    auto m = queue::DecodeMessage(wire);
    if (!m) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_MessageDecode);

}  // namespace
}  // namespace mqlab
