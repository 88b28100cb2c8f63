// The standard process_* metrics of Prometheus clients, read from /proc/self at scrape time.
//
// Names and units follow client_golang's process collector, so that dashboards and queries
// written for any Prometheus-instrumented process work on mqlab's:
//   process_cpu_seconds_total        counter  user + system CPU time
//   process_resident_memory_bytes    gauge    RSS
//   process_virtual_memory_bytes     gauge    VSZ
//   process_open_fds                 gauge    entries in /proc/self/fd
//   process_max_fds                  gauge    soft RLIMIT_NOFILE
//   process_start_time_seconds       gauge    Unix time the process started
//   process_threads                  gauge    threads of the process
//
// Threading: the collector runs inside Registry::Render (serialised there). Linux only; where a
// /proc file cannot be read the metric keeps its previous value.
#ifndef MQLAB_METRICS_PROCESS_METRICS_H_
#define MQLAB_METRICS_PROCESS_METRICS_H_

#include <cstdint>
#include <optional>

#include "metrics/registry.h"

namespace mqlab::metrics {

// Registers the families above and a collector that refreshes them before each Render.
// REQUIRES: called at most once per Registry (the names are fixed).
void RegisterProcessMetrics(Registry& registry);

// One reading of /proc/self; exposed for tests. Fields are empty when unreadable.
struct ProcessStats {
  std::optional<double> cpu_seconds;
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> open_fds;
  std::optional<double> max_fds;
  std::optional<double> start_time_seconds;
  std::optional<double> threads;
};
ProcessStats ReadProcessStats();

}  // namespace mqlab::metrics

#endif  // MQLAB_METRICS_PROCESS_METRICS_H_
