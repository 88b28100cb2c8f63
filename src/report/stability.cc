#include "report/stability.h"

#include <fmt/format.h>

#include <fstream>

namespace mqlab::report {

using nlohmann::json;

namespace {

std::string Int(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? std::to_string(j[key].get<int64_t>())
                                               : std::string(kDash);
}

std::string Seconds(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? Figure(j[key].get<double>()) : std::string(kDash);
}

// "503 ×12, connection ×3": what the clients got other than 2xx; "none" when nothing.
std::string ClientErrors(const json& clients) {
  std::string out;
  if (!clients.contains("outcomes") || !clients["outcomes"].is_object()) return out;
  const json& outcomes = clients["outcomes"];
  for (auto it = outcomes.begin(); it != outcomes.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() == 3 && k[0] == '2') continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} ×{}", k, it.value().get<int64_t>());
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Table StabilityTable(const json& chaos) {
  Table t;
  t.id = "stability";
  t.title = "Stability under faults (mqlab chaos)";
  const json p = chaos.contains("parameters") ? chaos["parameters"] : json::object();
  t.caption = fmt::format(
      "Steady load of {}/s for {} s per backend; a worker killed (kill -9) every {} s, the "
      "backend's server restarted once and the PostgreSQL job store once, then a drain. Lost: "
      "accepted (2xx) and not finished after the drain; expected 0 for every durable backend. "
      "Ran >1×: jobs whose attempt started more than once. Longest recovery: the longest a job "
      "waited beyond its service time. Client errors: every non-2xx outcome; hung: requests "
      "unanswered after the client timeout ({} s).",
      p.value("rate", 0.0), p.value("seconds", 0.0), p.value("killEverySeconds", 0.0),
      p.value("clientTimeoutSeconds", 0.0));
  t.header = {"Backend",
              "Persistence",
              "Accepted",
              "Completed",
              "Lost",
              "Ran >1×",
              "Longest recovery (s)",
              "Kills",
              "Restarts (server/store)",
              "Client errors",
              "Slowest error (s)",
              "Hung"};
  if (!chaos.contains("runs") || !chaos["runs"].is_array()) return t;
  for (const json& r : chaos["runs"]) {
    const json a = r.contains("accounting") ? r["accounting"] : json::object();
    const json c = r.contains("clients") ? r["clients"] : json::object();
    std::string lost = Int(a, "lost");
    if (a.contains("lostByStatus") && !a["lostByStatus"].empty()) {
      std::string by;
      const json& lost_by = a["lostByStatus"];
      for (auto it = lost_by.begin(); it != lost_by.end(); ++it) {
        by += fmt::format("{}{} {}", by.empty() ? "" : ", ", it.value().get<int64_t>(), it.key());
      }
      lost += " (" + by + ")";
    }
    std::string errors = r.contains("clients") ? ClientErrors(c) : std::string(kDash);
    if (r.contains("error")) errors += "; run error: " + r["error"].get<std::string>();
    t.rows.push_back({fmt::format("{} ({})", r.value("target", "?"), r.value("version", "?")),
                      r.value("persistence", ""), Int(a, "accepted"), Int(a, "completed"), lost,
                      Int(a, "runMoreThanOnce"), Seconds(a, "maxRecoverySeconds"), Int(r, "kills"),
                      fmt::format("{}/{}", Int(r, "backendRestarts"), Int(r, "storeRestarts")),
                      errors, Seconds(c, "slowestErrorSeconds"), Int(c, "hung")});
  }
  return t;
}

std::optional<Table> LoadStability(const std::filesystem::path& dir) {
  std::ifstream in(dir / kChaosFile);
  if (!in) return std::nullopt;
  json doc = json::parse(in, nullptr, false);
  if (!doc.is_object() || doc.value("schema", "") != "mqlab.chaos/1") return std::nullopt;
  return StabilityTable(doc);
}

}  // namespace mqlab::report
