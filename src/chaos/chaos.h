// `mqlab chaos`: fault injection under a steady load, counting what was lost and what ran twice.
//
// For each target (a queue backend, and for Redis with and/or without persistence), in private
// servers of its own runtime folder (servers.h), the runner starts the API and N workers (for
// `mem`: one `mqlab serve` with N in-process workers), sends a steady open-model load well below
// capacity (submitter.h) and meanwhile, on two fault threads (so that kills go on during an
// outage):
//   - every `kill_every`: SIGKILL a random worker and start a replacement (mem: SIGKILL the serve
//     process, which is its workers and its queue, and start it again on the same port);
//   - at 30 % of the run: restart the backend's server (Stop then Start through the launcher),
//     the workers frozen `backlog_seconds` before it so that it meets a backlog;
//   - at 60 %: restart the PostgreSQL job store (V3: the same server again);
// then (once every planned fault happened) stops the load, drains (until every accepted job
// finished, or `drain_timeout`), stops the processes, and looks every accepted job up in the job
// store (accounting.h).
//
// Workers run with a short lease (`lease_seconds`, default 5 s: PostgreSQL's lease, Redis'
// XAUTOCLAIM idle time, Kafka's session timeout, which the queue clamps to ≥ 6 s) so that a killed
// worker's job comes back within seconds; RabbitMQ redelivers at once when the connection drops.
//
// Output: chaos.json (schema mqlab.chaos/1) and chaos.md (the table) in `out`. If `out` holds a
// study's results.json, the study report is rendered again and gains a Stability table.
//
// Threading: RunChaos blocks the calling thread; `stop` ends the current target early (what was
// measured is reported, marked incomplete).
#ifndef MQLAB_CHAOS_CHAOS_H_
#define MQLAB_CHAOS_CHAOS_H_

#include <spdlog/logger.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::chaos {

struct ChaosOptions {
  // Queue backends: mem (or memory), postgres, redis, rabbitmq, kafka. Default: all five.
  std::vector<std::string> backends = {"mem", "postgres", "redis", "rabbitmq", "kafka"};
  // Redis with AOF (on), without persistence (off), or one run of each (both). Default: both.
  std::string redis_durable = "both";
  double seconds = 60;        // load per target. Default: 60.
  double rate = 40;           // submissions per second. Default: 40 (ρ = 0.1 at 4 × 20 ms).
  int workers = 4;            // Default: 4.
  double kill_every = 5;      // seconds between worker kills. Default: 5.
  double service_ms = 20;     // the model's fixed service time. Default: 20.
  double lease_seconds = 5;   // worker --lease. Default: 5.
  double drain_timeout = 90;  // seconds to wait for accepted jobs after the load. Default: 90.
  // A request unanswered after this is a hang. Default: 10 (twice the slowest failure the
  // services are built to answer with: Kafka's 5 s delivery timeout).
  double client_timeout = 10;
  // Workers frozen (SIGSTOP) this long before a backend restart, so that the restart meets a
  // backlog. Default: 2.
  double backlog_seconds = 2;
  bool restart_backend = true, restart_store = true;  // Default: both.
  uint64_t seed = 0;          // which worker is killed. Default: 0 = random.
  std::filesystem::path out;  // Default: results/chaos-<UTC stamp>.
  // Where the private servers live. Default: OUT/runtime.
  std::filesystem::path runtime_dir;
  std::filesystem::path binary;  // Default: this executable.

  // InvalidArgument naming the flag.
  Status Validate() const;
};

// Runs every target; returns the chaos.json document (also written, with chaos.md).
Result<nlohmann::json> RunChaos(const ChaosOptions& options, std::stop_token stop,
                                spdlog::logger& log);

// chaos.md: the table and what it means. Pure.
std::string ChaosMarkdown(const nlohmann::json& doc);

// True when every durable target lost nothing and no client hung; `why` lists what failed.
bool ExpectationsMet(const nlohmann::json& doc, std::vector<std::string>* why);

}  // namespace mqlab::chaos

#endif  // MQLAB_CHAOS_CHAOS_H_
