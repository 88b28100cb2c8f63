// `mqlab overload`: a sustained burst above capacity with backpressure on and off (overload.h).
// Exit 0 when every run behaved as expected, 1 when one did not (or failed), 2 for misuse, 130
// after Ctrl-C (what was measured is written).
#include <fmt/format.h>

#include <thread>

#include "cli/commands.h"
#include "cli/flags.h"
#include "common/signals.h"
#include "overload/overload.h"

namespace mqlab::cli {

namespace {

struct OverloadFlags {
  overload::OverloadOptions o;
  std::string only = "mem,v1";
  std::string backpressure = "on,off";
  std::string out;
  LogOptions log;
};

int RunOverloadFlags(OverloadFlags& f) {
  if (auto s = f.log.Validate(); !s) return UsageError(s.error().message);
  auto versions = SplitList<std::string>(f.only, "--only");
  auto bp = SplitList<std::string>(f.backpressure, "--backpressure");
  f.o.versions = *versions;
  f.o.backpressure = *bp;
  f.o.out = f.out;
  if (auto s = f.o.Validate(); !s) return UsageError(s.error().message);
  for (const auto& v : f.o.versions) {
    static const std::vector<std::string> known = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "mem"};
    if (std::find(known.begin(), known.end(), v) == known.end()) {
      return UsageError(fmt::format("--only: unknown version '{}' (v0 … v6, mem)", v));
    }
  }
  auto log = MakeLogger("overload", f.log);
  std::stop_source stop;
  std::jthread signals =
      WatchStopSignals(stop, "mqlab overload: stopping (what was measured is written)");
  auto doc = overload::RunOverload(f.o, stop.get_token(), log);
  signals.request_stop();
  if (!doc) return RunError("overload", doc.error().message);
  fmt::print("{}\nwritten: {}/overload.json, overload.md\n", overload::OverloadMarkdown(*doc),
             (*doc)["out"].get<std::string>());
  if (!(*doc)["complete"].get<bool>()) return 130;
  for (const auto& run : (*doc)["runs"]) {
    if (!run.contains("verdict") || !run["verdict"].value("asExpected", false)) return 1;
  }
  return 0;
}

}  // namespace

Runner AddOverloadCommand(CLI::App& root) {
  auto f = std::make_shared<OverloadFlags>();
  CLI::App* cmd = root.add_subcommand(
      "overload", "Overload one cell (default 3x capacity for 2 min) with backpressure on and "
                  "off: RSS, accepted p99, rejections with Retry-After, recovery time");
  Flag(cmd, "--only", f->only, "Versions to overload, e.g. mem,v1,v4 (default: mem,v1)");
  Flag(cmd, "--backpressure", f->backpressure, "on, off or on,off (default: both)");
  Flag(cmd, "--workers", f->o.workers, "Workers (or OCR instances) of the cell")
      ->check(CLI::Range(1, 64));
  Flag(cmd, "--service-ms", f->o.service_ms, "Fixed service time of the model, ms")
      ->check(CLI::Range(0.1, 10000.0));
  Flag(cmd, "--multiple", f->o.multiple, "The burst's offered load, as a multiple of capacity")
      ->check(CLI::Range(1.01, 20.0));
  Flag(cmd, "--before", f->o.before_seconds, "Seconds at 0.5x capacity before the burst")
      ->check(CLI::Range(1.0, 3600.0));
  Flag(cmd, "--burst", f->o.burst_seconds, "Seconds of the burst")->check(CLI::Range(1.0, 3600.0));
  Flag(cmd, "--after", f->o.after_seconds, "Seconds at 0.5x capacity after the burst")
      ->check(CLI::Range(1.0, 3600.0));
  Flag(cmd, "--probe-interval-ms", f->o.probe_interval_ms, "A probe request every this many ms")
      ->check(CLI::Range(50.0, 60000.0));
  Flag(cmd, "--slo-p99-ms", f->o.slo_p99_ms, "SLO: p99 of accepted requests, ms")
      ->check(CLI::Range(1.0, 3.6e6));
  Flag(cmd, "--seed", f->o.seed, "Seed of the arrivals");
  Flag(cmd, "--out", f->out,
       "Output folder (default: results/overload-<UTC time>); a study's folder gets an Overload "
       "section in its report");
  Flag(cmd, "--runtime-dir", f->o.runtime_dir, "Where private servers live (mqlab services)");
  AddLogFlags(cmd, f->log);
  return [f] { return RunOverloadFlags(*f); };
}

}  // namespace mqlab::cli
