// Benchmark: the five queue backends behind the port (memory, postgres, redis, rabbitmq, kafka),
// predict time 0, each beside its server's own tool as the ceiling (issue 3, § Performance).
//
// What is measured, per backend, in `--rounds` rounds (default 3) whose steps alternate, so that
// a machine whose load drifts (2 shared cores, other work running) hits every figure alike; each
// figure is the median of its rounds:
//   drain        N jobs enqueued first (4 producer threads), then C consumer threads run
//                Receive → Ack until all N are acked; jobs/s from the first Receive that returned
//                a message to the last Ack (so a Kafka group join or a LISTEN start-up is not
//                counted). C = 1 and 4. The fill's own rate is reported as enqueue/s (4 threads).
//   +producer    the same with one producer thread enqueuing N while the C consumers run (after
//                one warm-up message went through); jobs/s from the first Enqueue to the last Ack.
//   worker       what `mqlab worker` does, with the real worker::Worker (concurrency C) and a
//                zero-time Predictor (no output file): N jobs created in the PostgreSQL job store
//                and enqueued as the API does (4 threads), then Receive → StartAttempt → Finish →
//                Ack; jobs/s from the first Receive to the last Ack. Memory here is the store's
//                own cost (the memory queue with the PostgreSQL store).
//   pickup       enqueue → Receive latency p50/p99/max, one consumer blocked in Receive, messages
//                enqueued at a steady light rate (default 50/s for 4 s), after a warm-up message.
// Consumer threads share one JobQueue handle opened with prefetch = C, as `mqlab worker` does
// (one Kafka consumer, one RabbitMQ channel, one PostgreSQL claimer per process; Redis borrows
// one pooled connection per call).
//
// The ceilings, run as child processes in the same rounds (the tool's figure is also a median):
//   postgres  pgbench on a copy of mqlab's table (CREATE TABLE … LIKE … INCLUDING ALL), running
//             mqlab's own statements: the SKIP LOCKED claim + ack, both with asynchronous
//             commit as the queue does (vs drain), and claim + StartAttempt + Finish + ack (vs
//             worker); 1 and 4 clients, rows pre-inserted.
//   redis     redis-benchmark -P 1, -c 1 and -c 4: RPOP (vs drain), LPUSH, and XADD (the queue is
//             a stream; vs enqueue with -c 4).
//   rabbitmq  PerfTest (Maven Central), persistent messages, manual ack: draining a deep backlog
//             with one channel of prefetch C (vs drain), and 1 producer with confirms (one in
//             flight, as a synchronous Enqueue) + 1 channel of prefetch C (vs +producer).
//   kafka     ProducerPerformance (acks=all, idempotent, linger 0; asynchronous, so a ceiling mqlab's
//             synchronous Enqueue cannot reach) vs enqueue; ConsumerPerformance (one consumer: the
//             queue handle holds one KafkaConsumer whatever C is) vs drain.
// A tool that cannot run here is reported as such, with the reason, and the rest goes on.
//
// Output: JSON (--json) with the machine, the load average before and after, the parameters,
// every run and median and every ratio; a Markdown table on stdout. bench/run-queue-bench starts
// the private servers, fetches the tools and runs this.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "common/logging.h"
#include "metrics/hdr_histogram.h"
#include "metrics/mqlab_metrics.h"
#include "metrics/registry.h"
#include "mqlab/common/clock.h"
#include "mqlab/domain/job.h"
#include "mqlab/model/predictor.h"
#include "queue/registry.h"
#include "services/process.h"
#include "store/open_store.h"
#include "worker/worker.h"

namespace mqlab::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using json = nlohmann::json;

// The store schema of every PostgreSQL table this benchmark writes (never `public`).
constexpr const char* kSchema = "qbench";
// A run that has not finished in this time is reported as failed (a hung backend, not a figure).
constexpr auto kRunTimeout = std::chrono::seconds(120);

int64_t NowNs() { return Steady::now().time_since_epoch().count(); }
double Secs(int64_t ns) { return static_cast<double>(ns) / 1e9; }

struct Config {
  std::map<std::string, std::string> urls;  // kind → URL ("" for memory)
  std::vector<std::string> backends{"memory", "postgres", "redis", "rabbitmq", "kafka"};
  int rounds = 3;
  double scale = 1.0;
  int latency_rate = 50;
  double latency_seconds = 4;
  std::string perf_test_cp, kafka_cp, work_dir, json_out;
  // Per-job work: the drain's consumers sleep this long before the Ack, the worker's predictor
  // takes this long (bench/peers' 1 ms round). 0: zero-work jobs.
  int work_us = 0;
};

// Jobs per run, per backend: sized so that each timed phase lasts about a second or more here.
struct Sizes {
  int drain, concurrent, worker;
};
Sizes SizesFor(const std::string& kind, double scale) {
  static const std::map<std::string, Sizes> kSizes = {
      {"memory", {100000, 100000, 1000}}, {"postgres", {3000, 1000, 1000}},
      {"redis", {20000, 10000, 1000}},    {"rabbitmq", {10000, 3000, 1000}},
      {"kafka", {20000, 10000, 1000}}};
  Sizes s = kSizes.at(kind);
  auto f = [&](int n) { return std::max(50, static_cast<int>(n * scale)); };
  return {f(s.drain), f(s.concurrent), f(s.worker)};
}

