// PrometheusService: a private Prometheus (Debian's prometheus 2.42) in RUNTIME_DIR/prometheus/,
// scraping what the study (or a test) lists in target files, every second.
//
// Layout: prometheus.yml (written at every start: ours, not for editing), targets.json (the
// file_sd target file: write it with WriteTargets at any time; Prometheus watches it, so targets
// change without a restart; kept across restarts), targets.d/*.json (more file_sd files, one per
// user: WriteTargetGroup/RemoveTargetGroup, so that a study and tests sharing one server never
// overwrite each other's targets), data/ (the TSDB, kept across up/down), server.log,
// state.json (pid, port, url), port (the port kept across restarts), lock.
//
// How soon a new target is scraped: Prometheus' discovery manager passes target changes on at
// most every 5 s (fixed in 2.42), and the scrape manager applies them at most every
// --scrape.discovery-reload-interval (a hidden flag, default 5 s; we pass 1 s), then the first
// scrape comes within one scrape interval: about 0.5-7 s after the file is written. Callers poll
// `up` (or the series they want) with a deadline; they never assume a delay.
//
// Start: finding its server running, it brings that server's config up to date (rewritten and
// reloaded through POST /-/reload when an older mqlab wrote another). Else the config is
// validated with promtool when it is installed, then the prometheus binary is exec'd from an
// argument vector (exact PID) with --web.listen-address=127.0.0.1:PORT, --storage.tsdb.path,
// --scrape.discovery-reload-interval and --web.enable-lifecycle. Ready means GET /-/ready
// answers 200 (at once; the first scraped sample is queryable only a few seconds later: poll for
// it). Prometheus does not refuse root, so it runs as the calling user.
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
  // --scrape.discovery-reload-interval: how often the scrape manager applies target changes
  // (Prometheus' default 5 s would delay every new target by up to 5 s more; the study registers
  // the processes of every cell anew). Default: 1 s.
  std::chrono::milliseconds discovery_reload_interval{1000};
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
  // RUNTIME_DIR/prometheus/targets.d/, more file_sd files (*.json) the server watches.
  static std::filesystem::path TargetsDir(const std::filesystem::path& runtime_dir);
  // Replaces the targets of group `group` (targets.d/<group>.json, written atomically), leaving
  // every other group alone: each user of a shared server owns a group named after itself.
  // `group` is a file name: [A-Za-z0-9_.-] only (InvalidArgument otherwise).
  static Status WriteTargetGroup(const std::filesystem::path& runtime_dir, const std::string& group,
                                 const std::vector<ScrapeTarget>& targets);
  // Removes group `group` (its targets stop being scraped). OK when there is none.
  static Status RemoveTargetGroup(const std::filesystem::path& runtime_dir,
                                  const std::string& group);

  struct Paths;  // the folder's files (public for the helpers in the .cc)

 private:
  std::string ConfigText(const Paths& paths) const;
  Status WriteConfig(const Paths& paths) const;
  Status CheckConfig(const Paths& paths) const;
  Status RefreshConfig(const Paths& paths, int port) const;
  Result<std::string> Launch(const Paths& paths);
  ServiceStatus Inspect(const Paths& paths);

  PrometheusServiceOptions options_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_PROMETHEUS_SERVICE_H_
