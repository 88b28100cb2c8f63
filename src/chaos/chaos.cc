#include "chaos/chaos.h"

#include <fmt/format.h>

#include <ctime>
#include <fstream>

#include "chaos/servers.h"
#include "chaos/target.h"
#include "common/files.h"
#include "common/logging.h"
#include "load/machine.h"
#include "mqlab/common/clock.h"
#include "report/report.h"

namespace mqlab::chaos {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string NowRfc3339() { return FormatRfc3339(Clock::Real().Now()); }

}  // namespace

Status ChaosOptions::Validate() const {
  if (backends.empty()) return InvalidArgument("--backends: name at least one backend");
  if (auto t = PlanTargets(*this); !t) return std::unexpected(t.error());
  if (redis_durable != "on" && redis_durable != "off" && redis_durable != "both") {
    return InvalidArgument("--redis-durable must be on, off or both");
  }
  if (seconds < 1) return InvalidArgument("--seconds must be ≥ 1");
  if (rate <= 0) return InvalidArgument("--rate must be > 0");
  if (workers < 1 || workers > 64) return InvalidArgument("--workers must be in [1, 64]");
  if (kill_every < 0.5) return InvalidArgument("--kill-every must be ≥ 0.5 s");
  if (service_ms < 0) return InvalidArgument("--service-ms must be ≥ 0");
  if (lease_seconds < 1) return InvalidArgument("--lease must be ≥ 1 s");
  if (drain_timeout < 1) return InvalidArgument("--drain-timeout must be ≥ 1 s");
  if (client_timeout <= 0) return InvalidArgument("--client-timeout must be > 0");
  if (backlog_seconds < 0) return InvalidArgument("--backlog must be ≥ 0");
  return Ok();
}

Result<json> RunChaos(const ChaosOptions& in, std::stop_token stop, spdlog::logger& log) {
  ChaosOptions o = in;
  if (auto s = o.Validate(); !s) return std::unexpected(s.error());
  auto targets = PlanTargets(o);
  if (!targets) return std::unexpected(targets.error());
  if (o.out.empty()) o.out = fs::path("results") / ("chaos-" + UtcFolderStamp());
  o.out = fs::absolute(o.out);
  if (o.runtime_dir.empty()) o.runtime_dir = o.out / "runtime";
  o.runtime_dir = fs::absolute(o.runtime_dir);
  if (o.binary.empty()) o.binary = fs::read_symlink("/proc/self/exe");
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return Unavailable(fmt::format("cannot create {}: {}", o.out.string(), ec.message()));

  json doc{{"schema", "mqlab.chaos/1"},
           {"mqlabVersion", MQLAB_VERSION},
           {"startedAt", NowRfc3339()},
           {"machine", load::MachineInfo()},
           {"parameters",
            {{"seconds", o.seconds},
             {"rate", o.rate},
             {"workers", o.workers},
             {"killEverySeconds", o.kill_every},
             {"serviceMs", o.service_ms},
             {"leaseSeconds", o.lease_seconds},
             {"kafkaSessionTimeoutSeconds", std::max(6.0, o.lease_seconds)},
             {"drainTimeoutSeconds", o.drain_timeout},
             {"clientTimeoutSeconds", o.client_timeout},
             {"backlogSeconds", o.backlog_seconds},
             {"restartBackend", o.restart_backend},
             {"restartStore", o.restart_store},
             {"backends", o.backends},
             {"redisDurable", o.redis_durable}}},
           {"runs", json::array()},
           {"complete", false}};
  ChaosServers servers(o.runtime_dir);
  for (const Target& t : *targets) {
    if (stop.stop_requested()) break;
    log.info("chaos: {} ({})", t.id, t.persistence);
    doc["runs"].push_back(RunTarget(t, o, servers, stop, log));
    const json& r = doc["runs"].back();
    if (r.contains("accounting")) {
      const json& a = r["accounting"];
      log.info("chaos: {}: accepted {}, completed {}, lost {}, ran more than once {}", t.id,
               a["accepted"].get<int64_t>(), a["completed"].get<int64_t>(),
               a["lost"].get<int64_t>(), a["runMoreThanOnce"].get<int64_t>());
    }
    if (auto s = WriteFileAtomically(o.out / "chaos.json", doc.dump(1) + "\n"); !s) {
      return std::unexpected(s.error());
    }
  }
  servers.Down();
  doc["complete"] = !stop.stop_requested();
  doc["finishedAt"] = NowRfc3339();
  if (auto s = WriteFileAtomically(o.out / "chaos.json", doc.dump(1) + "\n"); !s) {
    return std::unexpected(s.error());
  }
  if (auto s = WriteFileAtomically(o.out / "chaos.md", ChaosMarkdown(doc)); !s) {
    return std::unexpected(s.error());
  }
  // Beside a study's results: its report gains the Stability table.
  if (fs::exists(o.out / report::kResultsFile)) {
    if (auto r = report::RenderReport(o.out); !r) {
      log.warn("chaos.json written, but the study report was not rendered again: {}",
               OneLine(r.error().message));
    }
  }
  return doc;
}

bool ExpectationsMet(const json& doc, std::vector<std::string>* why) {
  bool ok = true;
  auto fail = [&](std::string m) {
    ok = false;
    if (why) why->push_back(std::move(m));
  };
  for (const json& r : doc.value("runs", json::array())) {
    const std::string id = r.value("target", "?");
    if (r.contains("error")) fail(fmt::format("{}: {}", id, r["error"].get<std::string>()));
    if (!r.contains("accounting")) continue;
    const int64_t lost = r["accounting"]["lost"];
    if (r.value("durable", true) && lost > 0) {
      fail(fmt::format("{}: lost {} accepted jobs although configured durably", id, lost));
    }
    const int64_t hung = r["clients"]["hung"];
    if (hung > 0) fail(fmt::format("{}: {} requests hung past the client timeout", id, hung));
  }
  return ok;
}

}  // namespace mqlab::chaos
