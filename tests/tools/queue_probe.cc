// mqlab_queue_probe: a consumer process for the queue suites' crash tests. Opens a queue, receives
// one message, prints "received <jobId> attempt <n>" and then waits forever without settling it,
// until it is killed (SIGKILL: a consumer dying mid-job).
//
//   mqlab_queue_probe --kind redis --url redis://127.0.0.1:6400 --name q1 --lease-ms 2000
#include <unistd.h>

#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "queue/registry.h"

int main(int argc, char** argv) {
  mqlab::queue::QueueOptions o;
  int64_t lease_ms = 30000;
  CLI::App app{"receive one message and hang"};
  app.add_option("--kind", o.kind)->required();
  app.add_option("--url", o.url);
  app.add_option("--name", o.name)->required();
  app.add_option("--lease-ms", lease_ms);
  app.add_option("--group", o.consumer_group);
  app.add_option("--partitions", o.partitions);
  CLI11_PARSE(app, argc, argv);
  o.lease = std::chrono::milliseconds(lease_ms);
  o.consumer_id = fmt::format("probe-{}", getpid());
  auto q = mqlab::queue::OpenQueue(o);
  if (!q) {
    fmt::print("error {}\n", q.error().ToString());
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto d = (*q)->Receive({.timeout = std::chrono::milliseconds(500)});
    if (!d) {
      fmt::print("error {}\n", d.error().ToString());
      return 1;
    }
    if (*d) {
      fmt::print("received {} attempt {}\n", (*d)->message().job_id, (*d)->message().attempt);
      std::fflush(stdout);
      for (;;) pause();  // hold the delivery unsettled until killed
    }
  }
  fmt::print("error nothing received\n");
  return 1;
}