// The runs of one figure; the median is what the table shows.
struct Figure {
  std::vector<double> runs;
  std::vector<std::string> errors;
  void Add(Result<double> r) {
    if (r) runs.push_back(*r);
    else errors.push_back(r.error().message);
  }
  double Median() const {
    if (runs.empty()) return NAN;
    auto v = runs;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  json ToJson() const {
    json j{{"median", runs.empty() ? json(nullptr) : json(Median())}, {"runs", runs}};
    if (!errors.empty()) j["errors"] = errors;
    return j;
  }
};

Result<std::unique_ptr<queue::JobQueue>> OpenBench(const Config& cfg, const std::string& kind,
                                                   const std::string& name, int prefetch) {
  queue::QueueOptions o;
  o.kind = kind;
  o.url = cfg.urls.count(kind) ? cfg.urls.at(kind) : "";
  o.name = name;
  o.prefetch = prefetch;
  o.capacity = 1000000;  // the bench's backlog, not a study's cap
  o.consumer_group = name + "-group";
  o.consumer_id = "qbench";
  o.schema = kSchema;
  return queue::OpenQueue(o);
}

// A fresh queue (table version, list, queue or topic) name per run: runs never see each other.
std::string RunName(const std::string& what) {
  static std::atomic<int> n{0};
  return fmt::format("qb-{}-{}-{}", what, getpid(), ++n);
}

queue::Message NewMessage() {
  return {.job_id = NewJobId(), .attempt = 1, .enqueued_at = Clock::Real().Now()};
}

// Runs `body(i)` for i in [0, n) from `threads` threads; returns items/s, or the first error.
Result<double> Parallel(int n, int threads, const std::function<Status(int)>& body) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::mutex mu;
  const int64_t t0 = NowNs();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      while (!failed) {
        const int i = next.fetch_add(1);
        if (i >= n) break;
        if (auto s = body(i); !s) {
          std::lock_guard lock(mu);
          if (!failed.exchange(true)) error = s.error().ToString();
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  if (failed) return std::unexpected(Error{ErrorCode::kInternal, error});
  return n / Secs(NowNs() - t0);
}

// C consumer threads on one shared handle: Receive → Ack until told to stop. Records the steady
// time of the first message received and of the latest Ack.
class Consumers {
 public:
  Consumers(queue::JobQueue& q, int threads, int work_us = 0) : q_(q), work_us_(work_us) {
    for (int t = 0; t < threads; ++t) threads_.emplace_back([this] { Loop(); });
  }
  ~Consumers() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  // Polls (2 ms) until `n` acks; false on timeout. The figures come from the recorded times,
  // not from this poll.
  bool WaitFor(int64_t n, Steady::duration timeout) {
    const auto deadline = Steady::now() + timeout;
    while (acked_ < n) {
      if (Steady::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(2));
    }
    return true;
  }
  int64_t first_ns() const { return first_ns_; }
  int64_t last_ack_ns() const { return last_ack_ns_; }
  std::string Problems() const {
    return fmt::format("{} acked, {} receive errors, {} ack errors", acked_.load(),
                       receive_errors_.load(), ack_errors_.load());
  }

 private:
  void Loop() {
    while (!stop_) {
      auto d = q_.Receive({.timeout = milliseconds(100)});
      if (!d) {
        ++receive_errors_;
        std::this_thread::sleep_for(milliseconds(20));
        continue;
      }
      if (!*d) continue;
      int64_t zero = 0;
      first_ns_.compare_exchange_strong(zero, NowNs());
      if (work_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(work_us_));
      if ((*d)->Ack()) {
        last_ack_ns_ = NowNs();
        ++acked_;
      } else {
        ++ack_errors_;
      }
    }
  }
  queue::JobQueue& q_;
  const int work_us_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0}, receive_errors_{0}, ack_errors_{0}, first_ns_{0}, last_ack_ns_{0};
  std::vector<std::thread> threads_;
};

Error RunFailed(std::string_view what, const Consumers& c) {
  return Error{ErrorCode::kDeadlineExceeded, fmt::format("{} timed out: {}", what, c.Problems())};
}

// Drain: N enqueued by 4 threads, then C consumers. Returns {drain jobs/s, enqueue jobs/s}.
Result<std::pair<double, double>> RunDrain(const Config& cfg, const std::string& kind, int n,
                                           int consumers) {
  auto q = OpenBench(cfg, kind, RunName("drain"), consumers);
  if (!q) return std::unexpected(q.error());
  auto enq = Parallel(n, 4, [&](int) { return (*q)->Enqueue(NewMessage()); });
  if (!enq) return std::unexpected(enq.error());
  Consumers c(**q, consumers, cfg.work_us);
  if (!c.WaitFor(n, kRunTimeout)) return std::unexpected(RunFailed("drain", c));
  return std::pair{n / Secs(c.last_ack_ns() - c.first_ns()), *enq};
}

// +producer: one producer thread enqueues N while C consumers run.
Result<double> RunConcurrent(const Config& cfg, const std::string& kind, int n, int consumers) {
  auto q = OpenBench(cfg, kind, RunName("conc"), consumers);
  if (!q) return std::unexpected(q.error());
  Consumers c(**q, consumers);
  if (auto s = (*q)->Enqueue(NewMessage()); !s) return std::unexpected(s.error());
  if (!c.WaitFor(1, std::chrono::seconds(60))) return std::unexpected(RunFailed("warm-up", c));
  const int64_t t0 = NowNs();
  auto enq = Parallel(n, 1, [&](int) { return (*q)->Enqueue(NewMessage()); });
  if (!enq) return std::unexpected(enq.error());
  if (!c.WaitFor(n + 1, kRunTimeout)) return std::unexpected(RunFailed("+producer", c));
  return n / Secs(c.last_ack_ns() - t0);
}

// Pickup latency: one consumer blocked in Receive, messages enqueued at `rate`/s from this thread.
Result<json> RunPickup(const Config& cfg, const std::string& kind) {
  auto q = OpenBench(cfg, kind, RunName("pickup"), 1);
  if (!q) return std::unexpected(q.error());
  const int n = std::max(1, static_cast<int>(cfg.latency_rate * cfg.latency_seconds));
  std::vector<queue::Message> msgs(n + 1);
  std::map<std::string, int> index;
  for (int i = 0; i <= n; ++i) index[(msgs[i] = NewMessage()).job_id] = i;
  std::vector<std::atomic<int64_t>> sent(n + 1);
  metrics::HdrHistogram hist;
  std::atomic<int> received{0};
  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    while (!stop && received <= n) {
      auto d = (*q)->Receive({.timeout = milliseconds(200)});
      if (!d || !*d) continue;
      const int64_t now = NowNs();
      auto it = index.find((*d)->message().job_id);
      (void)(*d)->Ack();
      if (it == index.end()) continue;
      if (it->second > 0) hist.Record(static_cast<uint64_t>(now - sent[it->second]));
      ++received;
    }
  });
  // Message 0 is the warm-up: the consumer has joined (Kafka) and listens (PostgreSQL) once it
  // came through.
  sent[0] = NowNs();
  auto status = (*q)->Enqueue(msgs[0]);
  const auto deadline = Steady::now() + std::chrono::seconds(60);
  while (status && received < 1 && Steady::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  const auto start = Steady::now();
  const auto period = std::chrono::duration<double>(1.0 / cfg.latency_rate);
  for (int i = 1; i <= n && status && received >= 1; ++i) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<Steady::duration>(period * i));
    sent[i] = NowNs();
    status = (*q)->Enqueue(msgs[i]);
  }
  const auto end_by = Steady::now() + std::chrono::seconds(10);
  while (status && received <= n && Steady::now() < end_by) std::this_thread::sleep_for(milliseconds(5));
  stop = true;
  consumer.join();
  if (!status) return std::unexpected(status.error());
  if (received <= n) {
    return std::unexpected(Error{ErrorCode::kDeadlineExceeded,
                                 fmt::format("pickup: {} of {} received", received.load() - 1, n)});
  }
  auto ms = [](uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  return json{{"p50Ms", ms(hist.Percentile(50))}, {"p99Ms", ms(hist.Percentile(99))},
              {"maxMs", ms(hist.max())}, {"samples", hist.count()},
              {"ratePerSecond", cfg.latency_rate}, {"seconds", cfg.latency_seconds}};
}

