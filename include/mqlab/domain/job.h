// The job: the one domain object every version of the study shares.
//
// A job moves PENDING -> RUNNING -> SUCCESS | FAILED. A retry returns RUNNING to PENDING while
// attempts < max_attempts. RUNNING -> RUNNING is a new attempt taking over from a worker that died
// (its lease expired or the broker redelivered). SUCCESS and FAILED are terminal: a finished job never
// runs again through the store's eyes. The stores enforce these transitions (CanTransition is the
// single table they follow); this header only describes them.
//
// JSON is camelCase with RFC 3339 UTC times, as the HTTP API shows it.
//
// Checklist: when a field is added here, add it to ToJson, to both stores' schemas and row
// mappers (src/store/sqlite, src/store/postgres) and to the store conformance suite.
#ifndef MQLAB_DOMAIN_JOB_H_
#define MQLAB_DOMAIN_JOB_H_

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "mqlab/common/clock.h"
#include "mqlab/common/status.h"

namespace mqlab {

enum class JobStatus { kPending, kRunning, kSuccess, kFailed };

std::string_view JobStatusName(JobStatus status);  // "PENDING", ...
std::optional<JobStatus> ParseJobStatus(std::string_view name);
inline bool IsTerminal(JobStatus s) { return s == JobStatus::kSuccess || s == JobStatus::kFailed; }
// The transition table (see the file comment).
bool CanTransition(JobStatus from, JobStatus to);

struct Job {
  std::string id;       // UUID v4, lowercase canonical form
  std::string version;  // the endpoint family that accepted it: "mem", "v3" ... "v6"
  JobStatus status = JobStatus::kPending;
  std::string input_path;   // relative to the data folder, normalised (see input_path.h)
  std::string output_path;  // relative to the data folder; set when the job succeeds
  std::string error_message;
  int attempts = 0;      // attempts started so far; the current attempt's number while RUNNING
  int max_attempts = 3;  // Default: 3, as the worker's --max-attempts
  std::string worker_id;
  std::string request_id;  // the API request that created it, followed into worker logs
  // The client's Idempotency-Key, unique per version while the job stands; empty = none. Released
  // (emptied) when the job is rejected, so a retry with the same key may try again. Not in ToJson:
  // it is the client's own token, and GET answers by id.
  std::string idempotency_key;
  WallTime created_at{};
  WallTime updated_at{};
  std::optional<WallTime> started_at;   // start of the latest attempt
  std::optional<WallTime> finished_at;  // set once, when the job reaches SUCCESS or FAILED
};

nlohmann::json ToJson(const Job& job);

// A new random UUID v4 in canonical lowercase form.
std::string NewJobId();
// True for a canonical UUID ("8-4-4-4-12" hex digits, any case).
bool IsValidJobId(std::string_view id);

}  // namespace mqlab

#endif  // MQLAB_DOMAIN_JOB_H_
