// What a guarded transition means when its conditional UPDATE matched no row.
//
// Both stores apply a transition as one conditional UPDATE (… WHERE status = … AND attempts = …)
// and, when it changed no row, read the job back and ask these functions why. Keeping the verdicts
// here means SQLite and PostgreSQL cannot drift apart; the conformance suite
// (store_conformance_test.h) checks both against the contract in include/mqlab/store/job_store.h.
//
// Pure functions, no state: callable from any thread.
#ifndef MQLAB_STORE_TRANSITIONS_H_
#define MQLAB_STORE_TRANSITIONS_H_

#include <optional>
#include <string_view>

#include "mqlab/common/status.h"
#include "mqlab/domain/job.h"
#include "mqlab/store/job_store.h"

namespace mqlab::store {

// The two columns that decide a transition, as read back after a miss.
struct RowState {
  JobStatus status = JobStatus::kPending;
  int attempts = 0;
};

// kInvalidArgument unless the outcome is kSuccess or kFailed.
Status ValidateFinish(const FinishParams& params);

// StartAttempt matched no row: kNotFound (no such job), kFailedPrecondition (finished), else
// kAborted (the row changed under us; the caller may retry).
Status ExplainStartMiss(std::string_view id, const std::optional<RowState>& row);

// Finish matched no row. OK when the same attempt already finished with the same outcome
// (idempotent completion); kAborted when a newer attempt started (stale attempt);
// kFailedPrecondition when the job is finished otherwise, or the attempt is not running (PENDING,
// requeued, never started); kNotFound for an unknown id.
Status ExplainFinishMiss(const FinishParams& params, const std::optional<RowState>& row);

// Requeue matched no row. OK when the same attempt was already requeued (idempotent);
// otherwise as ExplainFinishMiss.
Status ExplainRequeueMiss(const RequeueParams& params, const std::optional<RowState>& row);

// Reject matched no row: kNotFound, or kFailedPrecondition (the job is not PENDING without an
// attempt; a repeated Reject included, as job_store.h states).
Status ExplainRejectMiss(const RejectParams& params, const std::optional<RowState>& row);

}  // namespace mqlab::store

#endif  // MQLAB_STORE_TRANSITIONS_H_