class TimedQueue;

// A delivery that tells its TimedQueue when it was acked.
class TimedDelivery final : public queue::Delivery {
 public:
  TimedDelivery(std::unique_ptr<queue::Delivery> inner, TimedQueue& q)
      : Delivery(inner->message(), inner->decode_error()), inner_(std::move(inner)), q_(q) {}
  Status Ack() override;
  Status Retry(milliseconds delay) override { return inner_->Retry(delay); }
  Status DeadLetter(std::string_view reason) override { return inner_->DeadLetter(reason); }

 private:
  std::unique_ptr<queue::Delivery> inner_;
  TimedQueue& q_;
};

// The worker's queue, seen through a decorator that records the first delivery and the last
// Ack: the real Worker runs unchanged, and the figure excludes its start-up as the drain's does.
class TimedQueue final : public queue::JobQueue {
 public:
  explicit TimedQueue(queue::JobQueue& inner) : inner_(inner) {}
  std::string_view kind() const override { return inner_.kind(); }
  queue::Capabilities capabilities() const override { return inner_.capabilities(); }
  Status Enqueue(const queue::Message& m) override { return inner_.Enqueue(m); }
  Result<std::unique_ptr<queue::Delivery>> Receive(const queue::ReceiveParams& p) override {
    auto d = inner_.Receive(p);
    if (!d || !*d) return d;
    int64_t zero = 0;
    first_ns_.compare_exchange_strong(zero, NowNs());
    return std::unique_ptr<queue::Delivery>(new TimedDelivery(std::move(*d), *this));
  }
  Result<int64_t> Depth() override { return inner_.Depth(); }
  Result<std::vector<queue::DeadLetter>> PeekDeadLetters(size_t limit) override {
    return inner_.PeekDeadLetters(limit);
  }
  void Close() override { inner_.Close(); }

  void OnAck() {
    last_ack_ns_ = NowNs();
    ++acks_;
  }
  int64_t acks() const { return acks_; }
  double Rate() const { return acks_ / Secs(last_ack_ns_ - first_ns_); }

 private:
  queue::JobQueue& inner_;
  std::atomic<int64_t> acks_{0}, first_ns_{0}, last_ack_ns_{0};
};

Status TimedDelivery::Ack() {
  auto s = inner_->Ack();
  if (s) q_.OnAck();
  return s;
}

