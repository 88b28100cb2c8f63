// Time sources, injected so that tests can drive time by hand.
//
// Wall time (Now) stamps jobs; steady time (Steady) measures intervals and deadlines. A Clock is
// shared by many threads: implementations must be thread-safe.
#ifndef MQLAB_COMMON_CLOCK_H_
#define MQLAB_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "mqlab/common/status.h"

namespace mqlab {

using WallTime = std::chrono::system_clock::time_point;
using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;
  virtual SteadyTime Steady() const = 0;

  // The process's real clock. Stateless; lives for the whole program.
  static const Clock& Real();
};

// Microseconds since the Unix epoch, the unit every store keeps times in.
int64_t ToUnixMicros(WallTime t);
WallTime FromUnixMicros(int64_t micros);

// RFC 3339 in UTC with millisecond precision: "2026-11-25T16:42:23.123Z".
std::string FormatRfc3339(WallTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)".
Result<WallTime> ParseRfc3339(std::string_view text);

}  // namespace mqlab

#endif  // MQLAB_COMMON_CLOCK_H_
