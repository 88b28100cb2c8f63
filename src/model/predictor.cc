#include "mqlab/model/predictor.h"

#include <sys/prctl.h>
#include <time.h>

#include <cmath>
#include <condition_variable>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace mqlab::model {

namespace fs = std::filesystem;

std::string_view ServiceDistName(ServiceDist d) {
  switch (d) {
    case ServiceDist::kFixed: return "fixed";
    case ServiceDist::kExp: return "exp";
    case ServiceDist::kLognormal: return "lognormal";
  }
  return "fixed";
}

Result<ServiceDist> ParseServiceDist(std::string_view name) {
  for (ServiceDist d : {ServiceDist::kFixed, ServiceDist::kExp, ServiceDist::kLognormal}) {
    if (ServiceDistName(d) == name) return d;
  }
  return InvalidArgument(fmt::format("unknown service distribution '{}' (fixed, exp, lognormal)", name));
}

std::string_view ModeName(Mode m) { return m == Mode::kCpu ? "cpu" : "sleep"; }

Result<Mode> ParseMode(std::string_view name) {
  if (name == "sleep") return Mode::kSleep;
  if (name == "cpu") return Mode::kCpu;
  return InvalidArgument(fmt::format("unknown mode '{}' (sleep, cpu)", name));
}

Status PredictorOptions::Validate() const {
  if (service_time.count() < 0) return InvalidArgument("service time must be >= 0");
  if (service_time > std::chrono::hours(1)) return InvalidArgument("service time must be <= 1 h");
  if (!(fail_rate >= 0.0 && fail_rate <= 1.0)) return InvalidArgument("fail rate must be in [0, 1]");
  if (!(lognormal_sigma > 0.0 && lognormal_sigma <= 3.0)) {
    return InvalidArgument("lognormal sigma must be in (0, 3]");
  }
  return Ok();
}

Predictor::Predictor(fs::path data_dir, PredictorOptions options)
    : data_dir_(std::move(data_dir)),
      options_(options),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

Predictor::Draw Predictor::NextDraw() {
  const double mean = static_cast<double>(options_.service_time.count());
  std::lock_guard lock(mu_);
  double us = mean;
  if (mean > 0) {
    switch (options_.dist) {
      case ServiceDist::kFixed: break;
      case ServiceDist::kExp: us = std::exponential_distribution<double>(1.0 / mean)(rng_); break;
      case ServiceDist::kLognormal: {
        // Choose mu so that the mean of the lognormal is `mean`: E = exp(mu + sigma^2 / 2).
        const double s = options_.lognormal_sigma;
        us = std::lognormal_distribution<double>(std::log(mean) - s * s / 2, s)(rng_);
        break;
      }
    }
  }
  bool fail = options_.fail_rate > 0 &&
              std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < options_.fail_rate;
  return Draw{std::chrono::microseconds(static_cast<int64_t>(std::llround(us))), fail};
}

std::chrono::microseconds Predictor::SampleServiceTime() { return NextDraw().service_time; }

