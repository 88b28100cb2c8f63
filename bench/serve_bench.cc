// Benchmark: `mqlab serve` end to end with a zero-time model, driven over HTTP keep-alive from
// this (second) process.
//
// Starts `mqlab serve --service-ms 0` as a child, submits --jobs jobs from --connections
// closed-loop client threads (one keep-alive connection each), then watches /metrics until every
// job completed. Prints and writes as JSON: jobs/s end to end (first submit → last completion),
// submissions/s, submit latency p50/p99/max (from each request's actual send: a closed loop has
// no intended send time), and the machine it ran on.
//
//   build/bench/mqlab_serve_bench --jobs 20000 --connections 8 --workers 2 --json out.json
#include <signal.h>
#include <sys/utsname.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "study/child.h"
#include "http/client.h"
#include "metrics/hdr_histogram.h"

namespace mqlab::bench {
namespace {

double CompletedJobs(http::Client& c) {
  auto res = c.Do(http::Verb::get, "/metrics");
  if (!res) return -1;
  return ScrapeValue(res->body(), R"(mqlab_jobs_completed_total{backend="memory",status="SUCCESS"})");
}

int Run(int argc, char** argv) {
  int jobs = 20000, connections = 8, workers = 2, io_threads = 0;
  std::string json_out, mqlab = MQLAB_BINARY;
  CLI::App app{"mqlab serve end-to-end benchmark (zero-time model)"};
  app.add_option("--jobs", jobs, "Jobs to submit")->capture_default_str();
  app.add_option("--connections", connections, "Client connections (threads)")->capture_default_str();
  app.add_option("--workers", workers, "serve --workers")->capture_default_str();
  app.add_option("--io-threads", io_threads, "serve --io-threads (0: one per core)")->capture_default_str();
  app.add_option("--json", json_out, "Write the result here");
  app.add_option("--mqlab", mqlab, "The mqlab binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  TempFolder dir("serve-bench");
  auto serve = study::Child::Start(
      mqlab,
      {.name = "mqlab serve",
       .args = {"serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path() + "/data",
                "--service-ms", "0", "--workers", std::to_string(workers), "--io-threads",
                std::to_string(io_threads), "--backpressure", "off", "--queue-capacity",
                "10000000", "--log-level", "warn"}},
      dir.path() + "/serve.log", std::chrono::seconds(30));
  if (!serve) {
    fmt::print(stderr, "{}\n", serve.error().ToString());
    return 1;
  }
  auto url = http::ParseHttpUrl((*serve)->url());

  std::vector<metrics::HdrHistogram> hist(connections);
  std::atomic<int> next{0}, errors{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      http::Client c(*url);
      const std::string body = R"({"inputPath":"inputs/page.png"})";
      while (next.fetch_add(1) < jobs) {
        auto t0 = std::chrono::steady_clock::now();
        auto res = c.Do(http::Verb::post, "/mem/ocr/jobs", body);
        hist[t].Record(std::chrono::steady_clock::now() - t0);
        if (!res || res->result_int() != 202) errors++;
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto submitted = std::chrono::steady_clock::now();
  http::Client watcher(*url);
  double completed = 0;
  while ((completed = CompletedJobs(watcher)) < jobs - errors.load()) {
    if (std::chrono::steady_clock::now() - submitted > std::chrono::minutes(5)) {
      fmt::print(stderr, "serve_bench: only {} of {} jobs completed\n", completed, jobs);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto done = std::chrono::steady_clock::now();
  metrics::HdrHistogram all;
  for (auto& h : hist) all.Merge(h);
  auto secs = [](auto d) { return std::chrono::duration<double>(d).count(); };
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  nlohmann::json out{
      {"benchmark", "serve_end_to_end"},
      {"machine", MachineInfo()},
      {"params", {{"jobs", jobs}, {"connections", connections}, {"workers", workers},
                  {"serviceMs", 0}, {"ioThreads", io_threads}}},
      {"jobsPerSecondEndToEnd", jobs / secs(done - start)},
      {"submitsPerSecond", jobs / secs(submitted - start)},
      {"submitLatencyMs", {{"p50", ms(all.Percentile(50))}, {"p99", ms(all.Percentile(99))},
                           {"max", ms(all.max())}, {"clock", "actual send (closed loop)"}}},
      {"errors", errors.load()},
      {"seconds", secs(done - start)},
  };
  fmt::print("{}\n", out.dump(2));
  if (!json_out.empty()) std::ofstream(json_out) << out.dump(2) << '\n';
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mqlab::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return mqlab::bench::Run(argc, argv);
}
