// Job ids as a client sends them: GET /mem/ocr/jobs/{id} with arbitrary bytes as {id}, through
// the router and the API handler to JobService::Get and the store. Properties: an id accepted by
// IsValidJobId is looked up (200 for the job the harness stored, whatever the hex digits' case,
// else 404 not_found), any other id is refused with 400 bad_job_id before the store sees it;
// never a 5xx.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "harness.h"
#include "mqlab/domain/job.h"

namespace {

using namespace mqlab;

http::Request Get(std::string_view id) {
  http::Request req{http::Verb::get, "/mem/ocr/jobs/" + std::string(id), 11};
  return req;
}

const std::string& KnownId() {
  static const std::string id = [] {
    http::Request req{http::Verb::post, "/mem/ocr/jobs", 11};
    req.set(http::Field::content_type, "application/json");
    req.body() = R"({"inputPath":"scan.png"})";
    req.prepare_payload();
    http::Response res = fuzz::Harness().Call(std::move(req));
    MQLAB_FUZZ_CHECK(res.result_int() == 202, "the harness cannot submit a job: %s",
                     res.body().c_str());
    return nlohmann::json::parse(res.body())["jobId"].get<std::string>();
  }();
  return id;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view id(reinterpret_cast<const char*>(data), size);
  const std::string& known = KnownId();
  // A segment is what the router captures: no '/', no query, not empty (other targets are the
  // router's 404, covered by the http_request fuzzer).
  if (id.empty() || id.find_first_of("/?#") != std::string_view::npos) return 0;
  http::Response res = fuzz::Harness().Call(Get(id));
  const std::string error = fuzz::CheckResponse(res);
  const unsigned code = res.result_int();
  if (!IsValidJobId(id)) {
    MQLAB_FUZZ_CHECK(code == 400 && error == "bad_job_id", "id %s: %u %s",
                     fuzz::Printable(id).c_str(), code, res.body().c_str());
  } else if (Lower(id) == known) {
    MQLAB_FUZZ_CHECK(code == 200, "the stored job's id %s: %u", fuzz::Printable(id).c_str(), code);
    MQLAB_FUZZ_CHECK(nlohmann::json::parse(res.body()).value("id", "") == known,
                     "another job: %s", res.body().c_str());
  } else {
    MQLAB_FUZZ_CHECK(code == 404 && error == "not_found", "id %s: %u %s",
                     fuzz::Printable(id).c_str(), code, res.body().c_str());
  }
  return 0;
}
