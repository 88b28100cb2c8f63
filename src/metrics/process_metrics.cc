#include "metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mqlab::metrics {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<double> BootTimeSeconds() {
  std::optional<std::string> stat = ReadFile("/proc/stat");
  if (!stat) return std::nullopt;
  std::istringstream in(*stat);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("btime ")) return std::stod(line.substr(6));
  }
  return std::nullopt;
}

// Fields of /proc/self/stat (proc(5)); `comm` may hold spaces and parentheses, so the fields
// are split after its last ')'. Field n of proc(5) is fields[n - 3].
void ReadSelfStat(ProcessStats& out) {
  std::optional<std::string> stat = ReadFile("/proc/self/stat");
  if (!stat) return;
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return;
  std::istringstream in(stat->substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() < 22) return;
  auto field = [&](int n) { return std::stod(fields[n - 3]); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (field(14) + field(15)) / ticks;  // utime + stime
  out.threads = field(20);
  out.virtual_bytes = field(23);
  out.resident_bytes = field(24) * page;
  if (std::optional<double> boot = BootTimeSeconds()) {
    out.start_time_seconds = *boot + field(22) / ticks;  // starttime is in ticks since boot
  }
}

}  // namespace

ProcessStats ReadProcessStats() {
  ProcessStats out;
  try {
    ReadSelfStat(out);
  } catch (const std::exception&) {
    // A malformed number (std::stod): leave the fields unset.
  }
  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) out.open_fds = fds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.max_fds = limit.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(limit.rlim_cur);
  }
  return out;
}

void RegisterProcessMetrics(Registry& registry) {
  Counter& cpu = registry
                     .AddCounter("process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.")
                     .With({});
  Gauge& rss = registry
                   .AddGauge("process_resident_memory_bytes", "Resident memory size in bytes.")
                   .With({});
  Gauge& vsz =
      registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").With({});
  Gauge& open_fds =
      registry.AddGauge("process_open_fds", "Number of open file descriptors.").With({});
  Gauge& max_fds =
      registry.AddGauge("process_max_fds", "Maximum number of open file descriptors.").With({});
  Gauge& start = registry
                     .AddGauge("process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.")
                     .With({});
  Gauge& threads = registry.AddGauge("process_threads", "Number of OS threads in the process.")
                       .With({});
  registry.AddCollector([&cpu, &rss, &vsz, &open_fds, &max_fds, &start, &threads] {
    ProcessStats s = ReadProcessStats();
    if (s.cpu_seconds) cpu.AdvanceTo(*s.cpu_seconds);
    if (s.resident_bytes) rss.Set(*s.resident_bytes);
    if (s.virtual_bytes) vsz.Set(*s.virtual_bytes);
    if (s.open_fds) open_fds.Set(*s.open_fds);
    if (s.max_fds) max_fds.Set(*s.max_fds);
    if (s.start_time_seconds) start.Set(*s.start_time_seconds);
    if (s.threads) threads.Set(*s.threads);
  });
}

}  // namespace mqlab::metrics
