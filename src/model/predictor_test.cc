#include "mqlab/model/predictor.h"

#include <gtest/gtest.h>
#include <time.h>

#include <fstream>
#include <thread>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

namespace mqlab::model {
namespace {

using std::chrono::microseconds;

double MeanOf(Predictor& p, int n) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(p.SampleServiceTime().count());
  return sum / n;
}

TEST(PredictorTest, FixedIsExact) {
  testing::TempDir dir;
  Predictor p(dir.path(), {.service_time = microseconds(20000), .seed = 1});
  for (int i = 0; i < 100; ++i) EXPECT_EQ(p.SampleServiceTime(), microseconds(20000));
}

TEST(PredictorTest, ExpAndLognormalHaveTheConfiguredMean) {
  testing::TempDir dir;
  for (ServiceDist d : {ServiceDist::kExp, ServiceDist::kLognormal}) {
    Predictor p(dir.path(), {.service_time = microseconds(10000), .dist = d, .seed = 42});
    double mean = MeanOf(p, 40000);
    // Standard error of the mean of 40k exponential draws is 0.5%; 3% is > 5 sigma.
    EXPECT_NEAR(mean, 10000.0, 300.0) << ServiceDistName(d);
  }
}

TEST(PredictorTest, ExpIsNotFixed) {
  testing::TempDir dir;
  Predictor p(dir.path(), {.service_time = microseconds(10000), .dist = ServiceDist::kExp,
                           .seed = 7});
  int below_mean = 0;
  for (int i = 0; i < 10000; ++i) below_mean += p.SampleServiceTime() < microseconds(10000);
  // P(X < mean) = 1 - 1/e ≈ 0.632 for an exponential.
  EXPECT_NEAR(below_mean / 10000.0, 0.632, 0.03);
}

TEST(PredictorTest, SameSeedSameDraws) {
  testing::TempDir dir;
  PredictorOptions o{.service_time = microseconds(5000), .dist = ServiceDist::kLognormal,
                     .seed = 99};
  Predictor a(dir.path(), o), b(dir.path(), o);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.SampleServiceTime(), b.SampleServiceTime());
}

TEST(PredictorTest, FailRateFailsThatShareOfCalls) {
  testing::TempDir dir;
  Predictor p(dir.path(), {.service_time = microseconds(0), .fail_rate = 0.25, .seed = 3,
                           .write_output = false});
  int failed = 0;
  for (int i = 0; i < 8000; ++i) {
    auto r = p.Predict({.job_id = "0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e", .input_path = "a"});
    if (!r) {
      ++failed;
      EXPECT_EQ(r.error().code, ErrorCode::kInternal);
    }
  }
  EXPECT_NEAR(failed / 8000.0, 0.25, 0.03);
}

TEST(PredictorTest, WritesResultUnderDataFolder) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir.path() / "images");
  std::ofstream(dir.path() / "images/a.png") << "hello";
  Predictor p(dir.path(), {.service_time = microseconds(0)});
  const std::string id = "0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e";
  auto r = p.Predict({.job_id = id, .input_path = "images/a.png", .attempt = 2});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->output_path, "outputs/0b/" + id + ".json");
  std::ifstream f(dir.path() / r->output_path);
  auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["jobId"], id);
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["inputBytes"], 5);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / (r->output_path + ".tmp2")));
}

TEST(PredictorTest, SleepModeWaitsAtLeastTheServiceTime) {
  testing::TempDir dir;
  Predictor p(dir.path(), {.service_time = microseconds(30000), .write_output = false});
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(p.Predict({.job_id = "x", .input_path = "a"}));
  EXPECT_GE(std::chrono::steady_clock::now() - start, microseconds(30000));
}

TEST(PredictorTest, TheOutputIsWrittenInsideTheServiceTime) {
  // The call writes first and sleeps until start + S: the file exists, the call took >= S, and
  // a failed call (drawn to fail) writes nothing.
  testing::TempDir dir;
  const std::string id = "0b5d2c4e-8f1a-4c3b-9d2e-1f0a9b8c7d6e";
  Predictor ok(dir.path(), {.service_time = microseconds(30000)});
  auto start = std::chrono::steady_clock::now();
  auto r = ok.Predict({.job_id = id, .input_path = "a"});
  ASSERT_TRUE(r);
  EXPECT_GE(std::chrono::steady_clock::now() - start, microseconds(30000));
  EXPECT_TRUE(std::filesystem::exists(dir.path() / r->output_path));

  testing::TempDir other;
  Predictor failing(other.path(), {.service_time = microseconds(1000), .fail_rate = 1.0});
  auto f = failing.Predict({.job_id = id, .input_path = "a"});
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, ErrorCode::kInternal);
  EXPECT_FALSE(std::filesystem::exists(other.path() / "outputs"));
}

TEST(PredictorTest, CpuModeSpendsThreadCpuTime) {
  auto cpu_us = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
  };
  testing::TempDir dir;
  Predictor p(dir.path(), {.service_time = microseconds(30000), .mode = Mode::kCpu,
                           .write_output = false});
  long before = cpu_us();
  ASSERT_TRUE(p.Predict({.job_id = "x", .input_path = "a"}));
  EXPECT_GE(cpu_us() - before, 30000);
}

TEST(PredictorTest, OptionsValidate) {
  EXPECT_TRUE(PredictorOptions{}.Validate());
  EXPECT_FALSE((PredictorOptions{.fail_rate = 1.5}).Validate());
  EXPECT_FALSE((PredictorOptions{.service_time = microseconds(-1)}).Validate());
  EXPECT_FALSE(ParseServiceDist("normal"));
  EXPECT_EQ(ParseMode("cpu").value(), Mode::kCpu);
}

}  // namespace
}  // namespace mqlab::model

namespace mqlab::model {
namespace {

TEST(PredictorTest, StopCutsALongPredictionShort) {
  testing::TempDir dir;
  for (Mode mode : {Mode::kSleep, Mode::kCpu}) {
    Predictor p(dir.path(), {.service_time = std::chrono::seconds(60), .mode = mode,
                             .write_output = false});
    std::stop_source stop;
    std::thread t([&] {
      auto r = p.Predict({.job_id = "x", .input_path = "a"}, stop.get_token());
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, ErrorCode::kAborted);
    });
    stop.request_stop();
    t.join();  // would take 60 s if the stop were ignored (ctest's timeout catches it)
  }
}

}  // namespace
}  // namespace mqlab::model
