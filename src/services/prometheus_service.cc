#include "services/prometheus_service.h"

#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "http/client.h"
#include "services/file_lock.h"
#include "common/files.h"
#include "services/process.h"
#include "services/state_file.h"

namespace mqlab::services {

namespace fs = std::filesystem;

struct PrometheusService::Paths {
  fs::path root;  // RUNTIME_DIR/prometheus, absolute
  fs::path config, targets, targets_dir, data, log, state, lock, port;

  explicit Paths(const fs::path& runtime_dir)
      : root(fs::weakly_canonical(fs::absolute(runtime_dir)) / "prometheus"),
        config(root / "prometheus.yml"),
        targets(root / "targets.json"),
        targets_dir(root / "targets.d"),
        data(root / "data"),
        log(root / "server.log"),
        state(root / "state.json"),
        lock(root / "lock"),
        port(root / "port") {}
};

namespace {

// Polling interval while the server starts (ready in ~1 s).
constexpr auto kReadyPoll = std::chrono::milliseconds(50);

using State = ServerState;



// The file_sd JSON of `targets`: [{"targets": [...], "labels": {...}}, ...].
std::string TargetsJson(const std::vector<ScrapeTarget>& targets) {
  nlohmann::json groups = nlohmann::json::array();
  for (const ScrapeTarget& t : targets) {
    groups.push_back({{"targets", t.addresses}, {"labels", t.labels}});
  }
  return groups.dump(2) + "\n";
}

Status CheckGroupName(const std::string& group) {
  const bool ok =
      !group.empty() && group != "." && group != ".." &&
      std::all_of(group.begin(), group.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  if (!ok) {
    return InvalidArgument(
        fmt::format("target group '{}': use letters, digits, '_', '-' and '.' only", group));
  }
  return Ok();
}


// True if `pid` is a live prometheus started with our config file (its command line says so),
// so a stranger reusing a dead server's PID, or another folder's prometheus, is never ours.
bool IsOurServer(const PrometheusService::Paths& paths, int pid) {
  if (!IsAlive(pid)) return false;
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::string arg;
  const std::string want = "--config.file=" + paths.config.string();
  while (std::getline(in, arg, '\0')) {
    if (arg == want) return true;
  }
  return false;
}

// GET /-/ready answers 200.
bool Ready(int port) {
  http::Client client("127.0.0.1", static_cast<uint16_t>(port),
                      {.connect_timeout = std::chrono::milliseconds(500),
                       .request_timeout = std::chrono::milliseconds(2000)});
  auto r = client.Do(http::Verb::get, "/-/ready");
  return r && r->result() == http::HttpStatus::ok;
}


}  // namespace

PrometheusService::PrometheusService(PrometheusServiceOptions options)
    : options_(std::move(options)) {}

std::string PrometheusService::UrlForPort(int port) {
  return fmt::format("http://127.0.0.1:{}", port);
}

fs::path PrometheusService::TargetsFile(const fs::path& runtime_dir) {
  return Paths(runtime_dir).targets;
}

Status PrometheusService::WriteTargets(const fs::path& runtime_dir,
                                       const std::vector<ScrapeTarget>& targets) {
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.root, ec);
  return WriteFileAtomically(paths.targets, TargetsJson(targets));
}

fs::path PrometheusService::TargetsDir(const fs::path& runtime_dir) {
  return Paths(runtime_dir).targets_dir;
}

Status PrometheusService::WriteTargetGroup(const fs::path& runtime_dir, const std::string& group,
                                           const std::vector<ScrapeTarget>& targets) {
  if (auto s = CheckGroupName(group); !s) return s;
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.targets_dir, ec);
  if (ec) {
    return Unavailable(
        fmt::format("cannot create {}: {}", paths.targets_dir.string(), ec.message()));
  }
  // The temporary file ends in .json.tmp: the server's *.json pattern never reads it.
  return WriteFileAtomically(paths.targets_dir / (group + ".json"), TargetsJson(targets));
}