namespace {

int64_t ThreadCpuMicros() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

bool BurnCpu(std::chrono::microseconds d, std::stop_token stop) {
  const int64_t end = ThreadCpuMicros() + d.count();
  volatile uint64_t x = 0x9e3779b97f4a7c15ull;
  while (ThreadCpuMicros() < end) {
    if (stop.stop_requested()) return false;
    for (int i = 0; i < 1000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  }
  return true;
}

namespace {

// Sleeps until `deadline` unless a stop is requested first; returns false if cut short. The
// calling thread's timer slack is set to 1 ns first (once per thread): Linux's default of 50 us
// would otherwise add up to 50 us to every call, 0.25 % of a 20 ms service time.
bool InterruptibleSleepUntil(std::chrono::steady_clock::time_point deadline, std::stop_token stop) {
  thread_local bool slack_set = false;
  if (!slack_set) {
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    slack_set = true;
  }
  if (!stop.stop_possible()) {
    std::this_thread::sleep_until(deadline);
    return true;
  }
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_until(lock, stop, deadline, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace

Result<PredictOutput> Predictor::Predict(const PredictInput& input, std::stop_token stop) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t start_cpu = options_.mode == Mode::kCpu ? ThreadCpuMicros() : 0;
  Draw draw = NextDraw();
  PredictOutput out{.output_path = "", .service_time = draw.service_time};
  // The service time is the whole call: the output is written first and the rest of the time is
  // spent after it, so that a fixed service time S gives 1/S calls per second per thread (the
  // capacity the study compares against) whatever the write costs, up to S. A call cancelled
  // after its write leaves the output behind; the next attempt replaces it.
  if (!draw.fail && options_.write_output) {
    auto path = WriteOutput(input, draw.service_time);
    if (!path) return std::unexpected(path.error());
    out.output_path = std::move(*path);
  }
  if (draw.service_time.count() > 0) {
    bool finished;
    if (options_.mode == Mode::kSleep) {
      finished = InterruptibleSleepUntil(start + draw.service_time, stop);
    } else {
      const auto spent = std::chrono::microseconds(ThreadCpuMicros() - start_cpu);
      finished = spent >= draw.service_time || BurnCpu(draw.service_time - spent, stop);
    }
    if (!finished) return Aborted("prediction cancelled");
  }
  if (draw.fail) return Internal("simulated model failure");
  return out;
}

Result<std::string> Predictor::WriteOutput(const PredictInput& input,
                                           std::chrono::microseconds took) {
  nlohmann::json result{{"jobId", input.job_id},
                        {"inputPath", input.input_path},
                        {"attempt", input.attempt},
                        {"serviceMs", static_cast<double>(took.count()) / 1000.0},
                        {"text", fmt::format("simulated OCR text of {}", input.input_path)}};
  // Read the input if it is there (symlinks were checked on admission; re-check the resolved
  // path so one swapped in since cannot make us read outside the data folder).
  std::error_code ec;
  fs::path in = fs::weakly_canonical(data_dir_ / input.input_path, ec);
  fs::path root = fs::weakly_canonical(data_dir_, ec);
  if (!ec && fs::is_regular_file(in, ec) &&
      std::mismatch(root.begin(), root.end(), in.begin(), in.end()).first == root.end()) {
    std::ifstream f(in, std::ios::binary);
    uint64_t sum = 1469598103934665603ull, size = 0;  // FNV-1a
    char buf[8192];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
      for (std::streamsize i = 0; i < f.gcount(); ++i) {
        sum = (sum ^ static_cast<unsigned char>(buf[i])) * 1099511628211ull;
      }
      size += static_cast<uint64_t>(f.gcount());
    }
    result["inputBytes"] = size;
    result["inputChecksum"] = fmt::format("{:016x}", sum);
  }
  const std::string rel = fmt::format("outputs/{}/{}.json", input.job_id.substr(0, 2), input.job_id);
  const fs::path final_path = data_dir_ / rel;
  const std::string shard = input.job_id.substr(0, 2);
  bool made;
  {
    std::lock_guard lock(mu_);
    made = made_dirs_.contains(shard);
  }
  if (!made) {
    fs::create_directories(final_path.parent_path(), ec);
    if (ec) {
      return Internal(fmt::format("cannot create {}: {}", final_path.parent_path().string(),
                                  ec.message()));
    }
    std::lock_guard lock(mu_);
    made_dirs_.insert(shard);
  }
  const fs::path tmp = final_path.string() + fmt::format(".tmp{}", input.attempt);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << result.dump() << '\n';
    if (!f) return Internal(fmt::format("cannot write {}", tmp.string()));
  }
  fs::rename(tmp, final_path, ec);
  if (ec) return Internal(fmt::format("cannot rename {}: {}", tmp.string(), ec.message()));
  return rel;
}

}  // namespace mqlab::model
