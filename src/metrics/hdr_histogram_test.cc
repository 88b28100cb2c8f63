#include "metrics/hdr_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mqlab::metrics {
namespace {

constexpr uint64_t kMicro = 1'000;
constexpr uint64_t kSecond = 1'000'000'000;
const std::vector<double> kPercentiles = {0,  0.1, 1,  5,    10,    25,     50, 75,
                                          90, 95,  99, 99.9, 99.99, 99.999, 100};

// The sample of rank ceil(p/100 * n) (at least 1) in sorted order: the definition Percentile
// promises to approximate.
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double p) {
  if (p <= 0) return sorted.front();
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size()) / 100.0));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void ExpectWithinOnePercent(std::vector<uint64_t> samples) {
  HdrHistogram h;
  for (uint64_t v : samples) h.Record(v);
  std::sort(samples.begin(), samples.end());
  for (double p : kPercentiles) {
    double exact = static_cast<double>(ExactPercentile(samples, p));
    double got = static_cast<double>(h.Percentile(p));
    EXPECT_LE(std::fabs(got - exact), 0.01 * exact) << "p" << p << " exact " << exact;
  }
  EXPECT_EQ(h.count(), samples.size());
  EXPECT_EQ(h.min(), samples.front());
  EXPECT_EQ(h.max(), samples.back());
  double sum = 0;
  for (uint64_t v : samples) sum += static_cast<double>(v);
  EXPECT_NEAR(h.mean(), sum / static_cast<double>(samples.size()), 1e-9 * h.mean());
}

TEST(HdrHistogramTest, BucketLayoutIsContiguousAndPrecise) {
  const size_t top = HdrHistogram::BucketIndex(UINT64_MAX);
  for (size_t i = 0; i < top; ++i) {
    ASSERT_EQ(HdrHistogram::BucketLow(i) + HdrHistogram::BucketWidth(i),
              HdrHistogram::BucketLow(i + 1))
        << i;
    ASSERT_EQ(HdrHistogram::BucketIndex(HdrHistogram::BucketLow(i)), i);
    if (HdrHistogram::BucketLow(i) >= 256) {
      ASSERT_LE(HdrHistogram::BucketWidth(i) * 128, HdrHistogram::BucketLow(i)) << i;
    }
  }
  for (uint64_t v = 0; v < 256; ++v) EXPECT_EQ(HdrHistogram::BucketIndex(v), v);
}

TEST(HdrHistogramTest, UniformMicrosecondToMinute) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> dist(kMicro, 60 * kSecond);
  std::vector<uint64_t> samples(200000);
  for (auto& v : samples) v = dist(rng);
  ExpectWithinOnePercent(samples);
}

TEST(HdrHistogramTest, LogUniformCoversEveryOctave) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(std::log(1e3), std::log(60e9));
  std::vector<uint64_t> samples(200000);
  for (auto& v : samples) v = static_cast<uint64_t>(std::exp(exponent(rng)));
  ExpectWithinOnePercent(samples);
}

TEST(HdrHistogramTest, LognormalLatencies) {
  // Median 5 ms, sigma 1.5: a long right tail, like a queue under load.
  std::mt19937_64 rng(1234);
  std::lognormal_distribution<double> dist(std::log(5e6), 1.5);
  std::vector<uint64_t> samples(200000);
  for (auto& v : samples) {
    v = std::clamp<uint64_t>(static_cast<uint64_t>(dist(rng)), kMicro, 60 * kSecond);
  }
  ExpectWithinOnePercent(samples);
}

TEST(HdrHistogramTest, SmallValuesAreExact) {
  HdrHistogram h;
  for (uint64_t v = 1; v <= 200; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 100u);
  EXPECT_EQ(h.Percentile(99), 198u);
  EXPECT_EQ(h.Percentile(0), 1u);
  EXPECT_EQ(h.Percentile(100), 200u);
}

TEST(HdrHistogramTest, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(99);
  std::lognormal_distribution<double> dist(std::log(2e6), 2.0);
  HdrHistogram all;
  std::vector<HdrHistogram> parts(4);
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    all.Record(v);
    parts[i % parts.size()].Record(v);
  }
  HdrHistogram merged;
  for (const auto& p : parts) merged.Merge(p);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_NEAR(merged.mean(), all.mean(), 1e-9 * all.mean());
  for (double p : kPercentiles) EXPECT_EQ(merged.Percentile(p), all.Percentile(p)) << p;
}

TEST(HdrHistogramTest, EmptyAndReset) {
  HdrHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.Percentile(50), 0u);
  h.Record(std::chrono::milliseconds(3));
  h.RecordN(5000, 3);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.min(), 5000u);
  EXPECT_EQ(h.max(), 3'000'000u);
  EXPECT_DOUBLE_EQ(h.mean(), (3'000'000.0 + 15000.0) / 4);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(99), 0u);
  h.Record(42);
  EXPECT_EQ(h.min(), 42u);
  EXPECT_EQ(h.Percentile(50), 42u);
}

TEST(HdrHistogramTest, ValuesAboveRangeClampButKeepExactMax) {
  HdrHistogram small(1'000'000);
  small.Record(5'000'000);
  small.Record(100);
  EXPECT_EQ(small.max(), 5'000'000u);
  EXPECT_EQ(small.Percentile(100), 5'000'000u);
  EXPECT_EQ(small.Percentile(50), 100u);

  HdrHistogram big;
  big.Merge(small);
  EXPECT_EQ(big.count(), 2u);
  EXPECT_EQ(big.max(), 5'000'000u);
  HdrHistogram other(1'000'000);
  other.Merge(big);  // a wider histogram into a narrower one clamps to its top bucket
  EXPECT_EQ(other.count(), 2u);
  EXPECT_EQ(other.Percentile(100), 5'000'000u);
}

TEST(HdrHistogramTest, NegativeDurationsRecordAsZero) {
  HdrHistogram h;
  h.Record(std::chrono::nanoseconds(-5));
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max(), 0u);
}

}  // namespace
}  // namespace mqlab::metrics
