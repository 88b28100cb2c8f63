// `mqlab chaos`: kill -9 workers and restart servers under a steady load, then count what was
// lost and what ran twice (src/chaos/chaos.h).
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "chaos/chaos.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/logging.h"
#include "common/signals.h"
#include "load/options.h"

namespace mqlab::cli {

namespace {

struct ChaosFlags {
  chaos::ChaosOptions o;
  std::string backends = "mem,postgres,redis,rabbitmq,kafka";
  std::string kill_every = "5s";
  std::string out, runtime_dir, json_path;
  bool no_backend_restart = false, no_store_restart = false;
  LogOptions log;
};

int RunChaosFlags(ChaosFlags& f) {
  if (auto s = f.log.Validate(); !s) return UsageError(s.error().message);
  f.o.backends = *SplitList<std::string>(f.backends, "--backends");
  auto every = load::ParseDuration(f.kill_every);
  if (!every)
    return UsageError("--kill-every: '" + f.kill_every + "' is not a duration (5s, 500ms)");
  f.o.kill_every = std::chrono::duration<double>(*every).count();
  f.o.out = f.out;
  f.o.runtime_dir = f.runtime_dir;
  f.o.restart_backend = !f.no_backend_restart;
  f.o.restart_store = !f.no_store_restart;
  if (auto s = f.o.Validate(); !s) return UsageError(s.error().message);
  // The processes chaos starts talk to its private servers only, given by flag; servers found in
  // the environment (a services.env, the test fixture's) must not reach them through MQLAB_*
  // variables for the versions not under test. Done before any thread starts.
  for (const char* var : {"MQLAB_POSTGRES_URL", "MQLAB_REDIS_URL", "MQLAB_AMQP_URL",
                          "MQLAB_KAFKA_BROKERS", "MQLAB_STORE"}) {
    unsetenv(var);
  }
  auto log = MakeLogger("chaos", f.log);
  std::stop_source stop;
  std::jthread signals = WatchStopSignals(stop, "mqlab chaos: stopping (again to force)");
  auto doc = chaos::RunChaos(f.o, stop.get_token(), *log);
  signals.request_stop();
  if (!doc) return RunError("chaos", doc.error().message);
  if (!f.json_path.empty()) {
    std::ofstream(f.json_path) << doc->dump(1) << "\n";
  }
  fmt::print("{}", chaos::ChaosMarkdown(*doc));
  std::vector<std::string> why;
  if (!chaos::ExpectationsMet(*doc, &why)) {
    for (const auto& w : why) fmt::print(stderr, "mqlab chaos: {}\n", OneLine(w));
    return 1;
  }
  return (*doc)["complete"].get<bool>() ? 0 : 130;
}

}  // namespace

Runner AddChaosCommand(CLI::App& root) {
  auto f = std::make_shared<ChaosFlags>();
  CLI::App* cmd = root.add_subcommand(
      "chaos",
      "Kill workers (kill -9) and restart servers under a steady load, drain, and count "
      "jobs accepted, completed, lost and run more than once per backend; writes "
      "chaos.json and chaos.md (private servers in their own runtime folder)");
  Flag(cmd, "--backends", f->backends, "Backends: mem,postgres,redis,rabbitmq,kafka");
  Flag(cmd, "--redis-durable", f->o.redis_durable,
       "Redis with AOF (on), without persistence (off), or one run of each (both)")
      ->check(CLI::IsMember({"on", "off", "both"}));
  Flag(cmd, "--seconds", f->o.seconds, "Seconds of load per backend")
      ->check(CLI::Range(1.0, 86400.0));
  Flag(cmd, "--rate", f->o.rate, "Submissions per second (keep it below capacity)")
      ->check(CLI::Range(0.1, 100000.0));
  Flag(cmd, "--workers", f->o.workers, "Worker processes (mem: in-process workers)")
      ->check(CLI::Range(1, 64));
  Flag(cmd, "--kill-every", f->kill_every, "Time between worker kills (5s, 500ms)");
  Flag(cmd, "--service-ms", f->o.service_ms, "Fixed service time of the model, ms")
      ->check(CLI::Range(0.0, 60000.0));
  Flag(cmd, "--lease", f->o.lease_seconds,
       "Worker lease, s (PostgreSQL lease, Redis XAUTOCLAIM idle, Kafka session ≥ 6 s)")
      ->check(CLI::Range(1.0, 3600.0));
  Flag(cmd, "--drain-timeout", f->o.drain_timeout,
       "Seconds to wait for accepted jobs after the load")
      ->check(CLI::Range(1.0, 86400.0));
  Flag(cmd, "--client-timeout", f->o.client_timeout, "Seconds before a request counts as hung")
      ->check(CLI::Range(0.1, 600.0));
  Flag(cmd, "--backlog", f->o.backlog_seconds,
       "Seconds the workers are frozen before the backend restart, so it meets a backlog")
      ->check(CLI::Range(0.0, 60.0));
  cmd->add_flag("--no-backend-restart", f->no_backend_restart,
                "Do not restart the backend's server");
  cmd->add_flag("--no-store-restart", f->no_store_restart,
                "Do not restart the PostgreSQL job store");
  Flag(cmd, "--seed", f->o.seed, "Seed of the choice of victims (0: random)");
  Flag(cmd, "--out", f->out,
       "Output folder (default: results/chaos-<UTC time>); a study's folder gets a Stability "
       "table in its report");
  Flag(cmd, "--runtime-dir", f->runtime_dir,
       "Folder of the private servers it starts and restarts (default: OUT/runtime)");
  Flag(cmd, "--json", f->json_path, "Also write chaos.json here");
  AddLogFlags(cmd, f->log);
  return [f] { return RunChaosFlags(*f); };
}

}  // namespace mqlab::cli
