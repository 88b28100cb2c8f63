// An HDR-style (log-linear) latency histogram for the load generator and the study.
//
// Written by hand because no Debian package offers HdrHistogram for C or C++; the layout is
// HdrHistogram's idea, simplified to one fixed precision.
//
// What: counts integer values (nanoseconds, by convention; any unit works) in buckets whose
// width is at most 1/128 of their lower bound. Values below 256 have a bucket each (exact);
// above, each power of two [2^e, 2^(e+1)) is split into 128 equal sub-buckets. A percentile is
// reported as the midpoint of its bucket, clamped to the exact min and max, so its relative
// error is at most 1/256 (~0.4%) of the exact sample quantile: inside the 1% the study promises
// from 1 µs to 60 s (and beyond, up to the highest trackable value).
//
// Cost: Record is constant time (a bit-width, a shift, an increment); memory is 8 bytes per
// bucket: 37 KiB for the default range of one hour in nanoseconds. Merge and Percentile walk the
// buckets: O(4.6k) each.
//
// Threading: NOT thread-safe, by design: recording must cost a few nanoseconds and never share
// a cache line. Give each thread its own histogram and Merge them when the run ends (or under
// the owner's lock at reporting time).
#ifndef MQLAB_METRICS_HDR_HISTOGRAM_H_
#define MQLAB_METRICS_HDR_HISTOGRAM_H_

#include <chrono>
#include <cstdint>
#include <vector>

namespace mqlab::metrics {

class HdrHistogram {
 public:
  // One hour in nanoseconds: the longest latency a run can produce (the study's runs are
  // minutes long), with headroom.
  static constexpr uint64_t kDefaultHighestTrackable = 3'600'000'000'000ull;

  // Values above `highest_trackable` are counted in the top bucket (and still update max).
  // REQUIRES: highest_trackable >= 256.
  explicit HdrHistogram(uint64_t highest_trackable = kDefaultHighestTrackable);

  void Record(uint64_t value) { RecordN(value, 1); }
  void Record(std::chrono::nanoseconds d) { Record(d.count() < 0 ? 0 : uint64_t(d.count())); }
  // Records `value` `count` times (coordinated-omission correction adds the missed samples
  // this way).
  void RecordN(uint64_t value, uint64_t count);

  // Adds every sample of `other`. Equivalent to having recorded them here (up to this
  // histogram's highest trackable value).
  void Merge(const HdrHistogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  // Exact extremes of the recorded values; 0 when empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
  uint64_t highest_trackable() const { return highest_trackable_; }

  // The value at percentile `p` in [0, 100]: the sample of rank ceil(p/100 * count) (at least 1)
  // in sorted order, to within its bucket's precision. Percentile(0) is min(), Percentile(100)
  // is max(). 0 when empty.
  uint64_t Percentile(double p) const;

  // Bucket layout, exposed for tests. Index of the bucket holding `value`; the lowest value of
  // bucket `index` and its width.
  static size_t BucketIndex(uint64_t value);
  static uint64_t BucketLow(size_t index);
  static uint64_t BucketWidth(size_t index);

 private:
  uint64_t highest_trackable_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;  // double: a sum of nanoseconds overflows 64 bits within a long run
};

}  // namespace mqlab::metrics

#endif  // MQLAB_METRICS_HDR_HISTOGRAM_H_
