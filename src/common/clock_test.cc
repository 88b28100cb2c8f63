// FromUnixMicros and ParseRfc3339 at the edges of WallTime's range (int64 nanoseconds, about
// ±292 years around 1970): beyond it they saturate instead of overflowing (undefined behaviour).
#include "mqlab/common/clock.h"

#include <gtest/gtest.h>

#include <limits>

namespace mqlab {
namespace {

TEST(ClockTest, FromUnixMicrosRoundTripsInRange) {
  for (int64_t us : {int64_t{0}, int64_t{-1}, int64_t{1764089000123456}}) {
    EXPECT_EQ(ToUnixMicros(FromUnixMicros(us)), us);
  }
}

TEST(ClockTest, FromUnixMicrosSaturatesBeyondRange) {
  EXPECT_EQ(FromUnixMicros(std::numeric_limits<int64_t>::max()), FromUnixMicros(int64_t{1} << 62));
  EXPECT_EQ(FromUnixMicros(std::numeric_limits<int64_t>::max()) - WallTime{},
            std::chrono::duration_cast<std::chrono::microseconds>(WallTime::duration::max()));
  EXPECT_LT(FromUnixMicros(std::numeric_limits<int64_t>::min()), FromUnixMicros(0));
}

TEST(ClockTest, ParseRfc3339OfYear9999Saturates) {
  auto t = ParseRfc3339("9999-12-31T23:59:59Z");
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_GT(*t, *ParseRfc3339("2262-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace mqlab
