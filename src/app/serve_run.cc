// RunServe: `mqlab serve` as a process — signals, the start-up line, and the --demo mode.
#include <csignal>
#include <fstream>
#include <thread>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/embedded.h"
#include "common/logging.h"
#include "common/signals.h"
#include "http/client.h"

namespace mqlab::app {
namespace {

// Submits `n` jobs to the running app over HTTP, follows each to SUCCESS or FAILED, prints a
// summary. Returns 0 if every job succeeded.
int RunDemo(EmbeddedApp& app, const ServeConfig& config, int n) {
  auto url = http::ParseHttpUrl(app.BaseUrl());
  http::Client client(*url);
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir / "inputs", ec);
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  int rejected = 0;
  for (int i = 0; i < n; ++i) {
    const std::string input = fmt::format("inputs/demo-{}.txt", i % 10);
    std::ofstream(config.data_dir / input) << "page " << i % 10 << " of a scanned document\n";
    auto res = client.Do(http::Verb::post, "/mem/ocr/jobs",
                         nlohmann::json{{"inputPath", input}}.dump());
    if (!res) {
      fmt::print(stderr, "demo: submit failed: {}\n", res.error().ToString());
      return 1;
    }
    if (res->result() != http::HttpStatus::accepted) {
      ++rejected;
      continue;
    }
    ids.push_back(nlohmann::json::parse(res->body())["jobId"].get<std::string>());
  }
  fmt::print("demo: submitted {} jobs to {}/mem/ocr/jobs ({} accepted, {} rejected)\n", n,
             app.BaseUrl(), ids.size(), rejected);
  const double expected_s = static_cast<double>(config.model.service_time.count()) / 1e6 *
                            static_cast<double>(ids.size()) / config.worker.concurrency;
  const auto deadline = start + std::chrono::seconds(30) +
                        std::chrono::milliseconds(static_cast<int64_t>(expected_s * 3000));
  int succeeded = 0, failed = 0;
  nlohmann::json last;
  for (const std::string& id : ids) {
    for (;;) {
      auto res = client.Do(http::Verb::get, "/mem/ocr/jobs/" + id);
      if (!res || res->result() != http::HttpStatus::ok) {
        fmt::print(stderr, "demo: GET {} failed\n", id);
        return 1;
      }
      last = nlohmann::json::parse(res->body());
      const std::string status = last["status"];
      if (status == "SUCCESS" || status == "FAILED") {
        (status == "SUCCESS" ? succeeded : failed)++;
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        fmt::print(stderr, "demo: job {} still {} at the deadline\n", id, status);
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, as a client would
    }
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("demo: {} SUCCESS, {} FAILED in {:.2f} s ({:.1f} jobs/s with {} workers at {} ms "
             "per job; ideal {:.1f} jobs/s)\n",
             succeeded, failed, took, static_cast<double>(ids.size()) / took,
             config.worker.concurrency, config.model.service_time.count() / 1000.0,
             config.model.service_time.count() > 0
                 ? config.worker.concurrency * 1e6 / config.model.service_time.count()
                 : 0.0);
  if (!last.is_null()) fmt::print("demo: the last job, as GET returns it:\n{}\n", last.dump(2));
  return failed == 0 && rejected == 0 ? 0 : 1;
}

}  // namespace

int RunServe(const ServeConfig& config, int demo_jobs, std::shared_ptr<spdlog::logger> log) {
  auto app = EmbeddedApp::Create(config, log);
  if (!app) {
    fmt::print(stderr, "mqlab serve: {}\n", OneLine(app.error().message));
    return 1;
  }
  if (auto s = (*app)->Start(); !s) {
    fmt::print(stderr, "mqlab serve: {}\n", OneLine(s.error().message));
    return 1;
  }
  // The one line scripts and tests wait for; flushed at once.
  fmt::print("mqlab serve: listening on {} ({} workers, data in {}; metrics on {})\n",
             (*app)->BaseUrl(), config.worker.concurrency, config.data_dir.string(),
             (*app)->MetricsUrl());
  std::fflush(stdout);
  int code = 0;
  if (demo_jobs > 0) {
    code = RunDemo(**app, config, demo_jobs);
  } else {
    int sig = WaitForStopSignal();
    log->info("serve: {} received, stopping (again to force)", sig == SIGINT ? "SIGINT" : "SIGTERM");
    ArmForcedExit();
  }
  bool drained = (*app)->Stop();
  return drained ? code : (code ? code : 1);
}

}  // namespace mqlab::app
