#include "report/overload_table.h"

#include <fmt/format.h>

namespace mqlab::report {

using nlohmann::json;

namespace {

std::string Fig(const json& j, const char* key, const char* format = "{:.0f}") {
  return j.contains(key) && j[key].is_number() ? fmt::format(fmt::runtime(format), j[key].get<double>())
                                               : std::string(kDash);
}

std::string Yes(bool b) { return b ? "yes" : "NO"; }

}  // namespace

Table OverloadTable(const json& doc) {
  Table t;
  t.id = "overload";
  const json p = doc.contains("parameters") ? doc["parameters"] : json::object();
  t.title = fmt::format("Overload: {}× capacity for {} s (mqlab overload)",
                        p.value("multiple", 0.0), p.value("burstSeconds", 0.0));
  t.caption = fmt::format(
      "{} s at 0.5× capacity, then the burst, then {} s at 0.5× again; {} workers, {} ms per job. "
      "A probe every {} ms measures what a new client sees (async: the job's whole life, submit "
      "to finished). RSS: the API (or serve) process, at the end of the baseline → the most "
      "during the burst, and its growth over the burst's second half. Accepted p99: probes' job "
      "latency (async) or the 2xx responses (sync). Recovery: from the burst's end until no 5 "
      "consecutive probes hold more than one slower than the baseline's own (max of 2 × its "
      "median, its median + 100 ms, 1.5 × its p95). Expected with backpressure on: "
      "flat RSS, accepted p99 under the SLO ({} ms), every rejection with Retry-After, recovery "
      "within seconds; off: latency grows without bound, the process survives.",
      p.value("beforeSeconds", 0.0), p.value("afterSeconds", 0.0), p.value("workers", 0),
      p.value("serviceMs", 0.0), p.value("probeIntervalMs", 0.0), p.value("sloP99Ms", 0.0));
  t.header = {"Version", "Backpressure", "RSS MB", "RSS growth MB/min", "Accepted p99 (ms)",
              "Rejected 429/503", "Share of burst", "Probes rejected (with Retry-After)",
              "Last burst probe p50 (ms)", "Recovery (s)", "Survived", "As expected"};
  if (!doc.contains("runs") || !doc["runs"].is_array()) return t;
  for (const json& r : doc["runs"]) {
    std::vector<std::string> row = {r.value("version", "?"), r.value("backpressure", "?")};
    if (!r.contains("figures")) {
      row.resize(t.header.size(), std::string(kDash));
      row.back() = "error: " + r.value("error", std::string("not run"));
      t.rows.push_back(std::move(row));
      continue;
    }
    const json& f = r["figures"];
    const json& rss = f["rssMb"];
    const json& rej = f["rejections"];
    const json& by = rej["byStatus"];
    auto count = [&](const char* code) { return by.contains(code) ? by[code].get<int64_t>() : 0; };
    // No latency among the last burst probes: all refused, or all still waiting when the probe
    // gave up (backpressure off: the backlog outgrew the probe's patience).
    const int64_t unfinished = f.value("probesUnfinished", int64_t{0});
    std::string last = Fig(f, "lastBurstProbeP50Ms");
    if (!f["lastBurstProbeP50Ms"].is_number()) {
      last = unfinished > 0 ? "beyond the probes' wait" : "all rejected";
    }
    if (unfinished > 0) last += fmt::format(" ({} probes unfinished)", unfinished);
    row.push_back(fmt::format("{} → {}", Fig(rss, "baseline"), Fig(rss, "burstMax")));
    row.push_back(Fig(rss, "burstSecondHalfGrowthPerMin", "{:+.1f}"));
    row.push_back(Fig(f, "acceptedP99Ms"));
    row.push_back(fmt::format("{} / {}", count("429"), count("503")));
    row.push_back(fmt::format("{:.0f} %", 100 * rej.value("burstShare", 0.0)));
    row.push_back(fmt::format("{} ({})", rej.value("probesRejected", 0),
                              rej.value("probesWithRetryAfter", 0)));
    row.push_back(last);
    row.push_back(f["recoverySeconds"].is_number() ? Fig(f, "recoverySeconds", "{:.1f}")
                                                   : std::string("not back"));
    row.push_back(Yes(f.value("survived", false)));
    row.push_back(Yes(r.contains("verdict") && r["verdict"].value("asExpected", false)));
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace mqlab::report
