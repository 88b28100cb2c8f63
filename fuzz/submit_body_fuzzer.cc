// The JSON body of POST /mem/ocr/jobs ({"inputPath": "…"}), through the router and the API
// handler to the JSON decoding, the data-folder confinement and JobService::Submit. Properties:
// the answer is 202 or a 400 naming the problem (bad_json, missing_field, invalid_input_path),
// never a 5xx; an accepted job can be read back with GET and has a path inside the data folder.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "harness.h"
#include "mqlab/domain/job.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mqlab;
  fuzz::ApiHarness& api = fuzz::Harness();
  http::Request req{http::Verb::post, "/mem/ocr/jobs", 11};
  req.set(http::Field::content_type, "application/json");
  req.body().assign(reinterpret_cast<const char*>(data), size);
  req.prepare_payload();
  http::Response res = api.Call(std::move(req));
  const std::string error = fuzz::CheckResponse(res);
  const unsigned code = res.result_int();
  if (code != 202) {
    MQLAB_FUZZ_CHECK(code == 400 && (error == "bad_json" || error == "missing_field" ||
                                     error == "invalid_input_path"),
                     "%u %s for body %s", code, res.body().c_str(),
                     fuzz::Printable({reinterpret_cast<const char*>(data), size}).c_str());
    return 0;
  }
  auto body = nlohmann::json::parse(res.body());
  const std::string id = body.value("jobId", "");
  MQLAB_FUZZ_CHECK(IsValidJobId(id), "202 without a job id: %s", res.body().c_str());
  const std::string path = body.value("inputPath", "");
  bool inside = !path.empty() && path[0] != '/';
  for (const auto& part : std::filesystem::path(path)) inside = inside && part != "..";
  MQLAB_FUZZ_CHECK(inside, "accepted a path outside the data folder: %s",
                   fuzz::Printable(path).c_str());
  http::Response got = api.Call(http::Request{http::Verb::get, "/mem/ocr/jobs/" + id, 11});
  MQLAB_FUZZ_CHECK(got.result_int() == 200, "accepted job %s not found: %s", id.c_str(),
                   got.body().c_str());
  api.DrainQueue();
  return 0;
}
