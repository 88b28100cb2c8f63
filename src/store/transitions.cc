#include "store/transitions.h"

#include <fmt/format.h>

namespace mqlab::store {
namespace {

// The verdict shared by Finish and Requeue once the row is known; `done` is the status the
// transition would have written (a row already there, at the same attempt, is the idempotent case).
Status Explain(std::string_view verb, std::string_view id, int attempt, JobStatus done,
               const std::optional<RowState>& row) {
  if (!row) return NotFound(fmt::format("job {} not found", id));
  if (row->attempts > attempt) {
    return Aborted(fmt::format("{} of job {}: attempt {} is stale, attempt {} started since", verb,
                               id, attempt, row->attempts));
  }
  if (row->attempts < attempt) {
    return FailedPrecondition(fmt::format("{} of job {}: attempt {} never started (attempts: {})",
                                          verb, id, attempt, row->attempts));
  }
  if (row->status == done) return Ok();
  if (IsTerminal(row->status)) {
    return FailedPrecondition(fmt::format("{} of job {}: attempt {} already finished as {}", verb,
                                          id, attempt, JobStatusName(row->status)));
  }
  if (row->status == JobStatus::kPending) {
    return FailedPrecondition(fmt::format("{} of job {}: attempt {} is not running (PENDING)", verb,
                                          id, attempt));
  }
  // RUNNING at this very attempt: the guarded UPDATE should have matched. Only a concurrent change
  // between the UPDATE and the read-back gets here.
  return Aborted(fmt::format("{} of job {}: the job changed concurrently, retry", verb, id));
}

}  // namespace

Status ValidateFinish(const FinishParams& params) {
  if (!IsTerminal(params.outcome)) {
    return InvalidArgument(fmt::format("finish of job {}: outcome must be SUCCESS or FAILED, not {}",
                                       params.id, JobStatusName(params.outcome)));
  }
  return Ok();
}

Status ExplainStartMiss(std::string_view id, const std::optional<RowState>& row) {
  if (!row) return NotFound(fmt::format("job {} not found", id));
  if (IsTerminal(row->status)) {
    return FailedPrecondition(
        fmt::format("job {} already finished as {}", id, JobStatusName(row->status)));
  }
  return Aborted(fmt::format("start of job {}: the job changed concurrently, retry", id));
}

Status ExplainFinishMiss(const FinishParams& params, const std::optional<RowState>& row) {
  return Explain("finish", params.id, params.attempt, params.outcome, row);
}

Status ExplainRequeueMiss(const RequeueParams& params, const std::optional<RowState>& row) {
  return Explain("requeue", params.id, params.attempt, JobStatus::kPending, row);
}

Status ExplainRejectMiss(const RejectParams& params, const std::optional<RowState>& row) {
  if (!row) return NotFound(fmt::format("job {} not found", params.id));
  return FailedPrecondition(fmt::format("reject of job {}: it is {} after {} attempt(s); only a "
                                        "PENDING job never started can be rejected",
                                        params.id, JobStatusName(row->status), row->attempts));
}

}  // namespace mqlab::store
