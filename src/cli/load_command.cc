// `mqlab load`: the load generator (src/load, docs/notes-load.md). Flags → LoadOptions →
// RunLoad on a thread of its own while this thread waits for Ctrl-C; then the summary on stdout,
// --json / --csv files, and the exit code: 0, 99 when a threshold failed (k6's code), 130 after
// a stop signal (thresholds passing), 1 when the target cannot be reached, 2 for misuse.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stop_token>
#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/signals.h"
#include "load/load.h"

namespace mqlab::cli {
namespace {

struct LoadFlags {
  std::string url, method, body, body_file;
  std::vector<std::string> headers;
  double rate = 0;
  int vus = 0;
  std::string duration, ramp, arrivals = "even", warmup = "0s", timeout = "10s";
  std::string expected_latency = "250ms", follow_timeout = "30s";
  std::string idle_spin = "auto", cpu_policy = "auto";
  uint64_t seed = 0;
  int connections = 0, threads = 1, poll_connections = 2;
  int64_t backlog = -1;
  double poll_rate = 0;
  bool follow = false;
  std::string json, csv;
  std::vector<std::string> thresholds;
};

// Fills `o` from the flags; a message for UsageError when one is malformed.
Status ToOptions(const LoadFlags& f, load::LoadOptions& o) {
  o.url = f.url;
  o.method = f.method;
  o.body = f.body;
  if (!f.body.empty() && !f.body_file.empty()) {
    return InvalidArgument("--body and --body-file exclude each other");
  }
  if (!f.body_file.empty()) {
    std::ifstream in(f.body_file, std::ios::binary);
    if (!in) return InvalidArgument("--body-file: cannot read '" + f.body_file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    o.body = ss.str();
  }
  for (const std::string& h : f.headers) {
    auto parsed = load::ParseHeader(h);
    if (!parsed) return InvalidArgument("--header: " + parsed.error().message);
    o.headers.push_back(*parsed);
  }
  o.rate = f.rate;
  o.vus = f.vus;
  if (!f.ramp.empty()) {
    auto ramp = load::ParseRamp(f.ramp);
    if (!ramp) return InvalidArgument("--ramp: " + ramp.error().message);
    o.ramp = *ramp;
  }
  struct {
    const char* flag;
    const std::string& text;
    load::Nanos& into;
  } durations[] = {{"--duration", f.duration, o.duration},
                   {"--warmup", f.warmup, o.warmup},
                   {"--timeout", f.timeout, o.timeout},
                   {"--follow-timeout", f.follow_timeout, o.follow_timeout},
                   {"--expected-latency", f.expected_latency, o.expected_latency}};
  for (auto& d : durations) {
    if (d.text.empty()) continue;
    auto parsed = load::ParseDuration(d.text);
    if (!parsed) return InvalidArgument(std::string(d.flag) + ": " + parsed.error().message);
    d.into = *parsed;
  }
  o.arrivals = f.arrivals == "poisson" ? load::Arrivals::kPoisson : load::Arrivals::kEven;
  if (f.idle_spin != "auto") {
    auto spin = load::ParseDuration(f.idle_spin, std::chrono::microseconds(1));
    if (!spin) return InvalidArgument("--idle-spin: " + spin.error().message);
    o.idle_spin = *spin;
  }
  o.cpu_policy = f.cpu_policy == "batch"    ? load::CpuPolicy::kBatch
                 : f.cpu_policy == "normal" ? load::CpuPolicy::kNormal
                                            : load::CpuPolicy::kAuto;
  o.seed = f.seed;
  o.connections = f.connections;
  o.backlog = f.backlog;
  o.threads = f.threads;
  o.follow = f.follow;
  o.poll_rate = f.poll_rate;
  o.poll_connections = f.poll_connections;
  o.thresholds = f.thresholds;
  return o.Validate();
}

// One progress line, redrawn in place; only on a terminal.
void ShowProgress(const load::LoadProgress& p) {
  fmt::print(
      stderr,
      "\r\033[K  {:>5.0f}/{:.0f} s{}  sent {}  completed {}  errors {}  dropped {}  late {}{}",
      p.elapsed_seconds, p.total_seconds, p.warming_up ? " (warm-up)" : "", p.sent, p.completed,
      p.errors, p.dropped, p.late,
      p.jobs_finished ? fmt::format("  jobs finished {}", p.jobs_finished) : "");
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Unavailable("cannot write " + path);
  return Ok();
}

int RunLoadCommand(const LoadFlags& f) {
  load::LoadOptions o;
  if (Status s = ToOptions(f, o); !s) return UsageError(s.error().message);
  const bool tty = isatty(STDERR_FILENO) == 1;
  fmt::print(stderr, "mqlab load: {} {} for {} (Ctrl-C stops early and still reports)\n",
             o.EffectiveMethod(), o.url, load::FormatDuration(o.MeasuredDuration()));

  std::stop_source stop;
  std::optional<Result<load::LoadSummary>> result;
  std::atomic<bool> done{false};
  std::thread runner([&] {
    result = load::RunLoad(o, stop.get_token(), tty ? load::ProgressFn(ShowProgress) : nullptr);
    done = true;
  });
  bool interrupted = false;
  while (!done) {
    if (WaitForStopSignal(std::chrono::milliseconds(100))) {
      interrupted = true;
      fmt::print(stderr, "\nmqlab load: stopping (again to quit without a summary)\n");
      ArmForcedExit();
      stop.request_stop();
      break;
    }
  }
  runner.join();
  if (tty) fmt::print(stderr, "\r\033[K");
  if (!*result) return RunError("load", result->error().message);
  const load::LoadSummary& s = **result;
  fmt::print("{}", load::FormatSummary(s));
  std::fflush(stdout);
  int code = 0;
  if (!f.json.empty()) {
    if (Status w = WriteFile(f.json, load::ToJson(s).dump(2) + "\n"); !w)
      code = RunError("load", w.error().message);
  }
  if (!f.csv.empty()) {
    if (Status w = WriteFile(f.csv, load::SeriesCsv(s)); !w)
      code = RunError("load", w.error().message);
  }
  if (code != 0) return code;
  if (!s.thresholds_ok) return 99;
  return interrupted ? 130 : 0;
}

}  // namespace

Runner AddLoadCommand(CLI::App& root) {
  auto f = std::make_shared<LoadFlags>();
  CLI::App* cmd = root.add_subcommand(
      "load",
      "Load generator: open model (--rate/--ramp, latency from the intended send) or "
      "closed (--vus); thresholds set the exit code (99 when one fails)");
  Flag(cmd, "--url", f->url, "Target, http://host:port/path")->required();
  Flag(cmd, "--method", f->method, "HTTP method (default: GET, or POST with a body)");
  Flag(cmd, "--body", f->body, "Request body (JSON)");
  Flag(cmd, "--body-file", f->body_file, "Read the request body from this file");
  Flag(cmd, "--header", f->headers, "Extra header 'Name: value' (repeatable)");
  Flag(cmd, "--rate", f->rate,
       "Open model: arrivals per second (constant, or the start of --ramp)");
  Flag(cmd, "--ramp", f->ramp,
       "Open model: ramping rate 'R1:D1,R2:D2,…' (k6 stages), e.g. 100:30s,500:1m");
  Flag(cmd, "--vus", f->vus,
       "Closed model: virtual users, each one connection sending back to back");
  Flag(cmd, "--duration", f->duration,
       "Measured time, e.g. 30s, 2m (with --ramp: default the stages' sum)");
  Flag(cmd, "--warmup", f->warmup, "Load before the measured time, not counted");
  Flag(cmd, "--arrivals", f->arrivals, "Open model spacing: even (k6, wrk2) or poisson (seeded)")
      ->check(CLI::IsMember({"even", "poisson"}));
  Flag(cmd, "--seed", f->seed, "Seed of the Poisson arrivals (0: random, printed in the JSON)");
  Flag(cmd, "--connections", f->connections,
       "Open model: most connections (0: 2 x peak rate x --expected-latency, at most 1024)");
  Flag(cmd, "--expected-latency", f->expected_latency,
       "Latency the default --connections is sized for");
  Flag(cmd, "--backlog", f->backlog,
       "Open model: arrivals waiting for a free connection before drops (-1: rate x --timeout, at "
       "least 1000)");
  Flag(cmd, "--threads", f->threads, "Generator threads (event loops)")->check(CLI::Range(1, 256));
  Flag(cmd, "--timeout", f->timeout, "Per-request timeout (connect included)");
  Flag(cmd, "--idle-spin", f->idle_spin,
       "Poll sockets up to this long (adaptive) before sleeping, e.g. 50us; 0: never (auto: 50us "
       "with --vus, 0 with --rate)");
  Flag(cmd, "--cpu-policy", f->cpu_policy,
       "Generator threads' scheduling: batch (SCHED_BATCH: no wake-up preemption) or normal "
       "(auto: batch with --vus, normal with --rate)")
      ->check(CLI::IsMember({"auto", "normal", "batch"}));
  Flag(cmd, "--json", f->json, "Write the full summary here (schema mqlab.load/1)");
  Flag(cmd, "--csv", f->csv, "Write the per-second series here");
  Flag(cmd, "--threshold", f->thresholds,
       "Pass/fail, k6-style: 'p99<500ms', 'errors<1%', 'rps>100', 'e2e_p99<2s' (repeatable)");
  cmd->add_flag("--follow", f->follow,
                "Follow each 202's job until SUCCESS/FAILED: end-to-end latency")
      ->envname(EnvNameOf("--follow"));
  Flag(cmd, "--follow-timeout", f->follow_timeout,
       "How long after the last submission jobs are still polled");
  Flag(cmd, "--poll-rate", f->poll_rate,
       "Most status polls per second (0: the peak rate, at least 100)");
  Flag(cmd, "--poll-connections", f->poll_connections, "Poll connections per thread")
      ->check(CLI::Range(1, 1024));
  return [f] { return RunLoadCommand(*f); };
}

}  // namespace mqlab::cli
