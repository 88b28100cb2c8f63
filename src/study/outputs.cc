// The study's derived figures and flat outputs: breaking points, the harness check, results.csv.
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "study/runner.h"

namespace mqlab::study {

using nlohmann::json;

json BreakingPoint(const json& steps) {
  json best = nullptr;
  std::vector<const json*> sorted;
  for (const auto& s : steps) sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(), [](const json* a, const json* b) {
    return a->value("multiple", 0.0) < b->value("multiple", 0.0);
  });
  std::string how;
  for (const json* s : sorted) {
    if (!s->value("meetsSlo", false)) {
      how = (*s)["breaksBy"].is_string() ? (*s)["breaksBy"].get<std::string>() : "error";
      break;
    }
    best = {{"offeredRps", s->value("offeredRps", 0.0)}, {"multiple", s->value("multiple", 0.0)}};
  }
  if (best.is_null()) return nullptr;
  best["how"] = how.empty() ? json(nullptr) : json(how);  // null: it never broke on this ladder
  return best;
}

json HarnessCheck(const json& step, const std::string& service_dist) {
  if (!step.is_object() || !step["queueWaitMeanMs"].is_number() || !step.contains("theory") ||
      !step["theory"].contains("wqMdcMs")) {
    return nullptr;
  }
  // Fixed service → M/D/c; otherwise the M/M/c value is the closer model (exact for exp).
  const bool fixed = service_dist == "fixed";
  const double measured = step["queueWaitMeanMs"].get<double>();
  const double predicted = step["theory"][fixed ? "wqMdcMs" : "wqMmcMs"].get<double>();
  const double ratio = predicted > 0 ? measured / predicted : 0;
  // "Near": within a factor of 1.5 either way. Outside it the harness is measuring itself (the
  // generator, the scheduler of a loaded machine), not the queue.
  return {{"cell", "harness-mem-w2"},
          {"model", fixed ? "M/D/c" : "M/M/c"},
          {"mdcWaitMs", step["theory"]["wqMdcMs"]},
          {"rho", step["theory"]["rho"]},
          {"measuredWaitMs", measured},
          {"predictedWaitMs", predicted},
          {"ratio", ratio},
          {"ok", ratio > 1 / 1.5 && ratio < 1.5},
          {"step", step}};
}

namespace {

std::string Cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_number_float()) return fmt::format("{:.3f}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

json At(const json& obj, const char* a, const char* b) {
  if (!obj.is_object() || !obj.contains(a) || !obj[a].is_object() || !obj[a].contains(b)) {
    return nullptr;
  }
  return obj[a][b];
}

}  // namespace

std::string ResultsCsv(const json& results) {
  std::ostringstream out;
  out << "cell,version,kind,backend,workers,backpressure,capacity,multiple,offered_rps,"
         "achieved_rps,completed_per_sec,submit_p50_ms,submit_p99_ms,e2e_p50_ms,e2e_p95_ms,"
         "e2e_p99_ms,e2e_max_ms,error_rate,rejected,timeouts,dropped,meets_slo,breaks_by\n";
  for (const auto& c : results["cells"]) {
    for (const auto& s : c["steps"]) {
      const json& status = s.contains("counts") ? s["counts"]["status"] : json::object();
      auto code = [&](const char* k) { return status.contains(k) ? status[k].get<int64_t>() : 0; };
      std::vector<std::string> row = {
          Cell(c["id"]), Cell(c["version"]), Cell(c["kind"]), Cell(c["backend"]),
          Cell(c["workers"]), Cell(c["backpressure"]), Cell(c["capacity"]),
          Cell(s["multiple"]), Cell(s["offeredRps"]), Cell(s.value("achievedRps", json())),
          Cell(s.value("completedPerSec", json())), Cell(At(s, "submit", "p50")),
          Cell(At(s, "submit", "p99")), Cell(At(s, "endToEnd", "p50")),
          Cell(At(s, "endToEnd", "p95")), Cell(At(s, "endToEnd", "p99")),
          Cell(At(s, "endToEnd", "max")), Cell(s.value("errorRate", json())),
          std::to_string(code("429") + code("503")), Cell(At(s, "counts", "timeouts")),
          Cell(At(s, "counts", "dropped")), Cell(s.value("meetsSlo", json())),
          Cell(s.value("breaksBy", json()))};
      for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i];
      out << "\n";
    }
  }
  return out.str();
}

}  // namespace mqlab::study
