// The wire form of a queue message (see job_queue.h). Decoding is strict: the payload comes from a
// broker anybody with access can write to, and a worker must dead-letter what it cannot trust.
#include <nlohmann/json.hpp>

#include "mqlab/domain/job.h"
#include "mqlab/queue/job_queue.h"

namespace mqlab::queue {

// Longest message accepted; a real one is under 200 bytes.
constexpr size_t kMaxWireBytes = 4096;
// Attempts beyond this are nonsense whatever max-attempts is configured.
constexpr int kMaxAttempt = 1000000;
// Latest enqueuedAt accepted, in unix µs: 2^62 ns, year 2116. WallTime counts nanoseconds in an
// int64, so a later (or a negative) time would overflow in FromUnixMicros or in the worker's
// `received_at - enqueued_at` (undefined behaviour; found by fuzz/queue_message_fuzzer.cc).
constexpr int64_t kMaxEnqueuedAtMicros = (int64_t{1} << 62) / 1000;

std::string EncodeMessage(const Message& m) {
  nlohmann::json j{{"jobId", m.job_id},
                   {"attempt", m.attempt},
                   {"enqueuedAt", ToUnixMicros(m.enqueued_at)}};
  if (!m.request_id.empty()) j["requestId"] = m.request_id;
  return j.dump();
}

Result<Message> DecodeMessage(std::string_view wire) {
  if (wire.size() > kMaxWireBytes) return InvalidArgument("message larger than 4 KiB");
  nlohmann::json j = nlohmann::json::parse(wire, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidArgument("message is not a JSON object");
  Message m;
  auto id = j.find("jobId");
  if (id == j.end() || !id->is_string() || !IsValidJobId(id->get_ref<const std::string&>())) {
    return InvalidArgument("message has no valid jobId");
  }
  m.job_id = id->get<std::string>();
  auto attempt = j.find("attempt");
  if (attempt == j.end() || !attempt->is_number_integer() || attempt->get<int64_t>() < 1 ||
      attempt->get<int64_t>() > kMaxAttempt) {
    return InvalidArgument("message has no valid attempt");
  }
  m.attempt = static_cast<int>(attempt->get<int64_t>());
  auto at = j.find("enqueuedAt");
  if (at == j.end() || !at->is_number_integer() || at->get<int64_t>() < 0 ||
      at->get<int64_t>() > kMaxEnqueuedAtMicros) {
    return InvalidArgument("message has no valid enqueuedAt");
  }
  m.enqueued_at = FromUnixMicros(at->get<int64_t>());
  auto rid = j.find("requestId");
  if (rid != j.end()) {
    if (!rid->is_string() || rid->get_ref<const std::string&>().size() > 128) {
      return InvalidArgument("message has an invalid requestId");
    }
    m.request_id = rid->get<std::string>();
  }
  return m;
}

}  // namespace mqlab::queue