Status PrometheusService::RemoveTargetGroup(const fs::path& runtime_dir, const std::string& group) {
  if (auto s = CheckGroupName(group); !s) return s;
  const fs::path file = Paths(runtime_dir).targets_dir / (group + ".json");
  std::error_code ec;
  fs::remove(file, ec);
  if (ec) return Unavailable(fmt::format("cannot remove {}: {}", file.string(), ec.message()));
  return Ok();
}

// JSON strings are valid YAML double-quoted scalars: the paths need no escaping of our own.
std::string PrometheusService::ConfigText(const Paths& paths) const {
  const int64_t ms = options_.scrape_interval.count();
  return fmt::format(
      "# Written by `mqlab services up prometheus` at every start (src/services/"
      "prometheus_service.cc).\n"
      "# Scrape targets go in {0} and {2} (file_sd: picked up without a restart).\n"
      "global:\n"
      "  scrape_interval: {1}ms\n"
      "  scrape_timeout: {1}ms\n"
      "  evaluation_interval: {1}ms\n"
      "scrape_configs:\n"
      "  - job_name: mqlab\n"
      "    file_sd_configs:\n"
      "      - files: [{0}, {2}]\n"
      "        refresh_interval: 5s\n",
      nlohmann::json(paths.targets.string()).dump(), ms,
      nlohmann::json((paths.targets_dir / "*.json").string()).dump());
}

Status PrometheusService::WriteConfig(const Paths& paths) const {
  if (auto s = WriteFileAtomically(paths.config, ConfigText(paths)); !s) return s;
  std::error_code ec;
  fs::create_directories(paths.targets_dir, ec);
  if (!fs::exists(paths.targets)) return WriteFileAtomically(paths.targets, "[]\n");
  return Ok();
}

Status PrometheusService::CheckConfig(const Paths& paths) const {
  if (!fs::exists(options_.promtool)) return Ok();
  const fs::path out = paths.root / "promtool.log";
  std::error_code ec;
  fs::remove(out, ec);
  auto code = RunToExit({.argv = {options_.promtool.string(), "check", "config",
                                  paths.config.string()},
                         .cwd = paths.root,
                         .output = out,
                         .new_session = false},
                        std::chrono::seconds(30));
  if (!code) return std::unexpected(code.error());
  if (*code != 0) {
    return FailedPrecondition(fmt::format("promtool rejects {} (exit {}):\n{}",
                                          paths.config.string(), *code, TailOfFile(out)));
  }
  return Ok();
}

