#include "chaos/accounting.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace mqlab::chaos {

namespace {

double Seconds(WallTime a, WallTime b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

Accounting Account(const std::vector<std::string>& accepted_ids,
                   const std::map<std::string, Job>& records, double service_seconds) {
  Accounting a;
  std::set<std::string> seen;
  std::vector<double> waits;
  for (const std::string& id : accepted_ids) {
    if (!seen.insert(id).second) continue;
    ++a.accepted;
    auto it = records.find(id);
    if (it == records.end() || !IsTerminal(it->second.status) || !it->second.finished_at) {
      ++a.lost;
      const std::string why =
          it == records.end() ? "missing" : std::string(JobStatusName(it->second.status));
      ++a.lost_by_status[why];
      if (a.lost_sample.size() < 20) a.lost_sample.push_back(id);
      continue;
    }
    const Job& j = it->second;
    (j.status == JobStatus::kSuccess ? a.completed : a.failed)++;
    a.max_attempts_seen = std::max(a.max_attempts_seen, j.attempts);
    const double wait = std::max(0.0, Seconds(j.created_at, *j.finished_at) - service_seconds);
    waits.push_back(wait);
    a.max_recovery_seconds = std::max(a.max_recovery_seconds, wait);
    if (j.attempts > 1) {
      ++a.run_more_than_once;
      a.max_redelivered_wait_seconds = std::max(a.max_redelivered_wait_seconds, wait);
    }
  }
  if (!waits.empty()) {
    std::sort(waits.begin(), waits.end());
    const size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(waits.size())));
    a.p99_wait_seconds = waits[std::clamp<size_t>(rank, 1, waits.size()) - 1];
  }
  return a;
}

nlohmann::json ToJson(const Accounting& a) {
  return {{"accepted", a.accepted},
          {"completed", a.completed},
          {"failed", a.failed},
          {"lost", a.lost},
          {"lostByStatus", a.lost_by_status},
          {"lostSample", a.lost_sample},
          {"duplicates", a.run_more_than_once},
          {"runMoreThanOnce", a.run_more_than_once},
          {"maxAttempts", a.max_attempts_seen},
          {"maxRecoverySeconds", a.max_recovery_seconds},
          {"maxRedeliveredWaitSeconds", a.max_redelivered_wait_seconds},
          {"p99WaitSeconds", a.p99_wait_seconds}};
}

}  // namespace mqlab::chaos
