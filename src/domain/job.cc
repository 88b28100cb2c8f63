#include "mqlab/domain/job.h"

#include <uuid/uuid.h>

#include <cctype>
#include <nlohmann/json.hpp>

namespace mqlab {

std::string_view JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kPending: return "PENDING";
    case JobStatus::kRunning: return "RUNNING";
    case JobStatus::kSuccess: return "SUCCESS";
    case JobStatus::kFailed: return "FAILED";
  }
  return "UNKNOWN";
}

std::optional<JobStatus> ParseJobStatus(std::string_view name) {
  for (JobStatus s : {JobStatus::kPending, JobStatus::kRunning, JobStatus::kSuccess,
                      JobStatus::kFailed}) {
    if (JobStatusName(s) == name) return s;
  }
  return std::nullopt;
}

bool CanTransition(JobStatus from, JobStatus to) {
  switch (from) {
    case JobStatus::kPending: return to == JobStatus::kRunning;
    case JobStatus::kRunning: return true;  // success, failure, retry, or a takeover attempt
    case JobStatus::kSuccess:
    case JobStatus::kFailed: return false;
  }
  return false;
}

nlohmann::json ToJson(const Job& job) {
  auto time_or_null = [](const std::optional<WallTime>& t) -> nlohmann::json {
    return t ? nlohmann::json(FormatRfc3339(*t)) : nlohmann::json(nullptr);
  };
  auto string_or_null = [](const std::string& s) -> nlohmann::json {
    return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
  };
  return nlohmann::json{
      {"id", job.id},
      {"version", job.version},
      {"status", JobStatusName(job.status)},
      {"inputPath", job.input_path},
      {"outputPath", string_or_null(job.output_path)},
      {"errorMessage", string_or_null(job.error_message)},
      {"attempts", job.attempts},
      {"maxAttempts", job.max_attempts},
      {"workerId", string_or_null(job.worker_id)},
      {"createdAt", FormatRfc3339(job.created_at)},
      {"updatedAt", FormatRfc3339(job.updated_at)},
      {"startedAt", time_or_null(job.started_at)},
      {"finishedAt", time_or_null(job.finished_at)},
  };
}

std::string NewJobId() {
  uuid_t raw;
  uuid_generate_random(raw);
  char text[37];
  uuid_unparse_lower(raw, text);
  return std::string(text, 36);
}

bool IsValidJobId(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(id[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace mqlab
