// Accounting of a chaos run: from the jobs the clients were told were accepted and what the job
// store says about them after the drain, the figures issue 6 asks for.
//
//   accepted            submissions answered 2xx with a job id (the client holds a promise)
//   completed / failed  of those, SUCCESS / FAILED in the store
//   lost                accepted and not finished after the drain: PENDING, RUNNING, or not in the
//                       store at all ("missing": the store itself forgot it)
//   runMoreThanOnce     finished jobs whose attempts > 1: an attempt was started (StartAttempt,
//                       counted by the store) more than once, i.e. predict began again after a
//                       worker died or a lease expired. (A duplicate delivery of a finished job is
//                       refused by StartAttempt and is not an execution.)
//   maxRecoverySeconds  max over finished accepted jobs of finishedAt − createdAt − service time:
//                       the longest any job waited beyond its own work. Under a load well below
//                       capacity a job waits only when something broke, so this is the longest
//                       recovery a client saw (lease expiry, broker redelivery, a restart).
//   maxRedeliveredWaitSeconds  the same, over the jobs that ran more than once only.
//
// Threading: pure functions over values.
#ifndef MQLAB_CHAOS_ACCOUNTING_H_
#define MQLAB_CHAOS_ACCOUNTING_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mqlab/domain/job.h"

namespace mqlab::chaos {

struct Accounting {
  int64_t accepted = 0, completed = 0, failed = 0, lost = 0, run_more_than_once = 0;
  // lost, by what the store says: "PENDING", "RUNNING", "missing".
  std::map<std::string, int64_t> lost_by_status;
  std::vector<std::string> lost_sample;  // up to 20 ids, to look up by hand
  int max_attempts_seen = 0;
  double max_recovery_seconds = 0, max_redelivered_wait_seconds = 0;
  double p99_wait_seconds = 0;  // of the same per-job wait as max_recovery_seconds
};

// `accepted_ids`: the ids the clients got (duplicates counted once); `records`: the store's view
// of those it knows, by id; `service_seconds`: the model's mean service time.
Accounting Account(const std::vector<std::string>& accepted_ids,
                   const std::map<std::string, Job>& records, double service_seconds);

nlohmann::json ToJson(const Accounting& a);

}  // namespace mqlab::chaos

#endif  // MQLAB_CHAOS_ACCOUNTING_H_
