#include "metrics/process_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace mqlab::metrics {
namespace {

TEST(ProcessMetricsTest, ReadsPlausibleValuesFromProc) {
  ProcessStats s = ReadProcessStats();
  ASSERT_TRUE(s.cpu_seconds && s.resident_bytes && s.virtual_bytes && s.open_fds && s.max_fds &&
              s.start_time_seconds && s.threads);
  EXPECT_GE(*s.cpu_seconds, 0);
  EXPECT_GT(*s.resident_bytes, 1 << 20);  // a test binary maps more than 1 MiB
  EXPECT_GE(*s.virtual_bytes, *s.resident_bytes);
  EXPECT_GE(*s.open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(*s.threads, 1);
  double now = std::chrono::duration<double>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(*s.start_time_seconds, now + 1);
  EXPECT_GT(*s.start_time_seconds, now - 24 * 3600);  // started less than a day ago
}

TEST(ProcessMetricsTest, RegistersStandardNames) {
  Registry r;
  RegisterProcessMetrics(r);
  std::string text = r.Render();
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_virtual_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n", "# TYPE process_start_time_seconds gauge\n",
        "# TYPE process_threads gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line;
  }
  EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos)
      << "the collector did not run";
}

}  // namespace
}  // namespace mqlab::metrics
