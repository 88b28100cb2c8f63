#include "load/summary.h"

#include <fmt/format.h>

#include <algorithm>

namespace mqlab::load {
namespace {

using nlohmann::json;

double Secs(Nanos d) { return std::chrono::duration<double>(d).count(); }
double Ms(Nanos d) { return std::chrono::duration<double, std::milli>(d).count(); }

bool IsSecret(const std::string& header) {
  std::string h = header;
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
  return h == "authorization" || h == "cookie" || h == "proxy-authorization" ||
         h.find("token") != std::string::npos || h.find("key") != std::string::npos;
}

json Parameters(const LoadOptions& o) {
  json ramp = json::array();
  for (const RampStage& s : o.ramp) {
    ramp.push_back({{"rate", s.target_rate}, {"durationSeconds", Secs(s.duration)}});
  }
  json headers = json::array();
  for (const auto& [name, value] : o.headers) {
    headers.push_back(name + ": " + (IsSecret(name) ? std::string("***") : value));
  }
  const bool open = o.model() == Model::kOpen;
  return {{"url", o.url},
          {"method", o.EffectiveMethod()},
          {"headers", headers},
          {"bodyBytes", o.body.size()},
          {"model", ModelName(o.model())},
          {"rate", open ? json(o.rate) : json(nullptr)},
          {"ramp", ramp},
          {"vus", open ? json(nullptr) : json(o.vus)},
          {"arrivals", open ? json(ArrivalsName(o.arrivals)) : json(nullptr)},
          {"seed", o.seed},
          {"durationSeconds", Secs(o.MeasuredDuration())},
          {"warmupSeconds", Secs(o.warmup)},
          {"connections", o.connections},
          {"backlog", open ? json(o.backlog) : json(nullptr)},
          {"threads", o.threads},
          {"timeoutSeconds", Secs(o.timeout)},
          {"idleSpinUs", std::chrono::duration<double, std::micro>(o.idle_spin).count()},
          {"cpuPolicy", CpuPolicyName(o.cpu_policy)},
          {"lateAfterMs", Ms(o.late_after)},
          {"expectedLatencyMs", Ms(o.expected_latency)},
          {"follow", o.follow},
          {"followTimeoutSeconds", Secs(o.follow_timeout)},
          {"pollRate", o.poll_rate},
          {"pollConnections", o.poll_connections},
          {"thresholds", o.thresholds}};
}

// How a threshold's value reads: "2.31 ms", "0.13%", "199.9/s".
std::string FormatMetric(const std::string& metric, double v) {
  if (metric == "errors" || metric == "timeouts" || metric == "dropped" || metric == "late") {
    return fmt::format("{:.3g}%", 100 * v);
  }
  if (metric == "rps" || metric == "jobs_per_s") return fmt::format("{:.1f}/s", v);
  return fmt::format("{:.3f} ms", v);
}

std::string LatencyRow(std::string_view label, const LatencyStats& l) {
  if (l.count == 0) return fmt::format("  {:<30} (no samples)\n", label);
  return fmt::format("  {:<30}{:>9.2f}{:>9.2f}{:>9.2f}{:>9.2f}{:>9.2f}{:>9.2f}{:>9.2f}\n", label,
                     l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms);
}

std::string Header(const LoadSummary& s) {
  const LoadOptions& o = s.options;
  std::string load;
  if (o.model() == Model::kClosed) {
    load = fmt::format("closed model, {} virtual users back to back", o.vus);
  } else if (o.ramp.empty()) {
    load = fmt::format("open model, {} arrivals at {:g}/s", ArrivalsName(o.arrivals), o.rate);
  } else {
    load = fmt::format("open model, {} arrivals ramping {:g}/s", ArrivalsName(o.arrivals), o.rate);
    for (const RampStage& st : o.ramp)
      load += fmt::format(" → {:g}/s ({})", st.target_rate, FormatDuration(st.duration));
  }
  std::string out =
      fmt::format("mqlab load: {}, for {}", load, FormatDuration(o.MeasuredDuration()));
  if (o.warmup > Nanos::zero()) out += fmt::format(" (+{} warm-up)", FormatDuration(o.warmup));
  if (o.model() == Model::kOpen && o.arrivals == Arrivals::kPoisson)
    out += fmt::format(", seed {}", o.seed);
  return out + "\n";
}

}  // namespace

json ToJson(const LatencyStats& l) {
  return {{"clock", l.clock},  {"count", l.count}, {"mean", l.mean_ms}, {"min", l.min_ms},
          {"p50", l.p50_ms},   {"p90", l.p90_ms},  {"p95", l.p95_ms},   {"p99", l.p99_ms},
          {"p999", l.p999_ms}, {"max", l.max_ms}};
}

namespace {

json SeriesJson(const std::vector<SecondStats>& rows) {
  json series = json::array();
  for (const SecondStats& r : rows) {
    series.push_back({{"second", r.second},
                      {"sent", r.sent},
                      {"completed", r.completed},
                      {"2xx", r.status_2xx},
                      {"3xx", r.status_3xx},
                      {"4xx", r.status_4xx},
                      {"5xx", r.status_5xx},
                      {"timeouts", r.timeouts},
                      {"connectionErrors", r.connection_errors},
                      {"dropped", r.dropped},
                      {"late", r.late},
                      {"jobsFinished", r.jobs_finished},
                      {"p50Ms", r.p50_ms},
                      {"p99Ms", r.p99_ms}});
  }
  return series;
}

json CountsJson(const LoadSummary& s) {
  json by_status = json::object();
  for (const auto& [code, n] : s.by_status) by_status[std::to_string(code)] = n;
  return {{"scheduled", s.scheduled},
          {"sent", s.sent},
          {"completed", s.completed},
          {"2xx", s.status_2xx},
          {"byStatus", by_status},
          {"timeouts", s.timeouts},
          {"connectionErrors", s.connection_errors},
          {"errors", s.errors()},
          {"dropped", s.dropped},
          {"droppedBacklogFull", s.dropped_backlog_full},
          {"droppedExpired", s.dropped_expired},
          {"droppedStopped", s.dropped_stopped},
          {"late", s.late},
          {"warmupRequests", s.warmup_requests}};
}

json FollowJson(const FollowSummary& f) {
  if (!f.enabled) return nullptr;
  return {{"accepted", f.accepted},
          {"followed", f.followed},
          {"succeeded", f.succeeded},
          {"failed", f.failed},
          {"unfinished", f.unfinished},
          {"polls", f.polls},
          {"pollErrors", f.poll_errors},
          {"jobsPerSecond", f.jobs_per_second},
          {"e2eMs", ToJson(f.e2e)},
          {"e2eObservedMs", ToJson(f.e2e_observed)},
          {"jobServerMs", ToJson(f.job_server)}};
}

}  // namespace

json ToJson(const LoadSummary& s) {
  json thresholds = json::array();
  for (const ThresholdResult& t : s.thresholds) {
    thresholds.push_back({{"expression", t.expression},
                          {"metric", t.metric},
                          {"actual", t.actual ? json(*t.actual) : json(nullptr)},
                          {"ok", t.ok}});
  }
  const bool open = s.options.model() == Model::kOpen;
  const double cpu_per_request =
      s.sent ? 1e6 * s.generator_cpu_seconds / static_cast<double>(s.sent) : 0.0;
  return {
      {"schema", kSchema},
      {"mqlabVersion", MQLAB_VERSION},
      {"startedAt", FormatRfc3339(s.started_at)},
      {"parameters", Parameters(s.options)},
      {"machine", s.machine},
      {"run",
       {{"measuredSeconds", s.measured_seconds},
        {"stoppedEarly", s.stopped_early},
        {"generatorCpuSeconds", s.generator_cpu_seconds},
        {"generatorCpuPerRequestUs", cpu_per_request},
        {"generatorSpinSeconds", s.generator_spin_seconds},
        {"connectionsOpened", s.connections_opened}}},
      {"counts", CountsJson(s)},
      {"rates",
       {{"offered", s.offered_rate},
        {"sent", s.sent_rate},
        {"achieved", s.achieved_rate},
        {"ok", s.ok_per_second},
        {"errorRate", s.error_rate}}},
      {"latencyMs", ToJson(s.latency)},
      {"latency2xxMs", ToJson(s.latency_2xx)},
      {"serviceTimeMs", open ? ToJson(s.service_time) : json(nullptr)},
      {"sendDelayMs", open ? ToJson(s.send_delay) : json(nullptr)},
      {"follow", FollowJson(s.follow)},
      {"series", SeriesJson(s.series)},
      {"thresholds", thresholds},
      {"thresholdsOk", s.thresholds_ok},
      {"warnings", s.warnings},
  };
}

std::string SeriesCsv(const LoadSummary& s) {
  std::string out =
      "second,sent,completed,2xx,3xx,4xx,5xx,timeouts,connection_errors,dropped,late,"
      "jobs_finished,p50_ms,p99_ms\n";
  for (const SecondStats& r : s.series) {
    out +=
        fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{:.3f},{:.3f}\n", r.second, r.sent,
                    r.completed, r.status_2xx, r.status_3xx, r.status_4xx, r.status_5xx, r.timeouts,
                    r.connection_errors, r.dropped, r.late, r.jobs_finished, r.p50_ms, r.p99_ms);
  }
  return out;
}

