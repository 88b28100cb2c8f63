// PrometheusService: a private Prometheus (Debian's prometheus 2.42) in RUNTIME_DIR/prometheus/,
// scraping what the study (or a test) lists in a target file, every second.
//
// Layout: prometheus.yml (written at every start: ours, not for editing), targets.json (the
// file_sd target file: write it with WriteTargets at any time; Prometheus watches it, so targets
// change without a restart; kept across restarts), data/ (the TSDB, kept across up/down),
// server.log, state.json (pid, port, url), port (the port kept across restarts), lock.
//
// Start: the config is validated with promtool when it is installed, then the prometheus binary
// is exec'd from an argument vector (exact PID) with --web.listen-address=127.0.0.1:PORT,
// --storage.tsdb.path and --web.enable-lifecycle. Ready means GET /-/ready answers 200 (at once;
// the first scraped sample is queryable only a few seconds later: poll for it). Prometheus does
// not refuse root, so it runs as the calling user.
// Stop: SIGTERM to the recorded PID (Prometheus then flushes and exits), SIGKILL after
// stop_timeout; only after checking that the PID is still this folder's server (its command line
// names our config file), so a reused PID is never signalled.
//
// Threading: see service.h.
#ifndef MQLAB_SERVICES_PROMETHEUS_SERVICE_H_
#define MQLAB_SERVICES_PROMETHEUS_SERVICE_H_

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "services/service.h"

namespace mqlab::services {

struct PrometheusServiceOptions {
  // The server binary. Default: /usr/bin/prometheus (Debian's prometheus package).
  std::filesystem::path binary = "/usr/bin/prometheus";
  // Validates the config before start when it exists. Default: /usr/bin/promtool.
  std::filesystem::path promtool = "/usr/bin/promtool";
  // Scrape (and rule evaluation) interval; the study's steps last tens of seconds, so 1 s gives
  // a curve per step. Default: 1 s.
  std::chrono::milliseconds scrape_interval{1000};
  // --storage.tsdb.retention.time. Default: "15d" (Prometheus' own default).
  std::string retention = "15d";
  // From spawn to /-/ready (~1 s measured; replaying a large WAL takes longer). Default: 60 s.
  std::chrono::milliseconds start_timeout{60000};
  // SIGTERM before SIGKILL. Default: 30 s.
  std::chrono::milliseconds stop_timeout{30000};
};

// One group of scrape targets in targets.json.
struct ScrapeTarget {
  std::vector<std::string> addresses;         // "host:port", scraped at /metrics
  std::map<std::string, std::string> labels;  // added to every series, e.g. {"component","api"}
};

class PrometheusService final : public Service {
 public:
  explicit PrometheusService(PrometheusServiceOptions options = {});

  std::string_view name() const override { return "prometheus"; }
  std::string_view env_var() const override { return "MQLAB_PROMETHEUS_URL"; }
  Result<std::string> Start(const std::filesystem::path& runtime_dir) override;
  Status Stop(const std::filesystem::path& runtime_dir) override;
  Result<ServiceStatus> GetStatus(const std::filesystem::path& runtime_dir) override;

  // http://127.0.0.1:PORT
  static std::string UrlForPort(int port);
  // RUNTIME_DIR/prometheus/targets.json, the file_sd file the running server watches.
  static std::filesystem::path TargetsFile(const std::filesystem::path& runtime_dir);
  // Replaces the scrape targets (atomically: a temporary file renamed over it, so Prometheus
  // never reads half a file). Works whether or not the server is running.
  static Status WriteTargets(const std::filesystem::path& runtime_dir,
                             const std::vector<ScrapeTarget>& targets);

  struct Paths;  // the folder's files (public for the helpers in the .cc)

 private:
  Status WriteConfig(const Paths& paths) const;
  Status CheckConfig(const Paths& paths) const;
  Result<std::string> Launch(const Paths& paths);
  ServiceStatus Inspect(const Paths& paths);

  PrometheusServiceOptions options_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_PROMETHEUS_SERVICE_H_