// A server started by an older mqlab runs the config it was given then (one without targets.d/,
// say): rewrite it and have the server reload it (POST /-/reload, --web.enable-lifecycle), so
// that what callers write in targets.d/ is scraped. Flags (the discovery interval) stay as they
// were until the next restart.
Status PrometheusService::RefreshConfig(const Paths& paths, int port) const {
  std::ifstream in(paths.config, std::ios::binary);
  std::string current((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (current == ConfigText(paths)) return Ok();
  if (auto s = WriteConfig(paths); !s) return s;
  if (auto s = CheckConfig(paths); !s) return s;
  http::Client client("127.0.0.1", static_cast<uint16_t>(port),
                      {.connect_timeout = std::chrono::milliseconds(2000),
                       .request_timeout = std::chrono::milliseconds(30000)});
  auto r = client.Do(http::Verb::post, "/-/reload");
  if (!r) return std::unexpected(r.error());
  if (r->result() != http::HttpStatus::ok) {
    return Unavailable(fmt::format("prometheus on port {} refused to reload {}: HTTP {} {}", port,
                                   paths.config.string(), r->result_int(), r->body()));
  }
  return Ok();
}

ServiceStatus PrometheusService::Inspect(const Paths& paths) {
  auto state = ReadServerState(paths.state);
  if (!state) return {.detail = "not started"};
  if (!IsOurServer(paths, state->pid)) {
    return {.detail =
                fmt::format("stale record: pid {} is not this folder's prometheus", state->pid)};
  }
  ServiceStatus s{.pid = state->pid, .port = state->port};
  s.running = Ready(state->port);
  s.url = s.running ? state->url : "";
  s.detail = s.running ? fmt::format("running, pid {}", s.pid)
                       : fmt::format("pid {} is not ready", s.pid);
  return s;
}

Result<ServiceStatus> PrometheusService::GetStatus(const fs::path& runtime_dir) {
  return Inspect(Paths(runtime_dir));
}

Result<std::string> PrometheusService::Launch(const Paths& paths) {
  // A port picked free can be taken before the server binds it: then try another.
  for (int attempt = 1;; ++attempt) {
    auto port = PickPort(paths.port, attempt);
    if (!port) return std::unexpected(port.error());
    std::vector<std::string> argv = {
        options_.binary.string(),
        "--config.file=" + paths.config.string(),
        "--storage.tsdb.path=" + paths.data.string(),
        "--storage.tsdb.retention.time=" + options_.retention,
        fmt::format("--web.listen-address=127.0.0.1:{}", *port),
        fmt::format("--scrape.discovery-reload-interval={}ms",
                    options_.discovery_reload_interval.count()),
        "--web.enable-lifecycle"};
    auto pid = Spawn({.argv = argv, .cwd = paths.root, .output = paths.log});
    if (!pid) return std::unexpected(pid.error());
    State state{*pid, *port, UrlForPort(*port)};
    // Recorded before waiting, so that `down` can stop it even if this process dies now.
    if (auto s = WriteServerState(paths.state, state); !s) {
      (void)StopByPid(*pid, "prometheus", paths.root, options_.stop_timeout);
      return std::unexpected(s.error());
    }
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    std::optional<int> exit_code;
    while (!(exit_code = ReapIfExited(*pid)) && IsAlive(*pid)) {
      if (Ready(*port)) {
        RememberPort(paths.port, *port);
        return state.url;
      }
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(kReadyPoll);
    }
    std::error_code ec;
    if (!exit_code && IsAlive(*pid)) {  // hung in start-up: stop exactly it
      (void)StopByPid(*pid, "prometheus", paths.root, options_.stop_timeout);
      fs::remove(paths.state, ec);
      return DeadlineExceeded(fmt::format(
          "prometheus was not ready within {} ms; {} ends with:\n{}",
          options_.start_timeout.count(), paths.log.string(), TailOfFile(paths.log)));
    }
    fs::remove(paths.state, ec);
    const std::string tail = TailOfFile(paths.log);
    if (tail.find("address already in use") == std::string::npos || attempt == 3) {
      return Unavailable(fmt::format(
          "prometheus exited during start-up (code {}); {} ends with:\n{}",
          exit_code.value_or(-1), paths.log.string(), tail));
    }
  }
}

Result<std::string> PrometheusService::Start(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.data, ec);
  if (ec) {
    return Unavailable(fmt::format("cannot create {}: {}", paths.data.string(), ec.message()));
  }
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());

  ServiceStatus current = Inspect(paths);
  if (current.running) {
    if (auto s = RefreshConfig(paths, current.port); !s) return std::unexpected(s.error());
    return current.url;
  }
  if (current.pid != 0) {  // ours and alive, but not ready (yet): wait for it
    const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
    while (IsOurServer(paths, current.pid)) {
      if (Ready(current.port)) return UrlForPort(current.port);
      if (std::chrono::steady_clock::now() > deadline) {
        return DeadlineExceeded(fmt::format("prometheus pid {} in {} is not ready; see {}",
                                            current.pid, paths.root.string(), paths.log.string()));
      }
      std::this_thread::sleep_for(kReadyPoll);
    }
  }
  fs::remove(paths.state, ec);
  if (!fs::exists(options_.binary)) {
    return FailedPrecondition(fmt::format(
        "{} not found: install Prometheus (apt-get install prometheus; scripts/setup does)",
        options_.binary.string()));
  }
  if (auto s = WriteConfig(paths); !s) return std::unexpected(s.error());
  if (auto s = CheckConfig(paths); !s) return std::unexpected(s.error());
  return Launch(paths);
}

Status PrometheusService::Stop(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  if (!fs::exists(paths.root)) return Ok();
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  auto state = ReadServerState(paths.state);
  if (state && IsOurServer(paths, state->pid)) {
    if (auto s = StopByPid(state->pid, "prometheus", paths.root, options_.stop_timeout); !s) return s;
  }
  std::error_code ec;
  fs::remove(paths.state, ec);
  return Ok();
}

}  // namespace mqlab::services
