// `mqlab worker`: one consumer process.
#include "app/worker_app.h"
#include "cli/backend_flags.h"
#include "cli/commands.h"
#include "cli/flags.h"

namespace mqlab::cli {

namespace {

struct WorkerFlags {
  CommonFlags common;  // --listen is unused by a worker; --metrics-listen serves its endpoints
  std::string queue;
  std::string queue_name = "mqlab_jobs";
  int concurrency = 1;
  std::string metrics_listen = "127.0.0.1:9100";
  std::string store;
  app::BackendUrls backends;
  std::string worker_id;
  std::string pg_schema = "public";
  double lease_s = 20;  // + the reaper/rescuer period (≤ 5 s): a dead worker's job is back ≤ 25 s
  double shutdown_grace_s = 30;
  PipelineFlags pipeline;
  int backoff_base_ms = 200;
  int backoff_max_ms = 30000;
};

int RunWorkerCommand(const WorkerFlags& f) {
  if (auto s = f.common.Validate(); !s) return UsageError(s.error().message);
  auto hp = ParseHostPort(f.metrics_listen);
  if (!hp) return UsageError("--metrics-listen: " + hp.error().message);
  if (f.backoff_max_ms < f.backoff_base_ms) {
    return UsageError("--backoff-max-ms must be >= --backoff-base-ms");
  }
  app::WorkerConfig c;
  c.queue_kind = f.queue;
  c.queue.name = f.queue_name;
  c.queue.lease = std::chrono::milliseconds(static_cast<int64_t>(f.lease_s * 1000));
  c.queue.consumer_id = f.worker_id;
  c.backends = f.backends;
  c.store = f.store;
  c.pg_schema = f.pg_schema;
  c.data_dir = f.common.data_dir;
  c.model = *f.common.PredictorOptions();
  c.worker.worker_id = f.worker_id;
  c.worker.concurrency = f.concurrency;
  f.pipeline.Apply(c.worker);
  c.worker.backoff_base = std::chrono::milliseconds(f.backoff_base_ms);
  c.worker.backoff_max = std::chrono::milliseconds(f.backoff_max_ms);
  c.metrics_http.server.host = hp->host;
  c.metrics_http.server.port = hp->port;
  c.shutdown_grace = std::chrono::milliseconds(static_cast<int64_t>(f.shutdown_grace_s * 1000));
  return app::RunWorker(c, MakeLogger("worker", f.common.log));
}

}  // namespace

Runner AddWorkerCommand(CLI::App& root) {
  auto f = std::make_shared<WorkerFlags>();
  CLI::App* cmd = root.add_subcommand("worker", "Consume jobs from a queue and run the model");
  AddCommonFlags(cmd, f->common, "127.0.0.1:0");
  Flag(cmd, "--queue", f->queue, "Queue backend: postgres, redis, rabbitmq or kafka")
      ->required()
      ->check(CLI::IsMember({"memory", "postgres", "redis", "rabbitmq", "kafka"}));
  Flag(cmd, "--queue-name", f->queue_name, "Queue, table or topic name");
  Flag(cmd, "--concurrency", f->concurrency, "Parallel jobs in this process (model instances)")
      ->check(CLI::Range(1, 1024));
  Flag(cmd, "--metrics-listen", f->metrics_listen, "HOST:PORT for /metrics, /healthz, /readyz");
  cmd->add_option("--store", f->store, "Job store URL (default: --postgres-url)")
      ->envname("MQLAB_STORE");
  AddBackendFlags(cmd, f->backends);
  Flag(cmd, "--pg-schema", f->pg_schema, "PostgreSQL schema of the job store and V3's queue");
  Flag(cmd, "--worker-id", f->worker_id, "Name in the store and logs (default: host-pid)");
  Flag(cmd, "--lease", f->lease_s,
       "Seconds a job stays its worker's without a heartbeat (heartbeats every lease/3 while it "
       "runs; Kafka: the session timeout, at least 6)")
      ->check(CLI::Range(1.0, 86400.0));
  AddPipelineFlags(cmd, f->pipeline);
  Flag(cmd, "--shutdown-grace", f->shutdown_grace_s, "Seconds in-flight jobs may take at stop")
      ->check(CLI::Range(0.0, 3600.0));
  Flag(cmd, "--backoff-base-ms", f->backoff_base_ms, "First retry delay (doubles per attempt)")
      ->check(CLI::Range(0, 3600000));
  Flag(cmd, "--backoff-max-ms", f->backoff_max_ms, "Longest retry delay")
      ->check(CLI::Range(0, 3600000));
  return [f] { return RunWorkerCommand(*f); };
}

}  // namespace mqlab::cli