// The real Worker (concurrency C) with the PostgreSQL store: N jobs created and enqueued as the
// API does (Create, then Enqueue; 4 threads), then drained. Returns {jobs/s, create+enqueue/s}.
Result<std::pair<double, double>> RunWorker(const Config& cfg, const std::string& kind, int n,
                                            int consumers) {
  const std::string pg = cfg.urls.count("postgres") ? cfg.urls.at("postgres") : "";
  if (pg.empty()) return std::unexpected(Error{ErrorCode::kFailedPrecondition, "no PostgreSQL"});
  auto api_store = store::OpenStore(pg, {.pool_size = 4, .schema = kSchema});
  const worker::WorkerOptions wopts{.worker_id = "qbench", .concurrency = consumers};
  auto worker_store = store::OpenStore(pg, {.pool_size = consumers + 5, .schema = kSchema});
  if (!api_store) return std::unexpected(api_store.error());
  if (!worker_store) return std::unexpected(worker_store.error());
  const std::string name = RunName("worker");
  auto wq = OpenBench(cfg, kind, name, wopts.Prefetch());  // as `mqlab worker` opens it
  if (!wq) return std::unexpected(wq.error());
  // The API's handle; the memory queue lives in one process, so there it is the worker's own.
  std::unique_ptr<queue::JobQueue> own_api_queue;
  queue::JobQueue* api_queue = wq->get();
  if (kind != "memory") {
    auto q = OpenBench(cfg, kind, name, 1);
    if (!q) return std::unexpected(q.error());
    own_api_queue = std::move(*q);
    api_queue = own_api_queue.get();
  }
  // The V3 queue is the set of rows whose version is the queue's name.
  const std::string version = kind == "postgres" ? name : "qbench";
  auto fill = Parallel(n, 4, [&](int) -> Status {
    Job job{.id = NewJobId(), .version = version, .input_path = "inputs/page.png"};
    job.created_at = job.updated_at = Clock::Real().Now();
    if (auto s = (*api_store)->Create(job); !s) return s;
    return api_queue->Enqueue({.job_id = job.id, .attempt = 1, .enqueued_at = job.created_at});
  });
  if (!fill) return std::unexpected(fill.error());

  TimedQueue timed(**wq);
  TempFolder data("qbench-worker");
  model::Predictor predictor(data.path(), {.service_time = std::chrono::microseconds(cfg.work_us),
                                           .write_output = false});
  metrics::Registry registry;
  metrics::MqlabMetrics metrics(registry);
  worker::Worker w(wopts, kind, timed,
                   **worker_store, predictor, Clock::Real(), metrics, NullLogger());
  w.Start();
  const auto deadline = Steady::now() + kRunTimeout;
  while (timed.acks() < n && Steady::now() < deadline) std::this_thread::sleep_for(milliseconds(2));
  w.Stop(std::chrono::seconds(5));
  const auto st = w.stats();
  if (timed.acks() < n || st.succeeded != n) {
    return std::unexpected(Error{
        ErrorCode::kDeadlineExceeded,
        fmt::format("worker: {} acked, {} succeeded, {} duplicates, {} dead-lettered of {}",
                    timed.acks(), st.succeeded, st.duplicates, st.dead_lettered, n)});
  }
  return std::pair{timed.Rate(), *fill};
}

// ---------------------------------------------------------------------------------------------
// Ceiling tools: child processes, their output read back from a log file.

struct ToolOutput {
  int exit_code = -1;
  std::string text;
};

Result<ToolOutput> RunTool(const Config& cfg, const std::vector<std::string>& argv,
                           std::chrono::seconds timeout) {
  static std::atomic<int> n{0};
  const std::string log = fmt::format("{}/tool-{}.log", cfg.work_dir, ++n);
  auto code = services::RunToExit({.argv = argv, .output = log, .new_session = false}, timeout);
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!code) return std::unexpected(Error{code.error().code, code.error().message + ": " +
                                                                 services::TailOfFile(log, 5)});
  return ToolOutput{*code, ss.str()};
}

// The first capture of `pattern` in the tool's output as a number (the last match if `last`).
Result<double> Grab(const Result<ToolOutput>& out, const std::string& pattern, bool last = false) {
  if (!out) return std::unexpected(out.error());
  std::regex re(pattern);
  std::optional<double> value;
  for (auto it = std::sregex_iterator(out->text.begin(), out->text.end(), re);
       it != std::sregex_iterator(); ++it) {
    value = std::stod((*it)[1]);
    if (!last) break;
  }
  if (out->exit_code != 0 || !value) {
    std::string tail = out->text.size() > 400 ? out->text.substr(out->text.size() - 400) : out->text;
    return std::unexpected(Error{ErrorCode::kInternal,
                                 fmt::format("exit {}, no /{}/ in: {}", out->exit_code, pattern,
                                             OneLine(tail))});
  }
  return *value;
}

Status Psql(const Config& cfg, const std::vector<std::string>& statements) {
  std::vector<std::string> argv{"/usr/bin/psql", cfg.urls.at("postgres"), "-X", "-q", "-v",
                                "ON_ERROR_STOP=1"};
  for (const auto& s : statements) argv.insert(argv.end(), {"-c", s});
  auto out = RunTool(cfg, argv, std::chrono::seconds(120));
  if (!out) return std::unexpected(out.error());
  if (out->exit_code != 0) return std::unexpected(Error{ErrorCode::kInternal, OneLine(out->text)});
  return Ok();
}

// mqlab's own statements (src/queue/postgres/pg_queue_sql.cc, src/store/postgres/pg_store.cc) on
// qbench_pgbench.mqlab_jobs. When those change, change these.
#define QB_T "qbench_pgbench.mqlab_jobs"
#define QB_ASYNC "(SELECT set_config('synchronous_commit', 'off', true)) = 'off'"
constexpr const char* kPgClaim =
    "UPDATE " QB_T " SET lease_owner = 'pgbench', lease_expires_at = now() + 30000 * interval "
    "'1 millisecond' WHERE " QB_ASYNC " AND id = ANY(ARRAY(SELECT id FROM " QB_T " WHERE version "
    "= 'pgbench' AND status = 'PENDING' AND lease_expires_at IS NULL AND run_after <= now() ORDER "
    "BY run_after LIMIT 1 FOR UPDATE SKIP LOCKED)) RETURNING id AS job_id \\gset\n";
constexpr const char* kPgAck =
    "UPDATE " QB_T " SET lease_expires_at = 'infinity' WHERE " QB_ASYNC " AND id = :job_id AND "
    "lease_owner = 'pgbench' AND status IN ('PENDING', 'RUNNING') AND lease_expires_at IS NOT "
    "NULL;\n";
