// `mqlab study`: the main job — every version × workers × backpressure, a ladder of offered loads,
// the report.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/flags.h"
#include "study/runner.h"

namespace mqlab::cli {

namespace {

struct StudyFlags {
  study::StudyOptions o;
  std::string only;
  std::string workers;
  std::string backpressure;
  std::string ladder;
  std::string out;
  std::string runtime_dir = ".mqlab";
  LogOptions log;
};

int RunStudyFlags(StudyFlags& f) {
  if (auto s = f.log.Validate(); !s) return UsageError(s.error().message);
  auto versions = SplitList<std::string>(f.only, "--only");
  auto workers = SplitList<int>(f.workers, "--workers");
  auto bp = SplitList<std::string>(f.backpressure, "--backpressure");
  auto ladder = SplitList<double>(f.ladder, "--ladder");
  for (const Status& s : {versions ? Ok() : Status(std::unexpected(versions.error())),
                          workers ? Ok() : Status(std::unexpected(workers.error())),
                          ladder ? Ok() : Status(std::unexpected(ladder.error()))}) {
    if (!s) return UsageError(s.error().message);
  }
  f.o.versions = *versions;
  f.o.workers = *workers;
  f.o.backpressure = *bp;
  f.o.ladder = *ladder;
  f.o.out = f.out;
  f.o.runtime_dir = f.runtime_dir;
  study::StudyOptions check = f.o;
  if (auto s = check.ApplyProfile(); !s) return UsageError(s.error().message);
  if (auto s = check.Validate(); !s) return UsageError(s.error().message);
  return study::RunStudyCommand(f.o, MakeLogger("study", f.log));
}

}  // namespace

Runner AddStudyCommand(CLI::App& root) {
  auto f = std::make_shared<StudyFlags>();
  CLI::App* cmd = root.add_subcommand(
      "study", "Run the whole study: every version x workers x backpressure under a ladder of "
               "offered loads; writes results.json, results.csv, summary.md, report.html");
  Flag(cmd, "--profile", f->o.profile, "quick (every cell, short steps, ~10 min) or full")
      ->check(CLI::IsMember({"quick", "full"}));
  Flag(cmd, "--only", f->only, "Versions to run, e.g. v0,v3,mem (default: all)");
  Flag(cmd, "--workers", f->workers, "Worker counts, e.g. 1,4 (default: 1,2,4)");
  Flag(cmd, "--backpressure", f->backpressure, "on, off or on,off (default: both)");
  Flag(cmd, "--service-ms", f->o.service_ms, "Mean service time of the model, ms")
      ->check(CLI::Range(0.1, 60000.0));
  Flag(cmd, "--service-dist", f->o.service_dist, "fixed, exp or lognormal")
      ->check(CLI::IsMember({"fixed", "exp", "lognormal"}));
  Flag(cmd, "--mode", f->o.mode, "sleep or cpu")->check(CLI::IsMember({"sleep", "cpu"}));
  Flag(cmd, "--ladder", f->ladder, "Offered loads as multiples of capacity, e.g. 0.5,1,2");
  Flag(cmd, "--step-seconds", f->o.step_seconds,
       "Measured seconds per rung (default: 1.5 quick, 15 full)")
      ->check(CLI::Range(0.5, 3600.0))
      ->default_str("");
  Flag(cmd, "--harness-seconds", f->o.harness_seconds,
       "Seconds of the harness check's own run (mem, 2 workers, rho 0.8; default: 15 quick, "
       "60 full); 0 skips it")
      ->check(CLI::Range(0.0, 3600.0))
      ->default_str("");
  Flag(cmd, "--slo-p99-ms", f->o.slo_p99_ms, "SLO: p99 end to end, ms")->check(CLI::Range(1.0, 3.6e6));
  Flag(cmd, "--slo-errors", f->o.slo_error_rate, "SLO: error rate (0.01 = 1%)")
      ->check(CLI::Range(0.0, 1.0));
  Flag(cmd, "--seed", f->o.seed, "Seed of the arrivals and the model");
  Flag(cmd, "--out", f->out, "Output folder (default: results/<UTC time>)");
  Flag(cmd, "--runtime-dir", f->runtime_dir, "Where private servers live (mqlab services)");
  Flag(cmd, "--prometheus-wait", f->o.prometheus_wait,
       "Before each cell, wait for Prometheus to discover its processes (0.5-7 s): on, off, or "
       "auto (on for the full profile, off for quick)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  Flag(cmd, "--prometheus", f->o.prometheus,
       "Scrape every process into a private Prometheus and keep its series in results.json: "
       "on, off, or auto (on when Prometheus is installed)")
      ->check(CLI::IsMember({"auto", "on", "off"}));
  AddLogFlags(cmd, f->log);
  return [f] { return RunStudyFlags(*f); };
}

}  // namespace mqlab::cli
