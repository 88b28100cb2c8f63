#include "metrics/hdr_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mqlab::metrics {
namespace {

// 128 sub-buckets per power of two: a bucket is at most 1/128 of its lower bound wide.
constexpr int kSubBits = 7;
constexpr uint64_t kSubCount = uint64_t{1} << kSubBits;

}  // namespace

// The layout in one formula: shift = max(0, bit_width(v) - 8); index = shift * 128 + (v >> shift).
// For v < 256 the shift is 0 and the index is v itself; above, v >> shift lies in [128, 256).
size_t HdrHistogram::BucketIndex(uint64_t value) {
  int width = std::bit_width(value);
  int shift = width > kSubBits + 1 ? width - (kSubBits + 1) : 0;
  return (static_cast<size_t>(shift) << kSubBits) + static_cast<size_t>(value >> shift);
}

uint64_t HdrHistogram::BucketLow(size_t index) {
  if (index < 2 * kSubCount) return index;
  uint64_t shift = (index >> kSubBits) - 1;
  uint64_t sub = index - (shift << kSubBits);  // in [128, 256)
  return sub << shift;
}

uint64_t HdrHistogram::BucketWidth(size_t index) {
  if (index < 2 * kSubCount) return 1;
  return uint64_t{1} << ((index >> kSubBits) - 1);
}

HdrHistogram::HdrHistogram(uint64_t highest_trackable) : highest_trackable_(highest_trackable) {
  if (highest_trackable_ < 2 * kSubCount) {
    std::fprintf(stderr, "HdrHistogram: highest_trackable must be >= 256\n");
    std::abort();
  }
  counts_.assign(BucketIndex(highest_trackable_) + 1, 0);
}

void HdrHistogram::RecordN(uint64_t value, uint64_t count) {
  if (count == 0) return;
  counts_[BucketIndex(std::min(value, highest_trackable_))] += count;
  count_ += count;
  sum_ += static_cast<double>(value) * static_cast<double>(count);
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void HdrHistogram::Merge(const HdrHistogram& other) {
  if (other.count_ == 0) return;
  // Same layout, possibly a different length: indices map one to one, clamped to the top.
  const size_t top = counts_.size() - 1;
  for (size_t i = 0; i < other.counts_.size(); ++i) {
    if (other.counts_[i] != 0) counts_[std::min(i, top)] += other.counts_[i];
  }
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void HdrHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

uint64_t HdrHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  if (!(p > 0)) return min();
  if (p >= 100) return max_;
  // p * count first: exact for integral p and realistic counts, so 99% of 1000 is rank 990.
  double r = std::ceil(p * static_cast<double>(count_) / 100.0);
  uint64_t rank = std::clamp<uint64_t>(static_cast<uint64_t>(r), 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      // The bucket holds the integers [low, low + width - 1]; its midpoint halves the error.
      uint64_t mid = BucketLow(i) + (BucketWidth(i) - 1) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace mqlab::metrics