constexpr const char* kPgStartFinish =
    "UPDATE " QB_T " SET status = 'RUNNING', attempts = attempts + 1, worker_id = 'pgbench', "
    "started_at = now(), updated_at = now() WHERE id = :job_id AND status IN ('PENDING', "
    "'RUNNING') RETURNING id::text, version, status, attempts;\n"
    "UPDATE " QB_T " SET status = 'SUCCESS', output_path = '', error_message = '', finished_at = "
    "now(), updated_at = now(), lease_expires_at = NULL WHERE id = :job_id AND status = 'RUNNING' "
    "AND attempts = 1;\n";

// pgbench, `clients` clients for 3 s, on `rows` fresh PENDING rows. tps = jobs/s.
Result<double> PgBench(const Config& cfg, bool with_store, int clients) {
  const int rows = 60000;  // more than 3 s of the fastest claim measured here (~8k/s)
  auto s = Psql(cfg, {"TRUNCATE " QB_T,
                      fmt::format("INSERT INTO " QB_T " (id, version, status, input_path, "
                                  "created_at, updated_at, run_after) SELECT gen_random_uuid(), "
                                  "'pgbench', 'PENDING', '', now(), now(), now() - interval '1 s' "
                                  "FROM generate_series(1, {})", rows),
                      "VACUUM ANALYZE " QB_T});
  if (!s) return std::unexpected(s.error());
  const std::string script = fmt::format("{}/pgbench-{}.sql", cfg.work_dir, with_store);
  std::ofstream(script) << kPgClaim << (with_store ? kPgStartFinish : "") << kPgAck;
  return Grab(RunTool(cfg, {"/usr/bin/pgbench", "-n", "-M", "prepared", "-T", "3", "-c",
                            std::to_string(clients), "-j", std::to_string(std::min(clients, 2)),
                            "-f", script, cfg.urls.at("postgres")},
                      std::chrono::seconds(60)),
              R"(tps = ([0-9.]+) \(without initial connection time\))");
}

Status PgBenchSetup(const Config& cfg) {
  auto store = store::OpenStore(cfg.urls.at("postgres"), {.pool_size = 1, .schema = kSchema});
  if (!store) return std::unexpected(store.error());  // creates kSchema's mqlab_jobs
  return Psql(cfg, {"CREATE SCHEMA IF NOT EXISTS qbench_pgbench", "DROP TABLE IF EXISTS " QB_T,
                    fmt::format("CREATE TABLE " QB_T " (LIKE {}.mqlab_jobs INCLUDING ALL)", kSchema),
                    "ALTER TABLE " QB_T " SET (autovacuum_vacuum_scale_factor = 0.01, "
                    "autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0, "
                    "autovacuum_vacuum_insert_scale_factor = 0.01)"});
}