std::string FormatSummary(const LoadSummary& s) {
  const LoadOptions& o = s.options;
  const bool open = o.model() == Model::kOpen;
  std::string out = Header(s);
  out += fmt::format("  target     {} {}   threads {}, connections {} ({} opened)\n",
                     o.EffectiveMethod(), o.url, o.threads,
                     open ? fmt::format("<= {}", o.connections) : std::to_string(o.connections),
                     s.connections_opened);
  out += fmt::format(
      "  requests   {}sent {}  completed {}  achieved {:.1f}/s{}  in {:.1f} s\n",
      open ? fmt::format("scheduled {}  ", s.scheduled) : "", s.sent, s.completed, s.achieved_rate,
      open ? fmt::format(" (offered {:.1f}/s)", s.offered_rate) : "", s.measured_seconds);
  std::string outcomes = fmt::format("2xx {}", s.status_2xx);
  for (const auto& [code, n] : s.by_status) {
    if (code < 200 || code >= 300) outcomes += fmt::format("  {} {}", code, n);
  }
  out += fmt::format("  outcomes   {}  timeouts {}  connection errors {}  -> errors {:.2f}%\n",
                     outcomes, s.timeouts, s.connection_errors, 100 * s.error_rate);
  out += fmt::format("  generator  {}CPU {:.2f} s ({:.1f} us/request){}\n",
                     open ? fmt::format("late {}  dropped {}  ", s.late, s.dropped) : "",
                     s.generator_cpu_seconds,
                     s.sent ? 1e6 * s.generator_cpu_seconds / static_cast<double>(s.sent) : 0.0,
                     s.generator_spin_seconds > 0
                         ? fmt::format(", of which idle spin {:.2f} s", s.generator_spin_seconds)
                         : "");
  out += fmt::format("\n  {:<30}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}\n", "latency (ms)", "p50",
                     "p90", "p95", "p99", "p99.9", "max", "mean");
  if (open) {
    out += LatencyRow("response, from intended send", s.latency);
    out += LatencyRow("response, from actual send", s.service_time);
    out += LatencyRow("send delay (actual-intended)", s.send_delay);
  } else {
    out += LatencyRow("response, from actual send", s.latency);
  }
  if (s.follow.enabled) {
    const FollowSummary& f = s.follow;
    out += LatencyRow(open ? "job e2e, intended->finishedAt" : "job e2e, sent->finishedAt", f.e2e);
    out += LatencyRow("job e2e, seen finished by poll", f.e2e_observed);
    out += LatencyRow("job on server, created->finish", f.job_server);
    out += fmt::format(
        "\n  jobs       accepted {}  followed {}  succeeded {}  failed {}  unfinished {}  -> "
        "{:.1f} jobs/s  ({} polls, {} not 200)\n",
        f.accepted, f.followed, f.succeeded, f.failed, f.unfinished, f.jobs_per_second, f.polls,
        f.poll_errors);
  }
  if (!open) {
    out +=
        "  (closed model: latency from each actual send; queueing the users never saw is not "
        "in it — use --rate for the open model)\n";
  }
  if (!s.thresholds.empty()) {
    out += "\n  thresholds\n";
    for (const ThresholdResult& t : s.thresholds) {
      out += fmt::format("    {:<7}{:<24}{}\n", t.ok ? "ok" : "FAILED", t.expression,
                         t.actual ? t.metric + " = " + FormatMetric(t.metric, *t.actual)
                                  : t.metric + ": no samples");
    }
  }
  for (const std::string& w : s.warnings) out += "\n!!! " + w + "\n";
  return out;
}

}  // namespace mqlab::load
