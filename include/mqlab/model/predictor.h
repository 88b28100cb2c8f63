// The model: a simulated OCR `predict(inputPath)`, the bottleneck of the study by design.
//
// Each call takes a service time drawn from a distribution of a given mean (fixed, exponential or
// lognormal), spent either sleeping (mode sleep: a remote GPU call, the thread waits) or burning
// the calling thread's CPU (mode cpu: shows the machine's core count as a ceiling; measured in
// thread CPU time, so on an oversubscribed machine the wall time stretches as it would for real
// work). The service time is the whole call: a successful call first writes its result as JSON
// to outputs/<id[0:2]>/<id>.json under the data folder (a temporary name, then rename, so a
// reader never sees half a file), then spends what is left of the service time (sleeping until
// start + service time with a 1 ns timer slack, or burning the rest of the CPU time), so a fixed
// service time S gives exactly 1/S calls per second per thread. A call fails with the configured
// probability after the whole service time, writing nothing. If the input file exists it is read and its size and a checksum
// go into the result; a missing input is not an error for the simulation (documented in
// docs/architecture.md).
//
// Thread-safety: Predict may be called from many threads at once; sampling is serialized on one
// seeded generator so that a run with a fixed seed draws the same service times.
#ifndef MQLAB_MODEL_PREDICTOR_H_
#define MQLAB_MODEL_PREDICTOR_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>

#include "mqlab/common/status.h"

namespace mqlab::model {

enum class ServiceDist { kFixed, kExp, kLognormal };
enum class Mode { kSleep, kCpu };

std::string_view ServiceDistName(ServiceDist d);
Result<ServiceDist> ParseServiceDist(std::string_view name);
std::string_view ModeName(Mode m);
Result<Mode> ParseMode(std::string_view name);

struct PredictorOptions {
  // Mean service time. 0 makes predict instantaneous (benchmarks of the plumbing). Default: 100 ms.
  std::chrono::microseconds service_time{100000};
  ServiceDist dist = ServiceDist::kFixed;  // Default: fixed
  Mode mode = Mode::kSleep;                // Default: sleep
  // Probability that a call fails (a failed attempt, retried by the worker). Default: 0.
  double fail_rate = 0.0;
  // Shape of the lognormal: the sigma of the underlying normal. Default: 0.5 (cv ≈ 0.53).
  double lognormal_sigma = 0.5;
  // Seed of the service-time and failure draws; 0 picks a random one. Default: 0.
  uint64_t seed = 0;
  // Write outputs/…/<id>.json. Off only for benchmarks of the plumbing. Default: true.
  bool write_output = true;

  Status Validate() const;
};

struct PredictInput {
  std::string job_id;
  std::string input_path;  // relative to the data folder, already confined (input_path.h)
  int attempt = 1;
};

struct PredictOutput {
  std::string output_path;  // relative to the data folder; empty if write_output is off
  std::chrono::microseconds service_time{0};  // the drawn service time
};

class Predictor {
 public:
  // `data_dir` must exist and outlive the Predictor.
  Predictor(std::filesystem::path data_dir, PredictorOptions options);

  // Runs one prediction. A simulated failure is kInternal ("simulated model failure"); an
  // unwritable output is kInternal too. Both are failed attempts to the caller. A stop requested
  // on `stop` cuts the service time short with kAborted (a worker out of shutdown grace).
  Result<PredictOutput> Predict(const PredictInput& input, std::stop_token stop = {});

  // Draws one service time (exposed for tests of the distributions).
  std::chrono::microseconds SampleServiceTime();

  const PredictorOptions& options() const { return options_; }

 private:
  struct Draw {
    std::chrono::microseconds service_time;
    bool fail;
  };
  Draw NextDraw();
  Result<std::string> WriteOutput(const PredictInput& input, std::chrono::microseconds took);

  const std::filesystem::path data_dir_;
  const PredictorOptions options_;
  std::mutex mu_;  // guards rng_ and made_dirs_
  std::mt19937_64 rng_;
  // Output shard folders already created (at most 256: outputs/00 … outputs/ff), so that the hot
  // path does not stat them again for every job.
  std::set<std::string> made_dirs_;
};

// Spends `d` of the calling thread's CPU time (mode cpu). Returns false if `stop` cut it short.
bool BurnCpu(std::chrono::microseconds d, std::stop_token stop = {});

}  // namespace mqlab::model

#endif  // MQLAB_MODEL_PREDICTOR_H_
