// queue::DecodeMessage: the payload every broker backend (Redis stream field, RabbitMQ body,
// Kafka value) hands the worker, written by anybody with access to the broker. Properties: it
// never crashes or trips a sanitizer; what it accepts has a valid job id and attempt; and
// decoding the re-encoded message gives the same message back (the worker re-encodes on retry).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "harness.h"
#include "mqlab/domain/job.h"
#include "mqlab/queue/job_queue.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mqlab;
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  auto m = queue::DecodeMessage(wire);
  if (!m) {
    MQLAB_FUZZ_CHECK(!m.error().message.empty(), "a rejection without a reason");
    return 0;
  }
  MQLAB_FUZZ_CHECK(IsValidJobId(m->job_id), "accepted job id %s",
                   fuzz::Printable(m->job_id).c_str());
  MQLAB_FUZZ_CHECK(m->attempt >= 1, "accepted attempt %d", m->attempt);
  const std::string again = queue::EncodeMessage(*m);
  auto back = queue::DecodeMessage(again);
  MQLAB_FUZZ_CHECK(back.has_value(), "re-encoded message rejected: %s (%s)", again.c_str(),
                   back ? "" : back.error().message.c_str());
  MQLAB_FUZZ_CHECK(back->job_id == m->job_id && back->attempt == m->attempt &&
                       back->enqueued_at == m->enqueued_at && back->request_id == m->request_id,
                   "round trip changed the message: %s", again.c_str());
  return 0;
}