// redis-benchmark ops/s of one test ("LPUSH", "RPOP") or of a custom command (argv after --).
Result<double> RedisBench(const Config& cfg, int clients, const std::vector<std::string>& test) {
  std::smatch m;
  const std::string url = cfg.urls.at("redis");
  if (!std::regex_search(url, m, std::regex(R"(//([^:/]+):(\d+))"))) {
    return std::unexpected(Error{ErrorCode::kInvalidArgument, "redis URL without host:port"});
  }
  std::vector<std::string> argv{"/usr/bin/redis-benchmark", "-h", m[1], "-p", m[2], "-c",
                                std::to_string(clients), "-n", "20000", "-P", "1", "--csv"};
  if (test.size() == 1) argv.insert(argv.end(), {"-t", test[0]});
  else argv.insert(argv.end(), test.begin(), test.end());
  return Grab(RunTool(cfg, argv, std::chrono::seconds(60)), R"re((?:^|\n)"[^"]*","([0-9.]+)")re");
}

Error NotRun(std::string_view tool, std::string_view flag) {
  return Error{ErrorCode::kFailedPrecondition, fmt::format("{} not run: no {}", tool, flag)};
}

std::string AmqpUri(const Config& cfg) {
  std::string u = cfg.urls.at("rabbitmq");
  return u.ends_with("/") ? u + "%2F" : u;  // the default vhost "/", spelled for the Java client
}

std::vector<std::string> PerfTest(const Config& cfg, const std::string& queue) {
  return {"/usr/bin/java", "-cp", cfg.perf_test_cp + "/*", "com.rabbitmq.perf.PerfTest", "-h",
          AmqpUri(cfg), "-s", "120", "-f", "persistent", "-ad", "false", "-u", queue};
}

// Drain of a deep backlog: fills `queue` (no confirms: only the drain is timed), then one
// consumer channel of prefetch C drains for 3 s; the backlog outlasts it, so the average is the
// steady drain rate.
Result<double> PerfTestDrain(const Config& cfg, int prefetch) {
  if (cfg.perf_test_cp.empty()) return std::unexpected(NotRun("PerfTest", "--perf-test-cp"));
  const std::string q = RunName("perftest-drain");
  auto fill = PerfTest(cfg, q);
  fill.insert(fill.end(), {"-x", "1", "-y", "0", "-C", "60000"});
  if (auto out = RunTool(cfg, fill, std::chrono::seconds(120)); !out || out->exit_code != 0) {
    return std::unexpected(Error{ErrorCode::kInternal, "PerfTest fill failed"});
  }
  auto drain = PerfTest(cfg, q);
  drain.insert(drain.end(), {"-x", "0", "-y", "1", "-q", std::to_string(prefetch), "-z", "3"});
  return Grab(RunTool(cfg, drain, std::chrono::seconds(60)), R"(receiving rate avg: (\d+) msg/s)");
}

// 1 producer with confirms (one in flight: a synchronous Enqueue) + one consumer channel of
// prefetch C, for 4 s.
Result<double> PerfTestPipeline(const Config& cfg, int prefetch) {
  if (cfg.perf_test_cp.empty()) return std::unexpected(NotRun("PerfTest", "--perf-test-cp"));
  auto argv = PerfTest(cfg, RunName("perftest-pipe"));
  argv.insert(argv.end(),
              {"-x", "1", "-y", "1", "-c", "1", "-q", std::to_string(prefetch), "-z", "4"});
  return Grab(RunTool(cfg, argv, std::chrono::seconds(60)), R"(receiving rate avg: (\d+) msg/s)");
}

// Kafka: produce `n` records to a topic made by mqlab's own Open (8 partitions), then consume
// them with a fresh group. Returns {producer records/s, consumer fetch records/s}.
Result<std::pair<double, double>> KafkaPerf(const Config& cfg, int n) {
  if (cfg.kafka_cp.empty()) return std::unexpected(NotRun("the Kafka perf tools", "--kafka-cp"));
  const std::string topic = RunName("kperf");
  if (auto q = OpenBench(cfg, "kafka", topic, 1); !q) return std::unexpected(q.error());
  const std::string brokers = cfg.urls.at("kafka");
  const std::string cp = cfg.kafka_cp + "/*";
  auto prod = Grab(
      RunTool(cfg,
              {"/usr/bin/java", "-cp", cp, "org.apache.kafka.tools.ProducerPerformance", "--topic",
               topic, "--num-records", std::to_string(n), "--record-size", "120", "--throughput",
               "-1", "--producer-props", "bootstrap.servers=" + brokers, "acks=all",
               "enable.idempotence=true", "linger.ms=0"},
              std::chrono::seconds(120)),
      R"(\d+ records sent, ([0-9.]+) records/sec)", true);
  if (!prod) return std::unexpected(prod.error());
  // CSV: start, end, MB, MB/s, messages, messages/s, rebalance ms, fetch ms, fetch MB/s,
  // fetch messages/s. The fetch rate leaves the group join out, as the drain does.
  auto cons = Grab(RunTool(cfg,
                           {"/usr/bin/java", "-cp", cp, "org.apache.kafka.tools.ConsumerPerformance",
                            "--bootstrap-server", brokers, "--topic", topic, "--messages",
                            std::to_string(n), "--group", topic + "-perf", "--hide-header"},
                           std::chrono::seconds(120)),
                   R"((?:^|\n)[^,\n]+(?:, [^,\n]+){8}, ([0-9.]+)\s*(?:\n|$))", true);
  if (!cons) return std::unexpected(cons.error());
  return std::pair{*prod, *cons};
}

// ---------------------------------------------------------------------------------------------

// One tool figure and the mqlab figure it bounds.
struct Ceiling {
  std::string tool, compared_with;  // compared_with: "drain", "concurrent", "worker", "enqueue"
  std::map<int, Figure> by_c;       // by consumers/clients (1, 4)
};

struct BackendRun {
  std::map<std::string, std::map<int, Figure>> figures;  // "drain" → C → figure
  std::vector<Ceiling> ceilings;
  Result<json> pickup = json();
  std::string skipped;
};

Ceiling& CeilingOf(BackendRun& r, const std::string& tool, const std::string& compared_with) {
  for (auto& c : r.ceilings) {
    if (c.tool == tool) return c;
  }
  r.ceilings.push_back({tool, compared_with, {}});
  return r.ceilings.back();
}

void Log(const std::string& line) { fmt::print(stderr, "queue_bench: {}\n", line); }

// The ceiling steps of one round, interleaved with mqlab's in RunBackend.
void RunCeilings(const Config& cfg, const std::string& kind, const std::string& step,
                 BackendRun& r) {
  for (int c : {1, 4}) {
    if (kind == "postgres" && step == "drain") {
      CeilingOf(r, "pgbench: SKIP LOCKED claim + ack (async commit), clients", "drain")
          .by_c[c].Add(PgBench(cfg, false, c));
    } else if (kind == "postgres" && step == "worker") {
      CeilingOf(r, "pgbench: claim + StartAttempt + Finish + ack, clients", "worker")
          .by_c[c].Add(PgBench(cfg, true, c));
    } else if (kind == "redis" && step == "drain") {
      CeilingOf(r, "redis-benchmark RPOP -P 1, clients", "drain").by_c[c].Add(RedisBench(cfg, c, {"rpop"}));
      CeilingOf(r, "redis-benchmark LPUSH -P 1, clients", "").by_c[c].Add(RedisBench(cfg, c, {"lpush"}));
      CeilingOf(r, "redis-benchmark XADD -P 1, clients", "enqueue")
          .by_c[c].Add(RedisBench(cfg, c, {"XADD", "qbench:xadd", "*", "m", std::string(100, 'x')}));
    } else if (kind == "rabbitmq" && step == "drain") {
      CeilingOf(r, "PerfTest drain, 1 channel, prefetch", "drain").by_c[c].Add(PerfTestDrain(cfg, c));
    } else if (kind == "rabbitmq" && step == "concurrent") {
      CeilingOf(r, "PerfTest 1 producer (confirms, 1 in flight) + 1 channel, prefetch",
                "concurrent")
          .by_c[c].Add(PerfTestPipeline(cfg, c));
    } else if (kind == "kafka" && step == "drain" && c == 1) {
      auto k = KafkaPerf(cfg, 100000);
      auto first = [](auto& p) -> Result<double> { if (!p) return std::unexpected(p.error()); return p->first; };
      auto second = [](auto& p) -> Result<double> { if (!p) return std::unexpected(p.error()); return p->second; };
      CeilingOf(r, "ProducerPerformance (async, acks=all, idempotent), threads", "enqueue")
          .by_c[4].Add(first(k));
      Ceiling& cons = CeilingOf(r, "ConsumerPerformance (1 consumer), threads", "drain");
      cons.by_c[1].Add(second(k));
      cons.by_c[4].Add(second(k));
    }
  }
}

BackendRun RunBackend(const Config& cfg, const std::string& kind) {
  BackendRun r;
  if (kind != "memory" && (!cfg.urls.count(kind) || cfg.urls.at(kind).empty())) {
    r.skipped = "no server URL given";
    return r;
  }
  const Sizes n = SizesFor(kind, cfg.scale);
  const bool tools = kind != "memory";
  if (kind == "postgres") {
    if (auto s = PgBenchSetup(cfg); !s) Log("pgbench setup: " + s.error().ToString());
  }
  for (int round = 1; round <= cfg.rounds; ++round) {
    Log(fmt::format("{} round {}/{}", kind, round, cfg.rounds));
    for (int c : {1, 4}) {
      auto d = RunDrain(cfg, kind, n.drain, c);
      r.figures["drain"][c].Add(d ? Result<double>(d->first) : std::unexpected(d.error()));
      r.figures["enqueue"][4].Add(d ? Result<double>(d->second) : std::unexpected(d.error()));
    }
    if (tools) RunCeilings(cfg, kind, "drain", r);
    for (int c : {1, 4}) r.figures["concurrent"][c].Add(RunConcurrent(cfg, kind, n.concurrent, c));
    if (tools) RunCeilings(cfg, kind, "concurrent", r);
    for (int c : {1, 4}) {
      auto w = RunWorker(cfg, kind, n.worker, c);
      r.figures["worker"][c].Add(w ? Result<double>(w->first) : std::unexpected(w.error()));
      r.figures["createEnqueue"][4].Add(w ? Result<double>(w->second) : std::unexpected(w.error()));
    }
    if (tools) RunCeilings(cfg, kind, "worker", r);
  }
  r.pickup = RunPickup(cfg, kind);
  return r;
}

double MedianOf(const BackendRun& r, const std::string& what, int c) {
  auto it = r.figures.find(what);
  if (it == r.figures.end() || !it->second.count(c)) return NAN;
  return it->second.at(c).Median();
}

json ToJson(const BackendRun& r, const std::string& kind, const Config& cfg) {
  if (!r.skipped.empty()) return {{"skipped", r.skipped}};
  const Sizes n = SizesFor(kind, cfg.scale);
  json j{{"jobs", {{"drain", n.drain}, {"concurrent", n.concurrent}, {"worker", n.worker}}}};
  for (const auto& [what, by_c] : r.figures) {
    for (const auto& [c, f] : by_c) j[what][std::to_string(c)] = f.ToJson();
  }
  j["pickup"] = r.pickup ? *r.pickup : json{{"error", r.pickup.error().message}};
  j["ceilings"] = json::array();
  for (const auto& ce : r.ceilings) {
    json cj{{"tool", ce.tool}, {"comparedWith", ce.compared_with}};
    for (const auto& [c, f] : ce.by_c) {
      const std::string k = std::to_string(c);
      cj["figures"][k] = f.ToJson();
      if (!ce.compared_with.empty()) {
        const double ratio = MedianOf(r, ce.compared_with, c) / f.Median();
        cj["ratio"][k] = std::isnan(ratio) ? json(nullptr) : json(ratio);
      }
    }
    j["ceilings"].push_back(cj);
  }
  return j;
}

std::string Cell(double v) { return std::isnan(v) ? "n/a" : fmt::format("{:.0f}", v); }

std::string Markdown(const std::vector<std::pair<std::string, BackendRun>>& runs,
                     const json& machine, const Config& cfg) {
  std::string md = fmt::format(
      "Queue backends, predict time 0, jobs/s (median of {} rounds) — {}, {} cores, {:.0f} GiB, "
      "{}, {}\n\n",
      cfg.rounds, machine["cpu"].get<std::string>(), machine["cores"].get<int>(),
      machine["memoryGiB"].get<double>(), machine["kernel"].get<std::string>(),
      machine["date"].get<std::string>());
  md += "| backend | drain 1c | drain 4c | +producer 1c | +producer 4c | worker+PgStore 1c | "
        "worker+PgStore 4c | enqueue (4 thr) | pickup p50 / p99 ms |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& [kind, r] : runs) {
    if (!r.skipped.empty()) {
      md += fmt::format("| {} | skipped: {} |||||||\n", kind, r.skipped);
      continue;
    }
    std::string pickup = r.pickup ? fmt::format("{:.2f} / {:.2f}", (*r.pickup)["p50Ms"].get<double>(),
                                                (*r.pickup)["p99Ms"].get<double>())
                                  : "failed";
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", kind,
                      Cell(MedianOf(r, "drain", 1)), Cell(MedianOf(r, "drain", 4)),
                      Cell(MedianOf(r, "concurrent", 1)), Cell(MedianOf(r, "concurrent", 4)),
                      Cell(MedianOf(r, "worker", 1)), Cell(MedianOf(r, "worker", 4)),
                      Cell(MedianOf(r, "enqueue", 4)), pickup);
  }
  md += "\nCeilings: the server's own tool, same rounds (1c/4c = clients, consumers or prefetch)\n\n"
        "| backend | tool | vs | tool 1c | tool 4c | mqlab 1c | mqlab 4c | ratio 1c | ratio 4c |\n"
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const auto& [kind, r] : runs) {
    for (const auto& ce : r.ceilings) {
      std::vector<std::string> cells;
      for (int c : {1, 4}) {
        auto it = ce.by_c.find(c);
        cells.push_back(it == ce.by_c.end() ? "" : it->second.runs.empty() ? "failed" : Cell(it->second.Median()));
      }
      for (int c : {1, 4}) cells.push_back(ce.compared_with.empty() || !ce.by_c.count(c) ? "" : Cell(MedianOf(r, ce.compared_with, c)));
      for (int c : {1, 4}) {
        double ratio = ce.by_c.count(c) && !ce.compared_with.empty()
                           ? MedianOf(r, ce.compared_with, c) / ce.by_c.at(c).Median() : NAN;
        cells.push_back(std::isnan(ratio) ? "" : fmt::format("{:.2f}", ratio));
      }
      md += fmt::format("| {} | {} | {} | {} |\n", kind, ce.tool,
                        ce.compared_with.empty() ? "—" : ce.compared_with, fmt::join(cells, " | "));
      for (const auto& [c, f] : ce.by_c) {
        if (!f.errors.empty()) md += fmt::format("|  | ↳ {}c failed: {} ||||||||\n", c, f.errors.front());
      }
    }
  }
  return md;
}

