// `mqlab study`: the main job. Starts the local servers the chosen versions need (through the
// project's launcher, unless the user's own are given by URL), then for every cell — version ×
// workers × backpressure — starts its processes, primes them (one request through the whole path),
// climbs the ladder of offered loads (RunStep), stops them, and writes what it measured after
// every cell, so that a stop (Ctrl-C) or a crash still leaves a report. At the end it writes
// results.json, results.csv, summary.md and report.html (docs/results-schema.md) and stops exactly
// the servers it started. With --prometheus (on by default when Prometheus is installed) each
// cell's processes are also scrape targets of a private Prometheus for the cell's life, and each
// rung keeps the series read back from it (prometheus_recorder.h).
//
// Threading: Run blocks the calling thread; `stop` (Ctrl-C) ends the current rung early and skips
// the rest.
#ifndef MQLAB_STUDY_RUNNER_H_
#define MQLAB_STUDY_RUNNER_H_

#include <filesystem>
#include <memory>
#include <stop_token>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "study/plan.h"

namespace mqlab::study {

// Runs the study; returns the results JSON (also written to options.out). Errors: a server that
// cannot be started, an output folder that cannot be written.
Result<nlohmann::json> RunStudy(const StudyOptions& options, std::stop_token stop,
                                std::shared_ptr<spdlog::logger> log);

// results.csv from results.json (one row per rung; columns in docs/results-schema.md).
std::string ResultsCsv(const nlohmann::json& results);
// The highest offered load meeting the SLO with every lower rung meeting it too; null if none.
nlohmann::json BreakingPoint(const nlohmann::json& steps);
// The harness check from its rung (mem, ρ = 0.8): the measured mean queue wait against M/D/c
// (fixed service) or M/M/c; null if the rung has no such figures.
nlohmann::json HarnessCheck(const nlohmann::json& step, const std::string& service_dist);

// `mqlab study` as a subcommand: Ctrl-C handling, the progress line, the exit code.
int RunStudyCommand(StudyOptions options, std::shared_ptr<spdlog::logger> log);

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_RUNNER_H_