json LoadAverage() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  return {a, b, c};
}

int Run(int argc, char** argv) {
  Config cfg;
  CLI::App app{"mqlab queue backends benchmark (predict time 0), each beside its server's tool"};
  using Flag = std::tuple<const char*, const char*, const char*>;
  const Flag kServerFlags[] = {{"postgres", "--postgres-url", "MQLAB_POSTGRES_URL"},
                               {"redis", "--redis-url", "MQLAB_REDIS_URL"},
                               {"rabbitmq", "--amqp-url", "MQLAB_AMQP_URL"},
                               {"kafka", "--kafka-brokers", "MQLAB_KAFKA_BROKERS"}};
  for (const auto& [kind, flag, env] : kServerFlags) {
    app.add_option(flag, cfg.urls[kind], std::string("Server of ") + kind)->envname(env);
  }
  app.add_option("--backends", cfg.backends, "Backends to measure")->capture_default_str();
  app.add_option("--rounds", cfg.rounds, "Alternating rounds per figure")->capture_default_str();
  app.add_option("--scale", cfg.scale, "Multiplies every job count (0.1: a smoke run)")
      ->capture_default_str();
  app.add_option("--latency-rate", cfg.latency_rate, "Pickup: messages/s")->capture_default_str();
  app.add_option("--latency-seconds", cfg.latency_seconds, "Pickup: seconds")->capture_default_str();
  app.add_option("--perf-test-cp", cfg.perf_test_cp, "Folder of RabbitMQ PerfTest's jars");
  app.add_option("--kafka-cp", cfg.kafka_cp, "Folder of the Kafka jars (kafka-tools among them)");
  app.add_option("--json", cfg.json_out, "Write the result here");
  std::string single;
  int single_consumers = 1, single_jobs = 1000;
  app.add_option("--single", single,
                 "One figure, one run, as one JSON line on stdout (bench/peers): drain, worker or "
                 "pickup of the first --backends")
      ->check(CLI::IsMember({"drain", "worker", "pickup"}));
  app.add_option("--consumers", single_consumers, "--single: consumers (worker concurrency)");
  app.add_option("--jobs", single_jobs, "--single: jobs");
  app.add_option("--work-us", cfg.work_us, "Per-job work in µs (drain: sleep before Ack; worker: "
                                           "predict time)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!single.empty()) {
    TempFolder work("queue-bench");
    cfg.work_dir = work.path();
    const std::string kind = cfg.backends.front();
    json r;
    if (single == "pickup") {
      auto p = RunPickup(cfg, kind);
      r = p ? *p : json{{"error", p.error().message}};
    } else {
      auto p = single == "drain" ? RunDrain(cfg, kind, single_jobs, single_consumers)
                                 : RunWorker(cfg, kind, single_jobs, single_consumers);
      r = p ? json{{"jobsPerSecond", p->first}, {"fillPerSecond", p->second}}
            : json{{"error", p.error().message}};
    }
    fmt::print("{}\n", r.dump());
    return r.contains("error") ? 1 : 0;
  }

  TempFolder work("queue-bench");
  cfg.work_dir = work.path();
  json machine = MachineInfo();
  machine["date"] = FormatRfc3339(Clock::Real().Now());
  const json load_before = LoadAverage();
  std::vector<std::pair<std::string, BackendRun>> runs;
  for (const auto& kind : cfg.backends) {
    runs.emplace_back(kind, RunBackend(cfg, kind));
  }
  // Tools that could not run at all, said once in the output.
  json notes = json::array();
  if (cfg.perf_test_cp.empty()) notes.push_back("RabbitMQ PerfTest: no --perf-test-cp, not run");
  if (cfg.kafka_cp.empty()) notes.push_back("Kafka perf tools: no --kafka-cp, not run");
  json out{{"benchmark", "queue_backends"},
           {"machine", machine},
           {"loadAverage", {{"before", load_before}, {"after", LoadAverage()}}},
           {"params", {{"rounds", cfg.rounds}, {"scale", cfg.scale}, {"predictMs", 0},
                       {"consumers", {1, 4}}, {"fillThreads", 4},
                       {"consumerHandles", "one shared JobQueue per run, prefetch = consumers (as "
                                           "mqlab worker)"},
                       {"pickup", {{"rate", cfg.latency_rate}, {"seconds", cfg.latency_seconds}}}}},
           {"notes", notes},
           {"backends", json::object()}};
  for (const auto& [kind, r] : runs) out["backends"][kind] = ToJson(r, kind, cfg);
  if (!cfg.json_out.empty()) std::ofstream(cfg.json_out) << out.dump(2) << '\n';
  fmt::print("{}", Markdown(runs, machine, cfg));
  for (const auto& n : notes) fmt::print("\nNote: {}\n", n.get<std::string>());
  fmt::print("\nLoad average before {}, after {}\n", load_before.dump(), LoadAverage().dump());
  return 0;
}

}  // namespace
}  // namespace mqlab::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return mqlab::bench::Run(argc, argv);
}
